"""Kubernetes label-selector semantics (matchLabels and matchExpressions) over raw API dicts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Requirements that a pod satisfies only while it carries the key: removing the key defeats them.
_KEY_NEEDED = frozenset({"In", "Exists"})


class SelectorError(ValueError):
    """A label selector that the API server would also refuse (unknown operator and the like)."""


def _requirements(selector: Mapping[str, Any]) -> list[tuple[str, str, list[str]]]:
    requirements = [
        (key, "In", [value]) for key, value in (selector.get("matchLabels") or {}).items()
    ]
    for index, expression in enumerate(selector.get("matchExpressions") or []):
        key = expression.get("key")
        operator = expression.get("operator")
        if not key or operator not in ("In", "NotIn", "Exists", "DoesNotExist"):
            raise SelectorError(
                f"matchExpressions[{index}]: need a key and an operator of In, NotIn, Exists or "
                f"DoesNotExist, got key={key!r} operator={operator!r}"
            )
        requirements.append((key, operator, list(expression.get("values") or [])))
    return requirements


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Whether `labels` satisfy the selector. An empty selector selects everything; a null one
    (absent) selects nothing, as for NetworkPolicy peers and most Kubernetes APIs."""
    if selector is None:
        return False
    for key, operator, values in _requirements(selector):
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def keys_needed_for_match(selector: Mapping[str, Any]) -> frozenset[str]:
    """Label keys whose removal makes the selector stop matching (matchLabels, In, Exists).
    Empty when no removal can help, e.g. `{}` or a selector of NotIn/DoesNotExist only."""
    return frozenset(key for key, operator, _ in _requirements(selector) if operator in _KEY_NEEDED)
