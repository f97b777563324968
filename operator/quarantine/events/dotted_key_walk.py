"""The general expansion of dotted keys: a walk that handles every document, conflicts included.

It visits only objects that may hold a dotted key (asking a C serialiser first), rebuilds only
the objects on the way to one, and never writes into the caller's objects.
"""

from __future__ import annotations

from typing import Any

from quarantine.events.dotted_key_scan import serialised, serialised_has_dotted_key
from quarantine.events.errors import EventFormatError


def expanded_everywhere(node: dict[str, Any]) -> dict[str, Any] | None:
    """`node` with its dotted keys expanded at every depth, in one pass; None when there are
    none (so the caller keeps the object as it is)."""
    changed: dict[str, Any] | None = None
    for key, value in node.items():
        kind = type(value)
        new_value: dict[str, Any] | list[Any] | None
        try:
            if kind is dict:
                new_value = expanded_everywhere(value) if _may_have_dotted_key(value) else None
            elif kind is list and dict in map(type, value):
                new_value = _expanded_items(value)
            else:
                continue
        except EventFormatError as error:
            raise error.within(key) from None
        if new_value is not None:
            if changed is None:
                changed = {}
            changed[key] = new_value
    if not has_dotted_key(node):
        if changed is None:
            return None
        return {**node, **changed}  # only objects below changed: a shallow copy does
    return rebuilt_with_nesting(node, changed or {})


def has_dotted_key(node: dict[str, Any]) -> bool:
    """Whether one of `node`'s own keys holds a dot."""
    # One C-level scan of all the keys (JSON keys are always strings).
    return "." in "".join(node)


def rebuilt_with_nesting(node: dict[str, Any], changed: dict[str, Any]) -> dict[str, Any]:
    """`node` with its own dotted keys placed as nested objects (and `changed` values in
    place of the originals)."""
    rebuilt: dict[str, Any] = {}
    # Objects created here may be written into; any other object belongs to the caller's
    # document (or is shared with it) and is copied before a dotted key lands in it.
    owned = {id(rebuilt)}
    for key, original in node.items():
        value = changed.get(key, original)
        if "." not in key:
            target, leaf = rebuilt, key
        else:
            parts = key.split(".")
            if "" in parts:
                raise EventFormatError("field name has an empty part", path=key)
            target, leaf = _object_at(rebuilt, parts, key, owned), parts[-1]
        if leaf in target:
            _merge_into(target, leaf, value, key, owned)
        else:
            target[leaf] = value
    return rebuilt


def _may_have_dotted_key(node: dict[str, Any]) -> bool:
    """False only when no key at any depth below `node` holds a dot."""
    text = serialised(node)
    return text is None or serialised_has_dotted_key(text)


def _expanded_items(items: list[Any]) -> list[Any] | None:
    """The array with its objects expanded, or None when none of them changes."""
    changed: list[Any] | None = None
    for position, item in enumerate(items):
        if type(item) is dict and _may_have_dotted_key(item):
            new_item = expanded_everywhere(item)
            if new_item is not None:
                if changed is None:
                    changed = list(items)
                changed[position] = new_item
    return changed


def _object_at(root: dict[str, Any], parts: list[str], key: str, owned: set[int]) -> dict[str, Any]:
    """The object that receives the dotted `key` (all its parts but the last), created or
    copied on the way as needed."""
    target = root
    for position, part in enumerate(parts[:-1]):
        child = target.get(part)
        if child is None or (type(child) is dict and id(child) not in owned):
            child = target[part] = dict(child) if child is not None else {}
            owned.add(id(child))
        elif type(child) is not dict:
            prefix = ".".join(parts[: position + 1])
            raise EventFormatError(
                f"is both a value and an object (because of the key {key!r})", path=prefix
            )
        target = child
    return target


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
