"""The detector: matches, exceptions, scope, suppression, caps, lateness, failures."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from detect_helpers import make_rule, process_event

from quarantine.detect import Detector, RuleSet

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC).timestamp()


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _stamp(offset: float) -> str:
    return datetime.fromtimestamp(T0 + offset, tz=UTC).isoformat().replace("+00:00", "Z")


def _detector(*rules: Any, clock: Clock | None = None) -> Detector:
    ruleset = RuleSet.from_rules(rules)
    assert ruleset.errors == {}
    return Detector(ruleset, clock=clock or Clock())


def test_attack_alerts_with_target_and_benign_does_not() -> None:
    detector = _detector(make_rule("compression"))
    attack = process_event("tar", "czf", "/tmp/k.tgz", "/root/.ssh/id_rsa")
    (draft,) = detector.process(attack)
    assert draft.rule_name == "compression"
    assert draft.rule_id == "id-compression"
    assert (draft.severity, draft.risk_score) == ("medium", 47)
    assert draft.target.namespace == "shop"
    assert draft.target.pod == "web-1"
    assert draft.target.container_id == "ab" * 32  # runtime prefix gone
    assert draft.target.container_name == "app"
    assert draft.timestamp == datetime.fromtimestamp(T0, tz=UTC)
    assert draft.events == [attack]
    assert draft.events[0] is not attack  # a trimmed copy, not the caller's object
    assert draft.source_events[0] is attack
    assert detector.process(process_event("tar", "czf", "/tmp/x.tgz", "/app")) == []
    assert detector.process(process_event("nginx", "-g", "daemon off;")) == []
    counters = detector.counters("compression")
    # Only the attack reached the query: nginx fails the process.name clause of the index,
    # the benign tar its process.args clause.
    assert (counters.evaluated, counters.matched, counters.drafts) == (1, 1, 1)


def test_exception_suppresses_the_alert() -> None:
    rule = make_rule(
        "compression",
        exceptions=[{"name": "backup job", "condition": 'container.name == "backup"'}],
    )
    detector = _detector(rule)
    attack = process_event("tar", "czf", "/b.tgz", "/etc/shadow")
    attack["container"]["name"] = "backup"
    assert detector.process(attack) == []
    assert detector.counters("compression").excepted == 1
    attack["container"]["name"] = "app"
    assert len(detector.process(attack)) == 1


def test_repeats_in_one_window_share_a_name_other_pods_and_windows_do_not() -> None:
    detector = _detector(make_rule("compression", interval="5m"))
    args = ("czf", "/tmp/k.tgz", "/root/.ssh/id_rsa")
    first = detector.process(process_event("tar", *args, at=_stamp(0)))[0]
    again = detector.process(process_event("tar", *args, at=_stamp(10)))[0]
    other_pod = detector.process(process_event("tar", *args, at=_stamp(20), pod="web-2"))[0]
    later = detector.process(process_event("tar", *args, at=_stamp(300)))[0]
    assert first.alert_name == again.alert_name
    assert first.suppression_key == again.suppression_key
    assert other_pod.alert_name != first.alert_name
    assert later.alert_name != first.alert_name
    # A fresh detector (another replica, or after a restart) names the same match the same.
    replica = _detector(make_rule("compression", interval="5m"))
    assert replica.process(process_event("tar", *args, at=_stamp(10)))[0].alert_name == (
        first.alert_name
    )


def test_group_by_fields_and_duration() -> None:
    rule = make_rule(
        "compression",
        lookback="1h",
        suppression={"groupBy": ["container.name"], "duration": "1h"},
    )
    detector = _detector(rule, clock=Clock(T0 + 1800))
    args = ("czf", "/tmp/k.tgz", "/root/.ssh/id_rsa")
    one = detector.process(process_event("tar", *args, at=_stamp(0), pod="a"))[0]
    two = detector.process(process_event("tar", *args, at=_stamp(1700), pod="b"))[0]
    assert one.alert_name == two.alert_name  # same container.name, same hour
    assert 'container.name=["app"]' in one.suppression_key


def test_cap_limits_new_alerts_per_interval() -> None:
    clock = Clock()
    detector = _detector(make_rule("compression", maxSignals=2, interval="5m"), clock=clock)
    args = ("czf", "/tmp/k.tgz", "/root/.ssh/id_rsa")
    pods = ["p1", "p2", "p3"]
    drafts = [detector.process(process_event("tar", *args, pod=pod)) for pod in pods]
    assert [len(found) for found in drafts] == [1, 1, 0]
    assert detector.counters("compression").capped == 1
    # A repeat of an alert already raised still passes (the Alert's count goes up).
    assert len(detector.process(process_event("tar", *args, pod="p1"))) == 1
    # Next interval: new alerts again.
    clock.now = T0 + 300
    later = detector.process(process_event("tar", *args, pod="p3", at=_stamp(300)))
    assert len(later) == 1


def test_events_older_than_lookback_are_not_alerted() -> None:
    detector = _detector(make_rule("compression", lookback="6m"), clock=Clock(T0 + 600))
    args = ("czf", "/tmp/k.tgz", "/root/.ssh/id_rsa")
    assert detector.process(process_event("tar", *args, at=_stamp(0))) == []
    counters = detector.counters("compression")
    assert (counters.evaluated, counters.late, counters.matched) == (1, 1, 0)
    assert len(detector.process(process_event("tar", *args, at=_stamp(300)))) == 1


def test_timestamp_field_overrides_and_falls_back_to_timestamp() -> None:
    clock = Clock(T0 + 600)
    detector = _detector(
        make_rule("compression", lookback="6m", timestampField="event.ingested"), clock=clock
    )
    args = ("czf", "/tmp/k.tgz", "/root/.ssh/id_rsa")
    old_but_ingested_now = process_event("tar", *args, at=_stamp(0))
    old_but_ingested_now["event"]["ingested"] = _stamp(590)
    (draft,) = detector.process(old_but_ingested_now)
    assert draft.timestamp == datetime.fromtimestamp(T0 + 590, tz=UTC)
    # Without event.ingested, @timestamp decides (and it is too old).
    assert detector.process(process_event("tar", *args, at=_stamp(0))) == []
    assert detector.counters("compression").late == 1


def test_namespace_scope_is_checked_when_the_event_names_one() -> None:
    detector = _detector(make_rule("compression", scope={"namespaces": ["shop"]}))
    args = ("czf", "/tmp/k.tgz", "/root/.ssh/id_rsa")
    assert len(detector.process(process_event("tar", *args, namespace="shop"))) == 1
    assert detector.process(process_event("tar", *args, namespace="other")) == []
    assert detector.counters("compression").out_of_scope == 1
    # Unknown namespace: left to the matcher, which resolves the pod first.
    unnamed = process_event("tar", *args, namespace=None, pod=None)
    (draft,) = detector.process(unnamed)
    assert draft.target.namespace is None
    assert draft.target.container_id == "ab" * 32


def test_a_failing_rule_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    ruleset = RuleSet.from_rules([make_rule("a-breaks"), make_rule("b-works")])
    broken = ruleset.get("a-breaks")
    assert broken is not None
    real_query = broken.query

    class FailsOnOddEvents:
        """The real compiled query, except it raises where an engine bug might."""

        kind = real_query.kind
        node = real_query.node
        categories = real_query.categories
        required_values = real_query.required_values
        fields_read = real_query.fields_read

        def matcher(self, category_field: str = "event.category") -> Callable[[Any], bool]:
            real_matcher = real_query.matcher(category_field)

            def matches(event: dict[str, Any]) -> bool:
                if "odd" in event:
                    raise TypeError("unexpected value")
                return real_matcher(event)

            return matches

    patched = dataclasses.replace(broken, query=FailsOnOddEvents())  # type: ignore[arg-type]
    detector = Detector(RuleSet([patched, ruleset.rules[1]], {}), clock=Clock())
    args = ("czf", "/tmp/k.tgz", "/root/.ssh/id_rsa")
    with caplog.at_level("WARNING"):
        first = detector.process(process_event("tar", *args, odd=True))
        second = detector.process(process_event("tar", *args, odd=True))
    assert [draft.rule_name for draft in first + second] == ["b-works", "b-works"]
    assert detector.counters("a-breaks").failed == 2
    assert sum("a-breaks" in record.message for record in caplog.records) == 1  # logged once
    assert [d.rule_name for d in detector.process(process_event("tar", *args))] == [
        "a-breaks",
        "b-works",
    ]


def test_replace_rules_keeps_state_of_unchanged_rules_only() -> None:
    clock = Clock()
    rule = make_rule("compression", maxSignals=1)
    detector = _detector(rule, clock=clock)
    args = ("czf", "/tmp/k.tgz", "/root/.ssh/id_rsa")
    assert len(detector.process(process_event("tar", *args, pod="p1"))) == 1
    # Same settings (only the description changed): the cap still remembers p1's alert.
    detector.replace_rules(
        RuleSet.from_rules([make_rule("compression", maxSignals=1, description="x")])
    )
    assert detector.process(process_event("tar", *args, pod="p2")) == []
    # Changed settings: a fresh cap, but counters carry on.
    detector.replace_rules(RuleSet.from_rules([make_rule("compression", maxSignals=2)]))
    assert len(detector.process(process_event("tar", *args, pod="p2"))) == 1
    assert detector.counters("compression").capped == 1
    detector.replace_rules(RuleSet.empty())
    assert detector.process(process_event("tar", *args)) == []


def test_offline_clock_follows_event_time() -> None:
    ruleset = RuleSet.from_rules([make_rule("compression", lookback="6m")])
    detector = Detector(ruleset, clock=Clock(T0 + 10 * 365 * 86400), event_time_clock=True)
    args = ("czf", "/tmp/k.tgz", "/root/.ssh/id_rsa")
    assert len(detector.process(process_event("tar", *args, at=_stamp(0)))) == 1
    assert len(detector.process(process_event("tar", *args, at=_stamp(600), pod="b"))) == 1
    # 10 minutes behind the newest event seen: later than the 6 minute look-back.
    assert detector.process(process_event("tar", *args, at=_stamp(0), pod="c")) == []
    assert detector.counters("compression").late == 1
