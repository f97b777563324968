"""Cheap field access on canonical events.

Every normalised event is a tree of plain dicts whose keys hold no dots (ECS's dotted form is
expanded on the way in, see `quarantine.events.expansion`), so reading ``process.name`` is
always a walk of nested dicts.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any


@lru_cache(maxsize=4096)
def split_path(path: str) -> tuple[str, ...]:
    """`"process.parent.name"` -> `("process", "parent", "name")`, computed once per path."""
    return tuple(path.split("."))


def get_field(event: dict[str, Any], path: str) -> Any:
    """The value at a dotted path of a canonical event, or None when any step is missing."""
    node: Any = event
    for key in split_path(path):
        if type(node) is not dict:
            return None
        node = node.get(key)
        if node is None:
            return None
    return node


def field_strings(event: dict[str, Any], path: str) -> list[str]:
    """Every non-null value at `path` as a string; an array gives one string per element."""
    value = get_field(event, path)
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [_as_text(item) for item in items if item is not None]


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def set_field(event: dict[str, Any], path: str, value: Any) -> None:
    """Set `path` in a canonical event, creating the intermediate objects."""
    keys = split_path(path)
    node = event
    for key in keys[:-1]:
        child = node.get(key)
        if type(child) is not dict:
            child = {}
            node[key] = child
        node = child
    node[keys[-1]] = value
