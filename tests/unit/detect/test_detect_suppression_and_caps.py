"""Deterministic alert names, suppression groups and windows, and the per-interval cap."""

from __future__ import annotations

import re

from quarantine.detect import AlertCap, SuppressionPolicy, TargetHint, alert_name, suppression_key

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def test_alert_names_are_dns_labels_and_deterministic() -> None:
    key = suppression_key("sensitive-files-compression", "pod=shop/web-1", 1_700_000_100.0)
    name = alert_name("sensitive-files-compression", key)
    assert name == alert_name("sensitive-files-compression", key)
    assert name.startswith("sensitive-files-compression-")
    assert DNS_LABEL.match(name)
    assert len(name) <= 63
    other = alert_name("sensitive-files-compression", key.replace("web-1", "web-2"))
    assert other != name


def test_long_and_odd_rule_names_still_give_labels() -> None:
    long_name = "a.very.long.rule.name." + "x" * 200
    name = alert_name(long_name, "k")
    assert len(name) <= 63
    assert DNS_LABEL.match(name)
    assert DNS_LABEL.match(alert_name("---", "k"))
    assert alert_name("---", "k").startswith("alert-")


def test_default_group_is_the_target_pod() -> None:
    policy = SuppressionPolicy(group_by=(), duration_seconds=300)
    by_pod = TargetHint(namespace="shop", pod="web-1", container_id="abc")
    by_container = TargetHint(container_id="abc")
    assert policy.group({}, by_pod) == "pod=shop/web-1"
    assert policy.group({}, by_container) == "container=abc"
    assert policy.group({}, TargetHint()) == "target=unknown"


def test_group_by_fields_use_distinct_sorted_values() -> None:
    policy = SuppressionPolicy(group_by=("process.args", "user.name"), duration_seconds=60)
    first = {"process": {"args": ["b", "a", "a"]}}
    same = {"process": {"args": ["a", "b"]}}
    comma = {"process": {"args": ["a,b"]}}
    target = TargetHint()
    assert policy.group(first, target) == policy.group(same, target)
    assert policy.group(first, target) != policy.group(comma, target)
    assert policy.group(first, target).endswith("user.name=null")


def test_windows_are_fixed_and_aligned() -> None:
    policy = SuppressionPolicy(group_by=(), duration_seconds=300)
    assert policy.window_start(1_700_000_099.9) == 1_699_999_800.0
    assert policy.window_start(1_700_000_100.0) == 1_700_000_100.0


def test_cap_admits_up_to_max_per_interval_and_lets_repeats_through() -> None:
    cap = AlertCap(max_signals=2, interval_seconds=300)
    now = 1_700_000_100.0
    assert cap.admit("a", now, expires_at=now + 600)
    assert cap.admit("b", now + 1, expires_at=now + 600)
    assert not cap.admit("c", now + 2, expires_at=now + 600)
    assert cap.admit("a", now + 3, expires_at=now + 600)  # a repeat is not a new alert
    # The next interval admits new names again.
    assert cap.admit("c", now + 300, expires_at=now + 900)
    assert cap.admit("d", now + 301, expires_at=now + 900)
    assert not cap.admit("e", now + 302, expires_at=now + 900)


def test_cap_forgets_names_whose_windows_closed() -> None:
    cap = AlertCap(max_signals=1, interval_seconds=60)
    assert cap.admit("a", 0.0, expires_at=100.0)
    assert cap.remembered == 1
    assert cap.admit("b", 120.0, expires_at=200.0)
    assert cap.remembered == 1  # "a" expired at 100 and was forgotten at the window change
    assert not cap.admit("a", 121.0, expires_at=200.0)  # so "a" now counts as new, over the cap
