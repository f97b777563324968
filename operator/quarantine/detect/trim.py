"""Bounding the size of events copied into an Alert (etcd objects are limited to ~1.5 MiB)."""

from __future__ import annotations

from itertools import islice
from typing import Any

MAX_TEXT = 2048
MAX_ITEMS = 64
MAX_DEPTH = 8
TRUNCATED = "…[truncated]"


def trim_event(event: dict[str, Any]) -> dict[str, Any]:
    """A copy of `event` with long strings cut, long arrays shortened and deep nesting dropped."""
    return _trim_object(event, MAX_DEPTH)


# Every draft trims its events whole, so the usual values (strings, numbers, objects) are
# handled inline rather than with a call each.


def _trim_object(node: dict[str, Any], depth: int) -> dict[str, Any]:
    if depth <= 0:
        return {}
    trimmed: dict[str, Any] = {}
    for key, value in islice(node.items(), MAX_ITEMS):
        kind = type(value)
        if kind is str:
            trimmed[key] = value if len(value) <= MAX_TEXT else value[:MAX_TEXT] + TRUNCATED
        elif kind is dict:
            trimmed[key] = _trim_object(value, depth - 1)
        elif kind is list:
            trimmed[key] = _trim_list(value, depth - 1)
        else:
            trimmed[key] = value
    return trimmed


def _trim_list(items: list[Any], depth: int) -> list[Any]:
    """What `_trim_value` gives for a list at `depth`."""
    return [_trim_value(item, depth - 1) for item in items[:MAX_ITEMS]]


def _trim_value(value: Any, depth: int) -> Any:
    if type(value) is str:
        return value if len(value) <= MAX_TEXT else value[:MAX_TEXT] + TRUNCATED
    if type(value) is dict:
        return _trim_object(value, depth)
    if type(value) is list:
        return _trim_list(value, depth)
    return value
