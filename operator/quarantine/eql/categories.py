"""The category test of an event filter (`process where ...`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from quarantine.eql.fields import field_getter, values_of

Event = Mapping[str, Any]
CategoryTest = Callable[[Event], bool]


def category_test(category_field: str, category: str, *, nested_only: bool = False) -> CategoryTest:
    """Exact, case-sensitive category match; array categories match on any element."""
    get = field_getter(category_field, nested_only=nested_only)

    def test(event: Event) -> bool:
        raw = get(event)
        if raw == category:
            return True
        if type(raw) is not list:
            return False
        if category in raw:
            return True
        # Only a nested array can still hold it.
        return list in map(type, raw) and category in values_of(raw)

    return test
