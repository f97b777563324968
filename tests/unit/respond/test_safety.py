"""Protected pods, blast-radius limits and the per-pod cooldown."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from quarantine.respond.safety import ContainmentBudget, Limits, SafetySettings, refusal_reason

SETTINGS = SafetySettings(own_namespace="quarantine-system")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def reason(namespace: str = "shop", ns_labels=None, pod_labels=None) -> str | None:  # type: ignore[no-untyped-def]
    return refusal_reason(
        SETTINGS,
        namespace=namespace,
        namespace_labels=ns_labels or {},
        pod_labels=pod_labels or {"app": "web"},
    )


def test_ordinary_pod_may_be_acted_on() -> None:
    assert reason() is None


def test_system_and_own_namespaces_are_protected() -> None:
    for namespace in ("kube-system", "kube-public", "kube-node-lease", "quarantine-system"):
        assert reason(namespace) == f"namespace {namespace} is protected"


def test_protected_namespaces_are_configurable_but_own_stays() -> None:
    settings = SafetySettings(own_namespace="q", protected_namespaces=frozenset({"prod-core"}))
    assert settings.all_protected_namespaces == {"prod-core", "q"}
    assert (
        refusal_reason(settings, namespace="kube-system", namespace_labels={}, pod_labels={})
        is None
    )


def test_opt_out_label_on_namespace_or_pod() -> None:
    assert (
        reason(ns_labels={"quarantine.io/protected": "true"})
        == "namespace shop is labelled quarantine.io/protected=true"
    )
    assert (
        reason(pod_labels={"quarantine.io/protected": "True"})
        == "the pod is labelled quarantine.io/protected=true"
    )
    assert reason(pod_labels={"quarantine.io/protected": "false"}) is None


def test_own_pods_are_never_acted_on_anywhere() -> None:
    assert reason(pod_labels={"app.kubernetes.io/name": "quarantine"}) == (
        "the pod is one of Quarantine's own pods"
    )


def test_per_rule_limit_skips_beyond_n_in_window() -> None:
    budget = ContainmentBudget(Limits(per_rule=2, overall=0, pod_cooldown=timedelta(0)))
    assert budget.admit("a1", "r", "ns/p1", T0).allowed
    assert budget.admit("a2", "r", "ns/p2", T0).allowed
    third = budget.admit("a3", "r", "ns/p3", T0)
    assert not third.allowed
    assert "rule r already made 2 containments" in third.reason
    # Another rule is not limited by r's budget.
    assert budget.admit("b1", "other", "ns/p4", T0).allowed
    # Once the window has passed, r may contain again.
    assert budget.admit("a4", "r", "ns/p5", T0 + timedelta(minutes=11)).allowed


def test_global_limit_counts_all_rules() -> None:
    budget = ContainmentBudget(Limits(per_rule=0, overall=2, pod_cooldown=timedelta(0)))
    assert budget.admit("a1", "r1", "ns/p1", T0).allowed
    assert budget.admit("a2", "r2", "ns/p2", T0).allowed
    refused = budget.admit("a3", "r3", "ns/p3", T0)
    assert not refused.allowed
    assert "2 containments in the last 0:10:00 across all rules" in refused.reason


def test_same_alert_is_counted_once() -> None:
    budget = ContainmentBudget(Limits(per_rule=1, overall=1))
    assert budget.admit("a1", "r", "ns/p1", T0).allowed
    assert budget.admit("a1", "r", "ns/p1", T0 + timedelta(seconds=1)).allowed


def test_pod_cooldown_skips_other_alerts_on_the_same_pod() -> None:
    budget = ContainmentBudget(Limits(pod_cooldown=timedelta(minutes=5)))
    assert budget.admit("a1", "r", "ns/p", T0).allowed
    refused = budget.admit("a2", "r2", "ns/p", T0 + timedelta(minutes=1))
    assert not refused.allowed
    assert "pod ns/p was contained by Alert a1" in refused.reason
    assert budget.admit("a3", "r2", "ns/other", T0 + timedelta(minutes=1)).allowed
    assert budget.admit("a4", "r2", "ns/p", T0 + timedelta(minutes=6)).allowed


def test_preview_takes_no_budget() -> None:
    budget = ContainmentBudget(Limits(per_rule=1))
    assert budget.preview("a1", "r", "ns/p1", T0).allowed
    assert budget.preview("a2", "r", "ns/p2", T0).allowed
    assert budget.admit("a3", "r", "ns/p3", T0).allowed
    assert not budget.preview("a4", "r", "ns/p4", T0).allowed


def test_remembered_containments_count_after_a_restart() -> None:
    budget = ContainmentBudget(Limits(per_rule=1, pod_cooldown=timedelta(minutes=5)))
    budget.remember("old", "r", "ns/p", T0 - timedelta(minutes=1))
    assert not budget.admit("new", "r", "ns/q", T0).allowed
    assert "cooldown" in budget.admit("new2", "r2", "ns/p", T0).reason


def test_concurrent_admissions_never_exceed_the_limit() -> None:
    budget = ContainmentBudget(Limits(per_rule=0, overall=25, pod_cooldown=timedelta(0)))
    allowed: list[bool] = []
    lock = threading.Lock()

    def admit(i: int) -> None:
        result = budget.admit(f"a{i}", "r", f"ns/p{i}", T0).allowed
        with lock:
            allowed.append(result)

    threads = [threading.Thread(target=admit, args=(i,)) for i in range(200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(allowed) == 25
