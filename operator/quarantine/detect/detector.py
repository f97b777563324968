"""The detector: events in, alert drafts out, applying every rule's streaming semantics.

Per event: the index picks the candidate rules, and each candidate's query runs first (one
generated call; a sequence whose partials all lie idle only asks whether its first stage takes
the event). Most events stop there. Only an event a rule takes is checked against the rule's
look-back and namespace scope, then its exceptions; a sequence is fed; each match becomes a
draft named by its suppression group and window, unless the rule's cap for the current
interval is full. A rule that raises is counted and logged once; the others go on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from quarantine.detect.caps import AlertCap
from quarantine.detect.counters import RuleCounters
from quarantine.detect.draft import AlertDraft
from quarantine.detect.event_time import DEFAULT_TIMESTAMP_FIELD, EventTimes, time_field_getter
from quarantine.detect.rule import CompiledRule
from quarantine.detect.ruleset import RuleSet
from quarantine.detect.suppression import alert_name, suppression_key
from quarantine.detect.target import TargetHint, target_hint
from quarantine.detect.trim import trim_event
from quarantine.eql import QueryStream
from quarantine.eql.sequence import SequenceMatcher
from quarantine.eql.values import utc_iso_nanos
from quarantine.events.expansion import expand_dotted
from quarantine.events.field_reads import FieldReads
from quarantine.events.fields import get_field, split_path
from quarantine.events.timestamps import to_datetime

logger = logging.getLogger(__name__)

CATEGORY_FIELD = "event.category"
NAMESPACE_FIELD = "orchestrator.namespace"  # read for `scope.namespaces`
_UNREAD = object()  # a field not read yet (None would mean absent)
# Candidate masks remembered with their rule states; beyond this the memory starts over.
_MASK_MEMO_LIMIT = 8192
_NANOS_PER_SECOND = 1_000_000_000
EventTest = Callable[[dict[str, Any]], bool]
# A candidate with its test for the events of one mask; None for a gated sequence whose first
# stage alone can take them, which the detector opens itself (`Detector._opened_first_stage`).
Candidate = tuple["_RuleState", EventTest | None]


@dataclass
class _RuleState:
    """What the detector remembers per rule between events."""

    rule: CompiledRule
    cap: AlertCap
    counters: RuleCounters = field(default_factory=RuleCounters)
    stream: QueryStream | None = None
    failure_logged: bool = False
    takes: EventTest = field(init=False)
    """Whether the rule takes the event: an event rule's query; a gated sequence's
    `may_take` (its first stage while nothing waits); always for other sequences and samples."""
    sequence_like: bool = field(init=False)
    gated: bool = field(init=False)
    bits: int = 0
    """The rule's bits in candidate masks (two for a gated sequence)."""
    later_bit: int = 0
    """A gated sequence's bit for its later stages (kept while its stream waits)."""
    gated_matcher: SequenceMatcher | None = None
    """A gated sequence's matcher, once its stream exists (None for other rules)."""
    time_getter: Callable[[dict[str, Any]], Any] = field(init=False)
    """The raw value of the field the rule's sequence orders events by."""

    def __post_init__(self) -> None:
        self.use_rule(self.rule)

    def use_rule(self, rule: CompiledRule) -> None:
        self.rule = rule
        self.sequence_like = rule.is_sequence_like
        self.gated = rule.is_gated_sequence
        self.time_getter = time_field_getter(rule.timestamp_field)
        if not self.sequence_like:
            self.takes = rule.query.matcher(CATEGORY_FIELD)
        elif not self.gated:
            self.takes = _always
        elif self.stream is not None:
            self.takes = _stream_test(self.stream)
        else:
            self.takes = rule.query.first_stage_matcher(CATEGORY_FIELD)


