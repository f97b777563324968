"""Sequence matching with Elasticsearch's state machine, one event at a time.

For each join key there is at most one pending partial match per stage; an event matching
stage k takes the pending partial of stage k-1 (and a newer partial of a stage replaces the
older one). Stages are tried from the last to the first for each event, so one event never
fills two stages of the same sequence. `maxspan` bounds the whole sequence (a span equal to
it is allowed), an `until` event kills the pending partials of its key, and missing-event
stages (`![...]`) are checked when the positive stages are complete, as Elasticsearch does.

Memory is bounded: partials older than `maxspan` are dropped; without `maxspan` each key
holds at most (stages - 1) partials and at most `max_keys` keys are kept (least recently
used keys are evicted first).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from quarantine.eql.held_events import hold, release
from quarantine.eql.stages import CompiledStage, Result, absent_key_guard

Event = Mapping[str, Any]
DEFAULT_MAX_KEYS = 100_000


class Unread(enum.Enum):
    """`feed`'s default timestamp: not given, the matcher reads the event's own."""

    TIMESTAMP = 0


UNREAD = Unread.TIMESTAMP
_SWEEP_EVERY = 4096


class _Partial(NamedTuple):
    """A partial match: its events so far (as `held_events` keeps them, but for a completing
    event), their timestamps and arrival ordinals. Tuples of tuples of untracked values,
    which the garbage collector stops visiting once it has seen them."""

    events: tuple[Any, ...]
    timestamps: tuple[int, ...]
    ordinals: tuple[int, ...]


@dataclass(slots=True)
class _AwaitingTrailing:
    """A complete match whose trailing missing stage is not decided yet."""

    result: Result
    key: tuple[Any, ...]
    first_ts: int
    last_ordinal: int
    leading_ts: int | None  # latest leading missing event, when there are leading stages
    has_leading: bool


@dataclass(slots=True)
class _SeenMissing:
    timestamps: list[int] = field(default_factory=list)
    ordinals: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SequencePlan:
    stages: tuple[CompiledStage, ...]
    until: CompiledStage | None
    maxspan_ns: int | None


class SequenceMatcher:
    """Feeds events in order and returns the sequences each one completes."""

    def __init__(
        self,
        plan: SequencePlan,
        *,
        category_field: str,
        read_timestamp: Callable[[Event], int | None],
        max_keys: int = DEFAULT_MAX_KEYS,
    ) -> None:
        self.plan = plan
        self.read_timestamp = read_timestamp
        self.max_keys = max_keys
        self.maxspan = plan.maxspan_ns
        positions = [i for i, stage in enumerate(plan.stages) if not stage.missing]
        self.positive_positions = positions
        self.positives = [plan.stages[i] for i in positions]
        first, last = positions[0], positions[-1]
        self.leading = [i for i in range(first)]
        self.trailing = [i for i in range(last + 1, len(plan.stages))]
        # (missing stage index, index of the positive before it) for in-between stages.
        self.between = [
            (i, sum(1 for p in positions if p < i) - 1)
            for i in range(first + 1, last)
            if plan.stages[i].missing
        ]
        self.missing_indices = [i for i, stage in enumerate(plan.stages) if stage.missing]
        self.simple = not self.missing_indices and plan.until is None
        # Each stage's filter as one generated call (category and condition), by position.
        self.stage_matches = [stage.filter.matcher(category_field) for stage in plan.stages]
        self.positive_matches = [self.stage_matches[i] for i in positions]
        # The first stage's test, public for a caller that opens partials itself
        # (`open_first_stage`).
        self.first_matches = self.positive_matches[0]
        self._first_keys = self.positives[0].keys
        self.until_matches = plan.until.filter.matcher(category_field) if plan.until else None
        self.partials: dict[tuple[Any, ...], list[_Partial | None]] = {}
        self.seen_missing: dict[tuple[int, tuple[Any, ...]], _SeenMissing] = {}
        self.awaiting: list[_AwaitingTrailing] = []
        # Pending partials per slot (slot k waits for positive stage k + 1), kept in step
        # with `partials` so that feed() can skip stages nothing waits for.
        self.pending = [0] * max(len(self.positives) - 1, 1)
        self.pending_total = 0
        self.ordinal = 0
        self.now = 0
        # Without `by` keys per stage, an event's join keys are the same at every stage.
        self.shared_keys = not any(stage.own_keys for stage in self.positives)
        # A simple sequence's may_take() remembers what it found for the event it was asked
        # about, as feed() is usually asked next about the same event.
        self._examined: Event | None = None
        self._examined_found: list[tuple[int, list[tuple[Any, ...]]]] = []
        # `may_take` of a simple sequence for an event its first stage cannot take (the
        # detector knows from its index). Most such events continue no partial: with shared
        # keys, one lookup of the event's key among the partials refuses them.
        self.may_take_later: Callable[[Event], bool] = self._may_take_later
        if self.simple and self.shared_keys and len(self.positives) > 1:
            guarded = absent_key_guard(self.positives[1], self.partials, self._may_take_later)
            self.may_take_later = guarded or self._may_take_later
        # `feed` for this sequence's kind, chosen once: callers on a hot path use it directly.
        # Whether a first-stage event opens a partial (rather than completing a one-stage
        # sequence at once).
        self.opens_partials = len(self.positives) > 1
        self.feeder: Callable[[Event, int | Unread | None, bytes | None], list[Result]] = (
            self._feed_simple if self.simple else self._feed_general
        )

    # --- public --------------------------------------------------------------------------

    def feed(
        self, event: Event, timestamp: int | Unread | None = UNREAD, text: bytes | None = None
    ) -> list[Result]:
        """The sequences `event` completes. `timestamp`, when given, must be what
        `read_timestamp(event)` gives (a caller that has read it already passes it on).
        `text`, when given, must be JSON text that decodes to `event` (the line it came in
        as): a partial then holds it instead of serialising the event again."""
        return self.feeder(event, timestamp, text)

    def _feed_general(
        self, event: Event, timestamp: int | Unread | None, text: bytes | None = None
    ) -> list[Result]:
        """`feed` for a sequence with missing-event stages or `until`."""
        # Most events match no stage, so the stages are tried first and the timestamp is
        # read only when the event matters (or a match waits on a trailing missing stage).
        if not self.idle:
            matched = self._matched_positives(event)
            missing = [i for i in self.missing_indices if self.stage_matches[i](event)]
            if not (matched or missing or self.awaiting or self._kills(event)):
                return []
        else:
            # Nothing is waiting (the usual state): only the first stage can matter.
            if not self.positive_matches[0](event):
                return []
            matched, missing = [(0, self.positives[0].keys(event))], []
        if timestamp is UNREAD:
            timestamp = self.read_timestamp(event)
        if timestamp is None:
            return []  # an event without a timestamp has no place in a sequence
        self.ordinal += 1
        self.now = max(self.now, timestamp)
        out = self._decide_awaiting(event, timestamp) if self.awaiting else []
        self._record_missing(missing, event, timestamp)
        for stage_index, keys in matched:
            if stage_index == 0 and self.opens_partials:
                self._open_first(keys, event, timestamp, text)
                continue
            for key in keys:
                completed = self._advance(stage_index, key, event, timestamp, text)
                if completed is not None:
                    out.extend(self._complete(completed, key))
        until = self.plan.until
        if until is not None and self._kills(event):
            # Kills every pending partial of its key, including one this very event just
            # advanced; a sequence it completed has already been emitted.
            for key in until.keys(event):
                self._kill(key)
        if self.ordinal % _SWEEP_EVERY == 0:
            self._sweep()
        return out

    def _feed_simple(
        self, event: Event, timestamp: int | Unread | None, text: bytes | None = None
    ) -> list[Result]:
        """`feed` for a sequence without missing-event stages or `until` (most rules): the
        same steps, without the ones that cannot apply."""
        if event is self._examined:
            matched = self._examined_found
            self._examined = None
        else:
            matched = self._matched_positives(event)
        if not matched:
            return []
        if timestamp is UNREAD:
            timestamp = self.read_timestamp(event)
        if timestamp is None:
            return []  # an event without a timestamp has no place in a sequence
        self.ordinal += 1
        if timestamp > self.now:
            self.now = timestamp
        out: list[Result] = []
        for stage_index, keys in matched:
            if stage_index == 0 and self.opens_partials:
                self._open_first(keys, event, timestamp, text)  # the usual event taken
                continue
            for key in keys:
                completed = self._advance(stage_index, key, event, timestamp, text)
                if completed is not None:
                    out.extend(self._complete(completed, key))
        if self.ordinal % _SWEEP_EVERY == 0:
            self._sweep()
        return out

    def may_take(self, event: Event) -> bool:
        """Whether feeding `event` could change anything (feed() returns nothing and keeps
        its state otherwise): the same tests feed() starts with, without reading the
        timestamp. A caller may skip feeding an event this refuses."""
        if self.simple:
            return self._examine(event, True, True)
        positive_matches = self.positive_matches
        if not (self.pending_total or self.awaiting or self.missing_indices):  # idle
            return positive_matches[0](event)
        if self.awaiting:
            return True
        if positive_matches[0](event):  # a new partial (the cheaper test first)
            return True
        pending = self.pending
        partials = self.partials
        for index in range(len(positive_matches) - 1, 0, -1):
            # A later stage matters only with a partial waiting under the event's key (read
            # first: usually cheaper than the condition, and usually absent).
            if not pending[index - 1]:
                continue
            for key in self.positives[index].keys(event):
                slots = partials.get(key)
                if slots is not None and slots[index - 1] is not None:
                    if positive_matches[index](event):
                        return True
                    break
        for missing in self.missing_indices:
            if self.stage_matches[missing](event):
                return True
        return self._kills(event)

    # For a simple sequence, when the caller knows (the index told it) that no later stage
    # can take the event, or that the first stage cannot: `may_take` without those tests.

    def may_take_first(self, event: Event) -> bool:
        """`may_take` of a simple sequence for an event no later stage can take: what
        `_matched_positives(event, True, False)` finds, without its loop over later stages."""
        if self.first_matches(event):
            self._examined, self._examined_found = event, [(0, self._first_keys(event))]
            return True
        self._examined, self._examined_found = event, []
        return False

    def open_first_stage(self, event: Event, timestamp: int, text: bytes | None) -> None:
        """`feed` for an event that only the first stage of a simple sequence of several
        stages takes (the caller tested `first_matches` and read the timestamp): it opens its
        partial. Without the tests and the general loop, as most events a sequence is fed
        are such."""
        self.ordinal += 1
        if timestamp > self.now:
            self.now = timestamp
        self._open_first(self._first_keys(event), event, timestamp, text)
        if self.ordinal % _SWEEP_EVERY == 0:
            self._sweep()

    def _may_take_later(self, event: Event) -> bool:
        return self._examine(event, False, True)

    def _examine(self, event: Event, first: bool, later: bool) -> bool:
        """A simple sequence's `may_take`, remembering what it found for `feed`."""
        found = self._matched_positives(event, first, later)
        self._examined, self._examined_found = event, found
        return bool(found)

    def _matched_positives(
        self, event: Event, first: bool = True, later: bool = True
    ) -> list[tuple[int, list[tuple[Any, ...]]]]:
        """The positive stages `event` matches with its join keys there, last stage first
        (so one event never fills two stages of one sequence).

        A later stage can only advance a partial waiting for it under the same key, so its
        keys are looked up first and its condition is evaluated only when one is waiting."""
        found: list[tuple[int, list[tuple[Any, ...]]]] = []
        shared: list[tuple[Any, ...]] | None = None  # the event's keys, when all stages share them
        if later and self.pending_total:
            pending, partials = self.pending, self.partials
            for index in range(len(self.positives) - 1, 0, -1):
                if not pending[index - 1]:
                    continue
                if shared is None:
                    keys = self.positives[index].keys(event)
                    if self.shared_keys:
                        shared = keys
                else:
                    keys = shared
                waiting = []
                for key in keys:
                    slots = partials.get(key)
                    if slots is not None and slots[index - 1] is not None:
                        waiting.append(key)
                if waiting and self.positive_matches[index](event):
                    found.append((index, waiting))
        if first and self.positive_matches[0](event):
            found.append((0, shared if shared is not None else self.positives[0].keys(event)))
        return found

    def _kills(self, event: Event) -> bool:
        """Whether `event` is an `until` event with partials left to kill."""
        until = self.until_matches
        return until is not None and self.pending_total > 0 and until(event)

    def flush(self) -> list[Result]:
        """End of stream: matches still waiting on a trailing missing stage are confirmed."""
        out = [awaiting.result for awaiting in self.awaiting]
        self.awaiting = []
        return out

    @property
    def idle(self) -> bool:
        """Whether only the first positive stage can matter to the next event: no partial is
        pending, no match awaits a trailing stage, and there are no missing-event stages."""
        return not (self.pending_total or self.awaiting or self.missing_indices)

    def pending_count(self) -> int:
        return self.pending_total

    # --- matching ------------------------------------------------------------------------

    def _slots(self, key: tuple[Any, ...]) -> list[_Partial | None]:
        slots = self.partials.pop(key, None)
        if slots is None:
            slots = [None] * len(self.pending)
            if len(self.partials) >= self.max_keys:
                self._kill(next(iter(self.partials)))
        self.partials[key] = slots  # re-inserted: most recently used last
        return slots

    def _advance(
        self,
        stage_index: int,
        key: tuple[Any, ...],
        event: Event,
        timestamp: int,
        text: bytes | None = None,
    ) -> _Partial | None:
        last_stage = len(self.positives) - 1
        if stage_index == 0:  # a one-stage sequence (`_open_first` opens the others)
            return _Partial((event,), (timestamp,), (self.ordinal,))
        if key not in self.partials:
            return None
        slots = self._slots(key)
        previous = slots[stage_index - 1]
        if previous is None:
            return None
        self._fill(slots, stage_index - 1, None)
        if self.maxspan is not None and timestamp - previous.timestamps[0] > self.maxspan:
            return None
        timestamps = (*previous.timestamps, timestamp)
        ordinals = (*previous.ordinals, self.ordinal)
        if stage_index == last_stage:
            return _Partial((*previous.events, event), timestamps, ordinals)
        self._fill(
            slots,
            stage_index,
            _Partial(
                (*previous.events, hold(event) if text is None else text), timestamps, ordinals
            ),
        )
        return None

    def _open_first(
        self, keys: list[tuple[Any, ...]], event: Event, timestamp: int, text: bytes | None
    ) -> None:
        """A first-stage event of a longer sequence: one partial (immutable, so shared) filed
        under each of its join keys, replacing an older one there, holding the event once.
        (`_slots` and `_fill` in one step, as every event a first stage takes comes here.)"""
        opened = _Partial((hold(event) if text is None else text,), (timestamp,), (self.ordinal,))
        partials = self.partials
        for key in keys:
            slots = partials.pop(key, None)
            if slots is None:
                if len(partials) >= self.max_keys:
                    self._kill(next(iter(partials)))
                slots = [None] * len(self.pending)
            if slots[0] is None:
                self.pending[0] += 1
                self.pending_total += 1
            slots[0] = opened
            partials[key] = slots  # (re-)inserted: most recently used last

    def _fill(self, slots: list[_Partial | None], index: int, partial: _Partial | None) -> None:
        """Set one slot, keeping the pending counts right."""
        change = (partial is not None) - (slots[index] is not None)
        slots[index] = partial
        self.pending[index] += change
        self.pending_total += change

    def _kill(self, key: tuple[Any, ...]) -> None:
        slots = self.partials.pop(key, None)
        for index, partial in enumerate(slots or ()):
            if partial is not None:
                self.pending[index] -= 1
                self.pending_total -= 1

    # --- missing events ------------------------------------------------------------------

    def _record_missing(self, matched: list[int], event: Event, timestamp: int) -> None:
        """Remember `event` under the missing-event stages it matched."""
        for index in matched:
            for key in self.plan.stages[index].keys(event):
                seen = self.seen_missing.get((index, key))
                if seen is None:
                    seen = self.seen_missing[(index, key)] = _SeenMissing()
                seen.timestamps.append(timestamp)
                seen.ordinals.append(self.ordinal)

    def _complete(self, partial: _Partial, key: tuple[Any, ...]) -> list[Result]:
        events: list[Any] = [None] * len(self.plan.stages)
        for position, event in zip(self.positive_positions, partial.events, strict=True):
            events[position] = release(event)
        result = Result(events, key, self.ordinal)
        if not self.missing_indices:
            return [result]
        for index, before in self.between:
            low, high = partial.timestamps[before], partial.timestamps[before + 1]
            seen = self.seen_missing.get((index, key))
            if seen and any(low < ts < high for ts in seen.timestamps):
                return []
        assert self.maxspan is not None
        leading_ts: int | None = None
        for index in self.leading:
            latest = self._latest_before(index, key, partial.ordinals[0])
            if latest is not None and (leading_ts is None or latest > leading_ts):
                leading_ts = latest
        if not self.trailing:
            if leading_ts is not None and partial.timestamps[-1] - leading_ts <= self.maxspan:
                return []
            return [result]
        if self.leading and leading_ts is None:
            return [result]  # leading and trailing: drops only when both events exist
        self.awaiting.append(
            _AwaitingTrailing(
                result,
                key,
                partial.timestamps[0],
                partial.ordinals[-1],
                leading_ts,
                bool(self.leading),
            )
        )
        return []

    def _latest_before(self, index: int, key: tuple[Any, ...], ordinal: int) -> int | None:
        seen = self.seen_missing.get((index, key))
        if not seen:
            return None
        latest: int | None = None
        for ts, seen_ordinal in zip(seen.timestamps, seen.ordinals, strict=True):
            if seen_ordinal < ordinal:
                latest = ts if latest is None else max(latest, ts)
        return latest

    def _decide_awaiting(self, event: Event, timestamp: int) -> list[Result]:
        assert self.maxspan is not None
        trailing_keys: set[tuple[Any, ...]] = set()
        for index in self.trailing:
            if self.stage_matches[index](event):
                trailing_keys.update(self.plan.stages[index].keys(event))
        released: list[Result] = []
        still: list[_AwaitingTrailing] = []
        for awaiting in self.awaiting:
            anchor = awaiting.leading_ts if awaiting.has_leading else awaiting.first_ts
            assert anchor is not None
            if awaiting.key in trailing_keys:
                # The earliest trailing event decides: too close to the anchor drops the match.
                if timestamp - anchor > self.maxspan:
                    released.append(awaiting.result)
            elif timestamp - anchor > self.maxspan:
                released.append(awaiting.result)
            else:
                still.append(awaiting)
        self.awaiting = still
        return released

    # --- bounded state -------------------------------------------------------------------

    def _sweep(self) -> None:
        if self.maxspan is None:
            return
        horizon = self.now - self.maxspan
        # Thousands of partials may wait (one per `curl`, for one Elastic rule): the counts
        # are kept by hand here rather than with a `_fill` call per partial.
        partials, pending = self.partials, self.pending
        for key, slots in list(partials.items()):
            alive = False
            for index, partial in enumerate(slots):
                if partial is None:
                    continue
                if partial.timestamps[0] < horizon:
                    slots[index] = None
                    pending[index] -= 1
                else:
                    alive = True
            if not alive:
                del partials[key]
        self.pending_total = sum(pending)
        for seen_key in list(self.seen_missing):
            seen = self.seen_missing[seen_key]
            keep = [i for i, ts in enumerate(seen.timestamps) if ts >= horizon]
            if not keep:
                del self.seen_missing[seen_key]
            elif len(keep) < len(seen.timestamps):
                seen.timestamps = [seen.timestamps[i] for i in keep]
                seen.ordinals = [seen.ordinals[i] for i in keep]
