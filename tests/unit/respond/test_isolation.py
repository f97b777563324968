"""The isolation verdict and the detach plan over every kind of NetworkPolicy."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quarantine.respond.isolation import (
    allowed_directions,
    assess_isolation,
    effective_policy_types,
    plan_detach,
)
from quarantine.respond.naming import ISOLATED_POD_LABEL, isolation_label_key
from quarantine.respond.selectors import selector_matches

POD = {"app": "web", "tier": "front", "pod-template-hash": "abc"}
ALLOW_ALL_INGRESS = [{}]
ALLOW_FRONTEND = [{"from": [{"podSelector": {"matchLabels": {"app": "lb"}}}]}]


def policy(name: str, selector: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"podSelector": selector, **spec}}


def ours(name: str, selector: dict[str, Any], **spec: Any) -> dict[str, Any]:
    body = policy(name, selector, **spec)
    body["metadata"]["labels"] = {"app.kubernetes.io/managed-by": "quarantine"}
    return body


@pytest.mark.parametrize(
    ("spec", "types"),
    [
        ({}, ("Ingress",)),
        ({"egress": [{}]}, ("Ingress", "Egress")),
        ({"policyTypes": ["Egress"]}, ("Egress",)),
        ({"policyTypes": ["Ingress", "Egress"], "ingress": [{}]}, ("Ingress", "Egress")),
    ],
)
def test_policy_types_default_like_the_api_server(
    spec: dict[str, Any], types: tuple[str, ...]
) -> None:
    assert effective_policy_types(spec) == types


@pytest.mark.parametrize(
    ("spec", "allowed"),
    [
        ({"policyTypes": ["Ingress", "Egress"]}, ()),  # deny-all both ways
        ({"policyTypes": ["Ingress"], "ingress": ALLOW_FRONTEND}, ("Ingress",)),
        ({"policyTypes": ["Egress"], "egress": [{}]}, ("Egress",)),
        ({"ingress": ALLOW_ALL_INGRESS, "egress": [{}]}, ("Ingress", "Egress")),
        # Rules for a direction the policy does not govern do nothing.
        ({"policyTypes": ["Egress"], "ingress": ALLOW_ALL_INGRESS}, ()),
        ({"policyTypes": ["Ingress"], "ingress": []}, ()),
    ],
)
def test_allowed_directions(spec: dict[str, Any], allowed: tuple[str, ...]) -> None:
    assert allowed_directions(spec) == allowed


def test_no_other_policy_means_isolated() -> None:
    verdict = assess_isolation(POD, [])
    assert verdict.isolated
    assert verdict.describe() == ""


def test_deny_only_policies_do_not_bypass() -> None:
    policies = [policy("default-deny", {}, policyTypes=["Ingress", "Egress"])]
    assert assess_isolation(POD, policies).isolated


def test_policy_selecting_other_pods_does_not_bypass() -> None:
    policies = [policy("db", {"matchLabels": {"app": "db"}}, ingress=ALLOW_ALL_INGRESS)]
    assert assess_isolation(POD, policies).isolated


def test_allowing_policy_that_selects_the_pod_bypasses() -> None:
    policies = [
        policy(
            "allow-lb",
            {"matchLabels": {"app": "web"}},
            policyTypes=["Ingress"],
            ingress=ALLOW_FRONTEND,
        ),
        policy(
            "egress-all",
            {"matchExpressions": [{"key": "tier", "operator": "Exists"}]},
            policyTypes=["Egress"],
            egress=[{}],
        ),
    ]
    verdict = assess_isolation(POD, policies)
    assert not verdict.isolated
    assert verdict.policy_names == ["allow-lb", "egress-all"]
    assert verdict.bypasses[0].directions == ("Ingress",)
    assert verdict.bypasses[0].detach_keys == {"app"}
    assert verdict.bypasses[1].directions == ("Egress",)
    assert "allow-lb allows Ingress" in verdict.describe()


def test_quarantine_policies_never_count_as_bypass() -> None:
    policies = [ours("quarantine-other", {}, policyTypes=["Egress"], egress=[{}])]
    assert assess_isolation(POD, policies).isolated


def test_detach_removes_the_selected_labels() -> None:
    policies = [policy("allow-lb", {"matchLabels": {"app": "web"}}, ingress=ALLOW_FRONTEND)]
    plan = plan_detach(POD, policies)
    assert plan.removed == {"app": "web"}
    assert plan.remaining.isolated


def test_namespace_wide_policy_cannot_be_detached() -> None:
    policies = [policy("allow-all-in-ns", {}, ingress=ALLOW_ALL_INGRESS)]
    plan = plan_detach(POD, policies)
    assert plan.removed == {}
    assert plan.remaining.policy_names == ["allow-all-in-ns"]


def test_detach_follows_selectors_that_start_matching_after_a_removal() -> None:
    policies = [
        policy("web", {"matchLabels": {"app": "web"}}, ingress=ALLOW_ALL_INGRESS),
        # Selects pods without an app label: it starts matching once `app` is removed.
        policy(
            "unlabelled",
            {
                "matchLabels": {"tier": "front"},
                "matchExpressions": [{"key": "app", "operator": "DoesNotExist"}],
            },
            ingress=ALLOW_ALL_INGRESS,
        ),
    ]
    plan = plan_detach(POD, policies)
    assert plan.removed == {"app": "web", "tier": "front"}
    assert plan.remaining.isolated


def test_detach_reports_what_no_removal_can_fix() -> None:
    policies = [
        policy("web", {"matchLabels": {"app": "web"}}, ingress=ALLOW_ALL_INGRESS),
        policy(
            "not-db",
            {"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["db"]}]},
            egress=[{}],
            policyTypes=["Egress"],
        ),
    ]
    plan = plan_detach(POD, policies)
    assert plan.removed == {"app": "web"}
    assert plan.remaining.policy_names == ["not-db"]
    assert plan.remaining.bypasses[0].detach_keys == frozenset()


def test_detach_never_removes_quarantine_labels() -> None:
    key = isolation_label_key("alert-1")
    labels = {**POD, key: "true", ISOLATED_POD_LABEL: "true"}
    policies = [
        policy(
            "selects-isolated",
            {"matchExpressions": [{"key": ISOLATED_POD_LABEL, "operator": "Exists"}]},
            ingress=ALLOW_ALL_INGRESS,
        )
    ]
    plan = plan_detach(labels, policies)
    assert plan.removed == {}
    assert plan.remaining.policy_names == ["selects-isolated"]


label_keys = st.sampled_from(["app", "tier", "team", "zone"])
label_values = st.sampled_from(["a", "b"])
requirement = st.one_of(
    st.builds(
        lambda k, op, v: {"key": k, "operator": op, "values": v},
        label_keys,
        st.sampled_from(["In", "NotIn"]),
        st.lists(label_values, min_size=1, max_size=2),
    ),
    st.builds(
        lambda k, op: {"key": k, "operator": op},
        label_keys,
        st.sampled_from(["Exists", "DoesNotExist"]),
    ),
)
selectors = st.builds(
    lambda labels, expressions: {"matchLabels": labels, "matchExpressions": expressions},
    st.dictionaries(label_keys, label_values, max_size=2),
    st.lists(requirement, max_size=2),
)


@given(
    pod=st.dictionaries(label_keys, label_values, max_size=4),
    chosen=st.lists(selectors, max_size=4),
)
def test_after_detach_every_remaining_bypass_is_undetachable(
    pod: dict[str, str], chosen: list[dict[str, Any]]
) -> None:
    policies = [policy(f"p{i}", s, ingress=ALLOW_ALL_INGRESS) for i, s in enumerate(chosen)]
    plan = plan_detach(pod, policies)
    left = {k: v for k, v in pod.items() if k not in plan.removed}
    # Removed labels are real pod labels, and what remains agrees with a fresh verdict.
    assert all(pod[k] == v for k, v in plan.removed.items())
    assert plan.remaining == assess_isolation(left, policies)
    for bypass in plan.remaining.bypasses:
        assert not (bypass.detach_keys & left.keys())
        index = int(bypass.policy[1:])
        assert selector_matches(chosen[index], left)