class Detector:
    """Evaluates a RuleSet over a stream of canonical ECS events (or events whose dotted keys
    all lie outside `field_reads`, which read the same; drafts show them expanded).

    `clock` gives the current time in epoch seconds (injectable for tests). With
    `event_time_clock=True` (offline replays) "now" is instead the latest event time seen, so
    the look-back and the caps act on the recording's own timeline, not on the wall clock.
    """

    def __init__(
        self,
        ruleset: RuleSet,
        *,
        clock: Callable[[], float] = time.time,
        event_time_clock: bool = False,
    ) -> None:
        self._clock = clock
        self._event_time_clock = event_time_clock
        self._latest_event_time: float | None = None
        self._ruleset = RuleSet.empty()
        self._states: dict[str, _RuleState] = {}
        self._by_mask: dict[int, tuple[Candidate, ...]] = {}
        # Events per candidate mask, folded into the rules' `evaluated` counters when read:
        # one dict update per event instead of one counter update per candidate.
        self._mask_counts: dict[int, int] = {}
        # Candidate bits that count: every rule's own bit, and the later-stage bits of the
        # gated sequences whose streams wait for more than their first stage.
        self._admitted = 0
        self._state_by_bit: tuple[_RuleState, ...] = ()
        self.replace_rules(ruleset)

    @property
    def ruleset(self) -> RuleSet:
        return self._ruleset

    @property
    def field_reads(self) -> FieldReads:
        """Every field the detector reads before it drafts an alert (queries, join keys,
        exceptions, timestamps, categories, the namespace for scope): a normaliser may leave
        dotted keys outside them unexpanded (drafts expand their events)."""
        return self._field_reads

    def replace_rules(self, ruleset: RuleSet) -> None:
        """Switch to `ruleset`. A rule whose detection settings did not change keeps its
        state (cap, sequence stream); a changed rule starts afresh but keeps its counters."""
        self._fold_mask_counts()
        states: dict[str, _RuleState] = {}
        for rule in ruleset.rules:
            old = self._states.get(rule.name)
            if old is not None and old.rule.fingerprint == rule.fingerprint:
                old.use_rule(rule)
                states[rule.name] = old
                continue
            counters = old.counters if old is not None else RuleCounters()
            states[rule.name] = _RuleState(
                rule=rule,
                cap=AlertCap(rule.max_signals, rule.interval_seconds),
                counters=counters,
            )
        self._ruleset = ruleset
        self._states = states
        self._field_reads = FieldReads(_fields_read(ruleset))
        index = self._index = ruleset.index
        ordered = [states[rule.name] for rule in index.rules]
        self._state_by_bit = tuple(ordered[owner] for owner in index.owners)
        self._by_mask = {}
        admitted = index.rule_bits
        for position, state in enumerate(ordered):
            state.later_bit = index.later_bits.get(position, 0)
            state.bits = 1 << position | state.later_bit
            if _waits(state):
                admitted |= state.later_bit
        self._admit(admitted)

    def counters(self, rule_name: str) -> RuleCounters:
        """A snapshot of one rule's counters (zeros for a rule not in the set)."""
        return self.all_counters().get(rule_name, RuleCounters())

    def all_counters(self) -> dict[str, RuleCounters]:
        """A snapshot of every rule's counters; safe to call from another thread (it only
        reads, and copying the dicts is atomic under the GIL)."""
        states = dict(self._states)
        pending = list(self._mask_counts.items())
        snapshot: dict[str, RuleCounters] = {}
        for name, state in states.items():
            bits = state.bits
            unfolded = sum(count for mask, count in pending if mask & bits)
            snapshot[name] = replace(state.counters, evaluated=state.counters.evaluated + unfolded)
        return snapshot

    def process(self, event: dict[str, Any], text: bytes | None = None) -> list[AlertDraft]:
        """The alert drafts `event` causes (most events cause none).

        `text`, when given, must be JSON text that decodes to `event` (the line the event came
        in as, when normalising left it as decoded): a sequence waiting with the event then
        holds that text instead of serialising the event again."""
        mask = self._candidate_mask(event)
        if not mask:
            return []
        counts = self._mask_counts
        counts[mask] = counts.get(mask, 0) + 1
        candidates = self._by_mask.get(mask)
        if candidates is None:
            candidates = self._states_of(mask)
        offline_nows = self._offline_nows(event, candidates) if self._event_time_clock else None
        taken: list[_RuleState] | None = None
        for state, takes in candidates:
            try:
                if takes is None:  # a gated sequence's first stage alone
                    if self._opened_first_stage(state, event, text):
                        continue
                    takes = _first_stage_test(state)  # an unusual event: the general way
                if not takes(event):  # most events: no rule takes them
                    continue
            except Exception as error:  # one odd rule must not stop the others
                self._record_failure(state, error)
                continue
            if taken is None:
                taken = [state]
            else:
                taken.append(state)
        return [] if taken is None else self._decide(taken, event, offline_nows, text)

    def _offline_nows(
        self, event: dict[str, Any], candidates: tuple[Candidate, ...]
    ) -> dict[str, float]:
        """Offline "now" per candidate: every candidate's event time advances the clock, as
        if each had been evaluated in turn, whether or not it takes the event."""
        times = EventTimes(event)
        return {
            state.rule.name: self._event_clock(times.for_rule(state.rule.timestamp_field))
            for state, _ in candidates
        }

    def _states_of(self, mask: int) -> tuple[Candidate, ...]:
        """The candidates of a mask, each with its test for the mask's events."""
        if len(self._by_mask) >= _MASK_MEMO_LIMIT:
            self._fold_mask_counts()
            self._by_mask = {}
        found = {
            id(state): state for bit, state in enumerate(self._state_by_bit) if mask >> bit & 1
        }
        online = not self._event_time_clock
        states = tuple((state, _test_under(state, mask, online)) for state in found.values())
        self._by_mask[mask] = states
        return states

    def _opened_first_stage(
        self, state: _RuleState, event: dict[str, Any], text: bytes | None
    ) -> bool:
        """A gated sequence's first stage, when its index bits say no later stage can take
        the event (every `curl` for one Elastic rule, 5% of a cloud_defend stream): tested,
        timed and filed as a partial here, in far fewer steps than the general path takes
        (`may_take_first`, `_decide`, `_feed`). True when that settled it (the stage refused
        the event, or it waits now); False leaves it to the general path: an event whose
        time is not plain RFC 3339 text in the rule's field, or a late one.

        Only for rules without exceptions or namespace scope, and with the wall clock
        (`_test_under`): the steps skipped then change nothing for such an event."""
        matcher = state.gated_matcher
        assert matcher is not None  # `_test_under` chose this path for its stream
        if not matcher.first_matches(event):
            return True
        # What the stream reads (`EventTimes.for_stream`), and the look-back reads alike.
        raw = state.time_getter(event)
        nanos = utc_iso_nanos(raw) if type(raw) is str else None
        if nanos is None or nanos / _NANOS_PER_SECOND < self._clock() - state.rule.lookback_seconds:
            return False
        try:
            matcher.open_first_stage(event, nanos, text)
        finally:
            if not (matcher.pending_total and self._admitted & state.later_bit):
                self._note_waiting(state)
        return True

    def _note_waiting(self, state: _RuleState) -> None:
        """After a gated sequence's stream changed: whether it waits for more."""
        if state.gated_matcher is None:
            return
        if _waits(state):
            if not self._admitted & state.later_bit:
                self._admit(self._admitted | state.later_bit)
        elif self._admitted & state.later_bit:
            self._admit(self._admitted & ~state.later_bit)

    def _admit(self, admitted: int) -> None:
        """Count these candidate bits from now on, with the index's lookup made for them."""
        self._admitted = admitted
        self._candidate_mask = self._index.lookup_for(admitted)

    def _fold_mask_counts(self) -> None:
        counts, self._mask_counts = self._mask_counts, {}
        for mask, count in counts.items():
            for state in self._states.values():
                if mask & state.bits:
                    state.counters.evaluated += count

    def _decide(
        self,
        taken: list[_RuleState],
        event: dict[str, Any],
        offline_nows: dict[str, float] | None,
        text: bytes | None = None,
    ) -> list[AlertDraft]:
        """The rules that took `event`: look-back, scope, exceptions, sequences, drafts."""
        times = EventTimes(event)
        namespace: Any = _UNREAD
        wall_clock = self._clock() if offline_nows is None else 0.0
        drafts: list[AlertDraft] = []
        for state in taken:
            rule = state.rule
            event_time = times.for_rule(rule.timestamp_field)
            now = wall_clock if offline_nows is None else offline_nows[rule.name]
            if event_time is not None and event_time < now - rule.lookback_seconds:
                state.counters.late += 1
                continue
            allowed = rule.scope.namespaces
            if allowed is not None:
                if namespace is _UNREAD:
                    namespace = get_field(event, NAMESPACE_FIELD)
                if type(namespace) is str and namespace not in allowed:
                    state.counters.out_of_scope += 1
                    continue
            try:
                if state.sequence_like:
                    matches = self._feed(state, event, times, text)
                else:
                    matches = self._matched(state, event)
            except Exception as error:  # one odd rule must not stop the others
                self._record_failure(state, error)
                continue
            for matched_events in matches:
                draft = self._draft(state, matched_events, now)
                if draft is not None:
                    drafts.append(draft)
        return drafts

    def flush(self) -> list[AlertDraft]:
        """Drafts from sequences still pending at the end of the input (offline replays)."""
        drafts: list[AlertDraft] = []
        for state in self._states.values():
            if state.stream is None:
                continue
            try:
                matches = state.stream.flush()
            except Exception as error:  # same isolation as in process()
                self._record_failure(state, error)
                continue
            finally:
                self._note_waiting(state)
            for matched_events in matches or ():
                draft = self._draft(state, _present(matched_events), self._now(None))
                if draft is not None:
                    drafts.append(draft)
        return drafts

    def _now(self, event_time: float | None) -> float:
        return self._event_clock(event_time) if self._event_time_clock else self._clock()

    def _event_clock(self, event_time: float | None) -> float:
        """The offline "now": the latest event time seen (the wall clock before any)."""
        if event_time is not None and (
            self._latest_event_time is None or event_time > self._latest_event_time
        ):
            self._latest_event_time = event_time
        return self._latest_event_time if self._latest_event_time is not None else self._clock()

    def _matched(self, state: _RuleState, event: dict[str, Any]) -> list[list[dict[str, Any]]]:
        """An event rule whose query matched: the event itself, unless an exception holds."""
        state.counters.matched += 1
        if state.rule.exceptions and _excepted(state.rule, event):
            state.counters.excepted += 1
            return []
        return [[event]]

    def _feed(
        self,
        state: _RuleState,
        event: dict[str, Any],
        times: EventTimes,
        text: bytes | None = None,
    ) -> list[list[dict[str, Any]]]:
        """A sequence (or sample) rule on one event: the sequences it completes."""
        rule = state.rule
        # Exceptions filter the events a sequence sees, as Elastic applies them as a query
        # filter before the sequence is matched.
        if rule.exceptions and _excepted(rule, event):
            state.counters.excepted += 1
            return []
        stream = state.stream
        if stream is None:
            stream = state.stream = rule.query.stream(
                category_field=CATEGORY_FIELD,
                timestamp_field=rule.timestamp_field or DEFAULT_TIMESTAMP_FIELD,
            )
            if state.gated:  # from now on the stream's own test
                state.gated_matcher = stream.matcher
                state.takes = _stream_test(stream)
                self._by_mask = {}  # the candidates' tests with it
        override = rule.timestamp_field
        fed = event
        if override and not times.has(override):  # the usual event needs no copy, nor a call
            fed = _with_rule_timestamp(event, override, times)
            text = None  # the copy is not what the text decodes to
        try:
            completed = stream.feeder(fed, times.for_stream(override), text)
        finally:
            self._note_waiting(state)
        if not completed:
            return []
        state.counters.matched += len(completed)
        return [_present(sequence) for sequence in completed]

    def _draft(
        self, state: _RuleState, events: Sequence[dict[str, Any]], now: float
    ) -> AlertDraft | None:
        if not events:
            return None
        rule = state.rule
        source_events = tuple(events)
        # The matcher may hand over events with dotted keys its rules do not read left as
        # they came (`FieldReads`); what an alert shows and is named by is canonical.
        events = [expand_dotted(item) for item in events]
        trigger = events[-1]
        target = _target_of(events)
        event_time = EventTimes(trigger).for_rule(rule.timestamp_field)
        moment = event_time if event_time is not None else now
        policy = rule.suppression
        window = policy.window_start(moment)
        key = suppression_key(rule.name, policy.group(trigger, target), window)
        name = alert_name(rule.name, key)
        # A name stays live while late events (within the look-back) can still map to it.
        expires_at = window + policy.duration_seconds + rule.lookback_seconds
        if not state.cap.admit(name, now, expires_at):
            state.counters.capped += 1
            return None
        state.counters.drafts += 1
        return AlertDraft(
            rule_name=rule.name,
            rule_id=rule.rule_id,
            severity=rule.severity,
            risk_score=rule.risk_score,
            alert_name=name,
            target=target,
            events=[trim_event(item) for item in events],
            timestamp=to_datetime(moment),
            suppression_key=key,
            source_events=source_events,
        )

    def _record_failure(self, state: _RuleState, error: Exception) -> None:
        state.counters.failed += 1
        if not state.failure_logged:
            state.failure_logged = True
            logger.warning(
                "rule %s raised %s on an event (%s); further failures of this rule are only "
                "counted",
                state.rule.name,
                type(error).__name__,
                error,
            )


