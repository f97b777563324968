"""The one thread that owns the detector: normalises and evaluates events, swaps rule sets.

Detection state (caps, suppression, sequences) is not thread-safe, and evaluation is CPU work
that should not stall the HTTP loop; a single worker thread gives both.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from quarantine.detect import AlertDraft, Detector, RuleSet
from quarantine.events import BoundNormaliser, FormatChoice, bound_normaliser
from quarantine.ingest.ndjson import LineDecodeError, RawLine, decode_object

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LineVerdict:
    """What one event line led to: drafts, nothing (ignored), or an error."""

    drafts: Sequence[AlertDraft] = ()
    ignored: bool = False
    error: str | None = None
    reason: str = "invalid_event"
    """Why the line was refused: `invalid_json`, `invalid_event`, or `internal` (ours, not
    the sender's)."""

    @property
    def internal(self) -> bool:
        return self.reason == "internal"


# The usual answers, shared (a verdict is immutable): most lines alert nothing.
_NOTHING_DRAFTED = LineVerdict()
_IGNORED = LineVerdict(ignored=True)


class DetectionLane:
    def __init__(self, detector: Detector) -> None:
        self._detector = detector
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="detection")

    async def evaluate(
        self, lines: Sequence[RawLine], event_format: FormatChoice
    ) -> list[LineVerdict]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._evaluate, lines, event_format)

    def replace_rules(self, ruleset: RuleSet) -> None:
        """Swap the rule set between batches; callable from any thread, returns once done."""
        self._executor.submit(self._detector.replace_rules, ruleset).result()

    def close(self) -> None:
        self._executor.shutdown(wait=True)

    def _evaluate(self, lines: Sequence[RawLine], event_format: FormatChoice) -> list[LineVerdict]:
        # Resolved once per batch (the ECS one is generated from the layouts seen so far).
        normaliser = bound_normaliser(event_format, self._detector.field_reads)
        return [self._evaluate_one(line, event_format, normaliser) for line in lines]

    def _evaluate_one(
        self, raw: RawLine, event_format: FormatChoice, normaliser: BoundNormaliser
    ) -> LineVerdict:
        # Decoded here, then normalised and evaluated at once, while the event is still in the
        # CPU caches (decoding a whole batch first made each event cost half as much again).
        try:
            document = decode_object(raw.text)
        except LineDecodeError as error:
            return LineVerdict(error=str(error), reason="invalid_json")
        try:
            event = normaliser(document, raw.text)
        except ValueError as error:
            kind = "event" if event_format == "auto" else f"{event_format} event"
            return LineVerdict(error=f"not a valid {kind}: {error}")
        if event is None:
            return _IGNORED
        try:
            # An event left as decoded is held by waiting sequences as the line it came in as.
            drafts = self._detector.process(event, raw.text if event is document else None)
            return LineVerdict(drafts=drafts) if drafts else _NOTHING_DRAFTED
        except Exception:
            log.exception("evaluating an event failed")
            return LineVerdict(
                error="internal error while evaluating this event", reason="internal"
            )
