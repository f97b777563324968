"""Bounding the size of events copied into an Alert (etcd objects are limited to ~1.5 MiB)."""

from __future__ import annotations

from typing import Any

MAX_TEXT = 2048
MAX_ITEMS = 64
MAX_DEPTH = 8
TRUNCATED = "…[truncated]"


def trim_event(event: dict[str, Any]) -> dict[str, Any]:
    """A copy of `event` with long strings cut, long arrays shortened and deep nesting dropped."""
    return _trim_object(event, MAX_DEPTH)


def _trim_object(node: dict[str, Any], depth: int) -> dict[str, Any]:
    if depth <= 0:
        return {}
    trimmed: dict[str, Any] = {}
    for count, (key, value) in enumerate(node.items()):
        if count >= MAX_ITEMS:
            break
        trimmed[key] = _trim_value(value, depth - 1)
    return trimmed


def _trim_value(value: Any, depth: int) -> Any:
    if type(value) is str:
        return value if len(value) <= MAX_TEXT else value[:MAX_TEXT] + TRUNCATED
    if type(value) is dict:
        return _trim_object(value, depth)
    if type(value) is list:
        return [_trim_value(item, depth - 1) for item in value[:MAX_ITEMS]]
    return value
