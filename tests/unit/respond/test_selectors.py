"""Label-selector semantics: matchLabels and every matchExpressions operator."""

from __future__ import annotations

import pytest

from quarantine.respond.selectors import SelectorError, keys_needed_for_match, selector_matches

POD = {"app": "web", "tier": "front"}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ({}, True),
        ({"matchLabels": {"app": "web"}}, True),
        ({"matchLabels": {"app": "db"}}, False),
        ({"matchLabels": {"app": "web", "tier": "back"}}, False),
        ({"matchExpressions": [{"key": "app", "operator": "In", "values": ["db", "web"]}]}, True),
        ({"matchExpressions": [{"key": "app", "operator": "In", "values": ["db"]}]}, False),
        ({"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}, False),
        ({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["web"]}]}, False),
        ({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["db"]}]}, True),
        ({"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["a"]}]}, True),
        ({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, True),
        ({"matchExpressions": [{"key": "zone", "operator": "Exists"}]}, False),
        ({"matchExpressions": [{"key": "zone", "operator": "DoesNotExist"}]}, True),
        ({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}, False),
        (
            {
                "matchLabels": {"app": "web"},
                "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["front"]}],
            },
            False,
        ),
    ],
)
def test_selector_matches(selector: dict[str, object], expected: bool) -> None:
    assert selector_matches(selector, POD) is expected


def test_null_selector_selects_nothing() -> None:
    assert selector_matches(None, POD) is False


def test_unknown_operator_is_refused_with_its_position() -> None:
    with pytest.raises(SelectorError, match=r"matchExpressions\[1\].*'Near'"):
        selector_matches(
            {
                "matchExpressions": [
                    {"key": "app", "operator": "Exists"},
                    {"key": "app", "operator": "Near"},
                ]
            },
            POD,
        )


def test_keys_needed_are_the_positive_requirements_only() -> None:
    selector = {
        "matchLabels": {"app": "web"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["front"]},
            {"key": "team", "operator": "Exists"},
            {"key": "zone", "operator": "NotIn", "values": ["a"]},
            {"key": "canary", "operator": "DoesNotExist"},
        ],
    }
    assert keys_needed_for_match(selector) == {"app", "tier", "team"}
    assert keys_needed_for_match({}) == frozenset()