def _test_under(state: _RuleState, mask: int, online: bool) -> EventTest | None:
    """The rule's test for events of a candidate mask. The index tells a gated sequence's
    first stage (the rule's own bit) from its later stages (`later_bit`); a waiting simple
    sequence is spared the tests of the stages its index bits rule out. None: the first stage
    alone, opened by the detector itself (`Detector._opened_first_stage`), with the wall
    clock and without exceptions or scope, which that path does not apply."""
    matcher = state.gated_matcher
    if matcher is None or not matcher.simple:
        return state.takes
    first, later = mask & state.bits & ~state.later_bit, mask & state.later_bit
    if first and not later:
        rule = state.rule
        plain = not rule.exceptions and rule.scope.namespaces is None
        if online and plain and matcher.opens_partials:
            return None
        return matcher.may_take_first
    if later and not first:
        return matcher.may_take_later
    return state.takes


def _waits(state: _RuleState) -> bool:
    """Whether a gated sequence waits for more than its first stage (with partials only)."""
    matcher = state.gated_matcher
    return matcher is not None and bool(matcher.pending_total)


def _first_stage_test(state: _RuleState) -> EventTest:
    matcher = state.gated_matcher
    assert matcher is not None
    return matcher.may_take_first


def _stream_test(stream: QueryStream) -> EventTest:
    """A stream's `may_take`: the sequence matcher's own, without the stream's delegation."""
    return stream.matcher.may_take if stream.matcher is not None else stream.may_take


