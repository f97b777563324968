"""Sequence rules: one stream per rule, exceptions filter what the stream sees."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from detect_helpers import make_rule, process_event

from quarantine.detect import Detector, RuleSet

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC).timestamp()
SEQUENCE = """sequence by container.id with maxspan=10s
  [process where process.name == "curl"]
  [process where process.name == "chmod"]
"""


def _at(offset: float) -> str:
    return datetime.fromtimestamp(T0 + offset, tz=UTC).isoformat().replace("+00:00", "Z")


def _detector(*names: str, **spec: object) -> Detector:
    ruleset = RuleSet.from_rules([make_rule(name, SEQUENCE, **spec) for name in names])
    assert ruleset.errors == {}
    return Detector(ruleset, clock=lambda: T0 + 5)


def test_sequence_completes_per_container() -> None:
    detector = _detector("download-then-chmod")
    curl = process_event("curl", "-o", "/tmp/x", at=_at(0), container="c1")
    assert detector.process(curl) == []
    assert detector.process(process_event("chmod", "+x", at=_at(1), container="c2")) == []
    chmod = process_event("chmod", "+x", "/tmp/x", at=_at(2), container="c1")
    (draft,) = detector.process(chmod)
    assert draft.source_events == (curl, chmod)
    assert draft.target.container_id == "c1"
    assert draft.timestamp == datetime.fromtimestamp(T0 + 2, tz=UTC)


def test_rules_never_share_sequence_state() -> None:
    detector = _detector("first", "second")
    assert detector.process(process_event("curl", at=_at(0), container="c1")) == []
    drafts = detector.process(process_event("chmod", at=_at(1), container="c1"))
    assert sorted(draft.rule_name for draft in drafts) == ["first", "second"]
    assert len({draft.alert_name for draft in drafts}) == 2


def test_excepted_events_never_enter_the_sequence() -> None:
    detector = _detector(
        "download-then-chmod",
        exceptions=[{"name": "installer", "condition": 'process.args == "--installer"'}],
    )
    assert detector.process(process_event("curl", "--installer", at=_at(0), container="c1")) == []
    assert detector.process(process_event("chmod", at=_at(1), container="c1")) == []
    assert detector.counters("download-then-chmod").excepted == 1


def test_sequence_orders_by_override_with_timestamp_fallback() -> None:
    detector = _detector("download-then-chmod", timestampField="event.ingested")
    curl = process_event("curl", at=_at(0), container="c1")
    chmod = process_event("chmod", at=_at(1), container="c1")
    chmod["event"]["ingested"] = _at(2)
    assert detector.process(curl) == []  # no event.ingested: its @timestamp stands in
    (draft,) = detector.process(chmod)
    assert draft.source_events[0] is curl  # the alert shows the event as it came
    assert "ingested" not in curl["event"]


def _waiting(detector: Detector, rule: str) -> tuple[object, ...]:
    """What the rule's stream holds for its waiting first-stage events."""
    stream = detector._states[rule].stream
    assert stream is not None and stream.matcher is not None
    return tuple(slots[0].events[0] for slots in stream.matcher.partials.values() if slots[0])


def test_a_waiting_event_is_held_as_the_text_it_came_in_as() -> None:
    detector = _detector("download-then-chmod")
    curl = process_event("curl", "-o", "/tmp/x", at=_at(0), container="c1")
    text = orjson.dumps(curl)
    assert detector.process(curl, text) == []
    assert _waiting(detector, "download-then-chmod") == (text,)
    assert _waiting(detector, "download-then-chmod")[0] is text  # not serialised again
    (draft,) = detector.process(process_event("chmod", at=_at(1), container="c1"))
    assert draft.source_events[0] == curl


def test_a_retimed_copy_is_not_held_as_the_original_text() -> None:
    """Without the override field the stream gets a copy carrying `@timestamp` there, which
    the line does not decode to: the copy is held instead."""
    detector = _detector("download-then-chmod", timestampField="event.ingested")
    curl = process_event("curl", at=_at(0), container="c1")
    assert detector.process(curl, orjson.dumps(curl)) == []
    (held,) = _waiting(detector, "download-then-chmod")
    assert type(held) is not bytes and held == {
        **curl,
        "event": {**curl["event"], "ingested": curl["@timestamp"]},
    }
    (draft,) = detector.process(process_event("chmod", at=_at(1), container="c1"))
    assert draft.source_events[0] is curl


FILE_THEN_EXEC = """sequence by container.id with maxspan=10s
  [file where event.type == "creation" and file.path : "/tmp/*"] by file.path
  [process where event.type == "start"] by process.executable
"""


def test_a_sequence_starting_with_another_category_waits_for_that_event() -> None:
    ruleset = RuleSet.from_rules([make_rule("drop-then-run", FILE_THEN_EXEC)])
    detector = Detector(ruleset, clock=lambda: T0 + 5)
    run = process_event("payload", at=_at(1), container="c1")
    run["process"]["executable"] = "/tmp/payload"
    # Nothing was dropped yet: an idle sequence is filed under its first stage only, so the
    # exec does not even reach the rule.
    assert detector.process(run) == []
    assert detector.counters("drop-then-run").evaluated == 0
    drop = {
        "@timestamp": _at(2),
        "event": {"category": ["file"], "type": ["creation"]},
        "file": {"path": "/tmp/payload"},
        "container": {"id": "c1"},
    }
    assert detector.process(drop) == []
    run_again = process_event("payload", at=_at(3), container="c1")
    run_again["process"]["executable"] = "/tmp/payload"
    (draft,) = detector.process(run_again)
    assert draft.source_events == (drop, run_again)
    # While the drop waited, the exec reached the rule whatever it was.
    assert detector.counters("drop-then-run").evaluated == 2
