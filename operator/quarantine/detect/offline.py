"""Offline evaluation: rules over a recording, with the recording's own clock."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from quarantine.detect.detector import Detector
from quarantine.detect.draft import AlertDraft
from quarantine.detect.rule import ExceptionSyntaxError
from quarantine.detect.rule_files import RuleFileError, RuleSource
from quarantine.detect.ruleset import RuleSet
from quarantine.events import (
    EventFileError,
    EventFormatError,
    FormatChoice,
    RecordedEvent,
    get_field,
    normaliser_for,
)


@dataclass(frozen=True)
class OfflineAlert:
    """One alert draft and the ids of the recorded events behind it."""

    draft: AlertDraft
    event_ids: list[str | int]


@dataclass
class OfflineRun:
    """What a replay produced."""

    detector: Detector
    alerts: list[OfflineAlert] = field(default_factory=list)
    events_evaluated: int = 0


def compile_sources(sources: Sequence[RuleSource]) -> RuleSet:
    """The rule set of `sources`; a rule that does not compile is a RuleFileError naming its
    file, the field (spec.query or spec.exceptions[i].condition), line and column."""
    ruleset = RuleSet.from_rules(source.rule for source in sources)
    for source in sources:
        error = ruleset.errors.get(source.rule.metadata.name or "")
        if error is None:
            continue
        place = (
            f"spec.exceptions[{error.index}].condition"
            if isinstance(error, ExceptionSyntaxError)
            else "spec.query"
        )
        raise RuleFileError(
            f"{source.where}: rule {source.rule.metadata.name}: {place} line {error.line}, "
            f"column {error.column}: {error.message}"
        )
    return ruleset


def normalise_recording(
    recorded: Sequence[RecordedEvent], fmt: FormatChoice, *, source: str
) -> list[tuple[RecordedEvent, dict[str, Any]]]:
    """The recorded events the rules care about, normalised; a bad one is an EventFileError
    naming its line."""
    normaliser = normaliser_for(fmt)
    kept = []
    for record in recorded:
        try:
            event = normaliser(record.document)
        except EventFormatError as error:
            raise EventFileError(source, record.line, str(error)) from error
        if event is not None:
            kept.append((record, event))
    return kept


def replay(ruleset: RuleSet, events: Sequence[tuple[RecordedEvent, dict[str, Any]]]) -> OfflineRun:
    """Evaluate `ruleset` over `events` in order. "Now" is the latest event time seen, so the
    look-back and the caps follow the recording, never the wall clock."""
    detector = Detector(ruleset, event_time_clock=True)
    ids = {id(event): _event_id(event, record.position) for record, event in events}
    run = OfflineRun(detector=detector)
    for _record, event in events:
        run.events_evaluated += 1
        for draft in detector.process(event):
            run.alerts.append(_with_ids(draft, ids))
    for draft in detector.flush():
        run.alerts.append(_with_ids(draft, ids))
    return run


def _with_ids(draft: AlertDraft, ids: dict[int, str | int]) -> OfflineAlert:
    return OfflineAlert(
        draft=draft,
        event_ids=[ids[id(event)] for event in draft.source_events if id(event) in ids],
    )


def _event_id(event: dict[str, Any], position: int) -> str | int:
    value = get_field(event, "event.id")
    return value if isinstance(value, str) and value else position