def _fields_read(ruleset: RuleSet) -> set[str]:
    paths = {CATEGORY_FIELD, DEFAULT_TIMESTAMP_FIELD, NAMESPACE_FIELD}
    for rule in ruleset.rules:
        paths |= rule.query.fields_read
        for exception in rule.exceptions:
            paths |= exception.fields_read
        if rule.timestamp_field:
            paths.add(rule.timestamp_field)
    return paths


def _always(event: dict[str, Any]) -> bool:
    return True


def _excepted(rule: CompiledRule, event: dict[str, Any]) -> bool:
    return any(
        exception.matches(event, category_field=CATEGORY_FIELD) for exception in rule.exceptions
    )


def _target_of(events: Sequence[dict[str, Any]]) -> TargetHint:
    """The target of the latest event that names one."""
    for item in reversed(events):
        hint = target_hint(item)
        if not hint.is_empty:
            return hint
    return TargetHint()


class _Retimed(dict[str, Any]):
    """A copy of an event carrying the rule's fallback time under the override field, for a
    sequence stream; it remembers the original so alerts show the event as it came."""

    def __init__(self, original: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
        super().__init__(original)
        self.original = original
        node: dict[str, Any] = self
        for key in path[:-1]:
            child = node.get(key)
            child = dict(child) if type(child) is dict else {}
            node[key] = child
            node = child
        node[path[-1]] = value


def _with_rule_timestamp(
    event: dict[str, Any], timestamp_field: str | None, times: EventTimes
) -> dict[str, Any]:
    """`event` as the rule's stream must see it: when the rule orders by an override field the
    event lacks, the `@timestamp` value stands in under that field (in a copy)."""
    if not timestamp_field or times.has(timestamp_field):
        return event
    if times.for_rule(timestamp_field) is None:
        return event
    fallback = get_field(event, DEFAULT_TIMESTAMP_FIELD)
    return _Retimed(event, split_path(timestamp_field), fallback)


def _present(sequence: Sequence[dict[str, Any] | None]) -> list[dict[str, Any]]:
    """The events of a sequence match as they came in, without missing-event placeholders."""
    return [
        item.original if isinstance(item, _Retimed) else item
        for item in sequence
        if item is not None
    ]
