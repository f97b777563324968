"""The canonical event layout and cheap field access.

Every normalised event is a tree of plain dicts whose keys hold no dots: ECS's dotted form
(``{"container": {"image.name": "x"}}`` or ``{"process.name": "sh"}``) is expanded once, on
the way in, so reading ``process.name`` is always a walk of nested dicts.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from quarantine.events.errors import EventFormatError


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


def expand_dotted(document: dict[str, Any]) -> dict[str, Any]:
    """The canonical form of an ECS document: dotted keys become nested objects.

    Objects without dotted keys anywhere below them are kept as they are, not copied (this
    runs on every event); only the objects on the way to a dotted key are rebuilt. Objects
    inside arrays are expanded too. A key that is both a value and an object
    (``{"a": 1, "a.b": 2}``) is refused, naming the key.
    """
    if not _has_dotted_key(document):
        return document
    return _expand(document, "")


def _has_dotted_key(node: dict[str, Any]) -> bool:
    """Whether any key at or below `node` has a dot. Runs on every event, so it is lean: an
    explicit stack instead of recursion, since calls dominate the cost."""
    stack = [node]
    pop = stack.pop
    push = stack.append
    while stack:
        for key, value in pop().items():
            if "." in key:
                return True
            kind = type(value)
            if kind is dict:
                push(value)
            elif kind is list:
                for item in value:
                    if type(item) is dict:
                        push(item)
    return False


def _expand(node: dict[str, Any], where: str) -> dict[str, Any]:
    """`node` with its dotted keys expanded; only objects with a dotted key below are copied."""
    changed: dict[str, Any] = {}
    for key, value in node.items():
        kind = type(value)
        if kind is dict and _has_dotted_key(value):
            changed[key] = _expand(value, f"{where}{key}.")
        elif kind is list and any(type(i) is dict and _has_dotted_key(i) for i in value):
            changed[key] = [
                _expand(i, f"{where}{key}.") if type(i) is dict and _has_dotted_key(i) else i
                for i in value
            ]
    return _rebuild(node, changed, where)


def _rebuild(node: dict[str, Any], changed: dict[str, Any], where: str) -> dict[str, Any]:
    rebuilt: dict[str, Any] = {}
    # Objects created here may be written into; any other object belongs to the caller's
    # document (or is shared with it) and is copied before a dotted key lands in it.
    owned = {id(rebuilt)}
    for key, original in node.items():
        value = changed.get(key, original)
        if "." not in key:
            _merge_into(rebuilt, key, value, where + key, owned)
            continue
        parts = key.split(".")
        if not all(parts):
            raise EventFormatError("field name has an empty part", path=where + key)
        target = rebuilt
        for position, part in enumerate(parts[:-1]):
            child = target.get(part)
            if child is None or (type(child) is dict and id(child) not in owned):
                child = target[part] = dict(child) if child is not None else {}
                owned.add(id(child))
            elif type(child) is not dict:
                prefix = where + ".".join(parts[: position + 1])
                raise EventFormatError(
                    f"is both a value and an object (because of {where + key!r})", path=prefix
                )
            target = child
        _merge_into(target, parts[-1], value, where + key, owned)
    return rebuilt


def _merge_into(target: dict[str, Any], key: str, value: Any, where: str, owned: set[int]) -> None:
    existing = target.get(key)
    if existing is None:
        target[key] = value
        return
    if type(existing) is dict and type(value) is dict:
        merged = existing
        if id(merged) not in owned:
            merged = target[key] = dict(existing)
            owned.add(id(merged))
        for inner_key, inner_value in value.items():
            _merge_into(merged, inner_key, inner_value, f"{where}.{inner_key}", owned)
        return
    raise EventFormatError("is given twice (once nested, once dotted)", path=where)
