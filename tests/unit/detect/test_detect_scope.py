"""Rule scope: namespaces checked from the event, label selectors for the matcher."""

from __future__ import annotations

import pytest

from quarantine.api import LabelSelector, RuleScope
from quarantine.detect import ScopeCheck, selector_matches


def _selector(data: dict[str, object]) -> LabelSelector:
    return LabelSelector.model_validate(data)


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ({}, {}, True),
        ({"matchLabels": {"app": "web"}}, {"app": "web", "x": "y"}, True),
        ({"matchLabels": {"app": "web"}}, {"app": "db"}, False),
        ({"matchLabels": {"app": "web"}}, {}, False),
        (
            {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]},
            {"tier": "b"},
            True,
        ),
        ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["a"]}]}, {}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["a"]}]}, {}, True),
        (
            {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["a"]}]},
            {"tier": "a"},
            False,
        ),
        ({"matchExpressions": [{"key": "k", "operator": "Exists"}]}, {"k": ""}, True),
        ({"matchExpressions": [{"key": "k", "operator": "Exists"}]}, {}, False),
        ({"matchExpressions": [{"key": "k", "operator": "DoesNotExist"}]}, {"k": "v"}, False),
        (
            {
                "matchLabels": {"app": "web"},
                "matchExpressions": [{"key": "k", "operator": "DoesNotExist"}],
            },
            {"app": "web"},
            True,
        ),
    ],
)
def test_selector_semantics(
    selector: dict[str, object], labels: dict[str, str], expected: bool
) -> None:
    assert selector_matches(_selector(selector), labels) is expected


def test_absent_selector_selects_everything() -> None:
    assert selector_matches(None, {"a": "b"})


def test_namespaces_only_decide_when_the_event_names_one() -> None:
    scope = ScopeCheck.from_scope(RuleScope(namespaces=["shop", "pay"]))
    assert scope.admits_namespace("shop")
    assert not scope.admits_namespace("kube-system")
    assert scope.admits_namespace(None)
    assert not scope.needs_labels
    assert not scope.is_everything


def test_full_check_with_labels() -> None:
    scope = ScopeCheck.from_scope(
        RuleScope(
            namespaces=["shop"],
            namespace_selector=_selector({"matchLabels": {"env": "prod"}}),
            pod_selector=_selector({"matchLabels": {"app": "web"}}),
        )
    )
    assert scope.needs_labels
    admitted = scope.admits("shop", namespace_labels={"env": "prod"}, pod_labels={"app": "web"})
    assert admitted
    assert not scope.admits("shop", namespace_labels={"env": "dev"}, pod_labels={"app": "web"})
    assert not scope.admits("shop", namespace_labels={"env": "prod"}, pod_labels={"app": "db"})
    assert not scope.admits("other", namespace_labels={"env": "prod"}, pod_labels={"app": "web"})


def test_no_scope_is_everything() -> None:
    assert ScopeCheck.from_scope(None).is_everything
    assert ScopeCheck.from_scope(RuleScope(pod_selector=LabelSelector())).is_everything
