"""Dotted keys expanded into nested objects: the canonical layout of every event.

ECS documents may write a field as `{"container": {"image.name": "x"}}` or
`{"process.name": "sh"}`; Elastic Defend for Containers does. This runs on every event, so it
avoids visiting objects in Python where it can:

- Serialising a document in C (orjson) and scanning the bytes tells whether any key holds a
  dot, at a fraction of the cost of walking the objects. Most documents stop there.
- Documents from one source have one layout. The objects that held dotted keys in the last
  document of the same top-level shape are remembered; when counting the dotted keys of the
  new document (in the bytes again) finds exactly those objects' dotted keys, only they are
  rebuilt. Any other document takes the general walk.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from quarantine.events.errors import EventFormatError

# In compact JSON every key is a string followed by `":`: from a dot in a key, the pattern
# runs over the rest of the key to that `":`. A string value is never followed by `":`, so
# each dotted key gives exactly one match. (A dot in a number can give a spurious match,
# which only makes a count too high and sends the document the long way.) The plain pattern
# is exact for text without escapes; the other one reads escapes (`\"` inside a key).
_DOTTED_KEY = re.compile(rb'\.[^"]*":')
_DOTTED_KEY_WITH_ESCAPES = re.compile(rb'\.[^"\\]*(?:\\.[^"\\]*)*":', re.DOTALL)
# Layouts remembered (by top-level keys); beyond this the memory starts over.
_LAYOUT_LIMIT = 256
# Top-level keys -> the objects holding dotted keys (None: the document itself).
_layouts: dict[tuple[str, ...], tuple[str | None, ...]] = {}


def expand_dotted(document: dict[str, Any]) -> dict[str, Any]:
    """The canonical form of an ECS document: dotted keys become nested objects.

    Objects without dotted keys anywhere below them are kept as they are, not copied; only
    the objects on the way to a dotted key are rebuilt, and the input is never written to.
    Objects inside arrays are expanded too. A key that is both a value and an object
    (``{"a": 1, "a.b": 2}``) is refused, naming the key.
    """
    text = _json(document)
    if text is not None:
        dotted = len(_dotted_key_pattern(text).findall(text))
        if not dotted:
            return document
        shape = tuple(document)
        holders = _layouts.get(shape)
        if holders is not None and _dotted_keys_in(document, holders) == dotted:
            return _expand_holders(document, holders)
        expanded = _expanded(document)
        _remember_layout(shape, document)
        return document if expanded is None else expanded
    expanded = _expanded(document)
    return document if expanded is None else expanded


def _json(node: dict[str, Any]) -> bytes | None:
    try:
        return orjson.dumps(node)
    except TypeError:  # not plain JSON data (a huge integer, a Python object)
        return None


def _dotted_key_pattern(text: bytes) -> re.Pattern[bytes]:
    return _DOTTED_KEY_WITH_ESCAPES if b"\\" in text else _DOTTED_KEY


def _may_have_dotted_key(node: dict[str, Any]) -> bool:
    """False only when no key at any depth below `node` holds a dot."""
    text = _json(node)
    return text is None or _dotted_key_pattern(text).search(text) is not None


def _dotted_keys_in(document: dict[str, Any], holders: tuple[str | None, ...]) -> int:
    """How many dotted keys the holder objects hold directly (-1 if one is not an object)."""
    count = 0
    for name in holders:
        holder = document if name is None else document.get(name)
        if type(holder) is not dict:
            return -1
        count += len([key for key in holder if "." in key])
    return count


def _expand_holders(document: dict[str, Any], holders: tuple[str | None, ...]) -> dict[str, Any]:
    """The document with the holders' dotted keys expanded, when the count says nothing
    below them (or elsewhere) holds another."""
    changed: dict[str, Any] = {}
    for name in holders:
        if name is not None:
            try:
                changed[name] = _rebuild(document[name], {})
            except EventFormatError as error:
                raise error.within(name) from None
    if None in holders:
        return _rebuild(document, changed)
    return {**document, **changed}


def _remember_layout(shape: tuple[str, ...], document: dict[str, Any]) -> None:
    holders: list[str | None] = [None] if _has_dot_key(document) else []
    holders += [
        name for name, value in document.items() if type(value) is dict and _has_dot_key(value)
    ]
    if len(_layouts) >= _LAYOUT_LIMIT:
        _layouts.clear()
    _layouts[shape] = tuple(holders)


def _has_dot_key(node: dict[str, Any]) -> bool:
    # One C-level scan of all the keys (JSON keys are always strings).
    return "." in "".join(node)


def _expanded(node: dict[str, Any]) -> dict[str, Any] | None:
    """`node` with its dotted keys expanded at every depth, in one pass; None when there are
    none (so the caller keeps the object as it is). Only objects that may hold a dotted key
    are visited."""
    changed: dict[str, Any] | None = None
    for key, value in node.items():
        kind = type(value)
        new_value: dict[str, Any] | list[Any] | None
        try:
            if kind is dict:
                new_value = _expanded(value) if _may_have_dotted_key(value) else None
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
    if not _has_dot_key(node):
        if changed is None:
            return None
        return {**node, **changed}  # only objects below changed: a shallow copy does
    return _rebuild(node, changed or {})


def _expanded_items(items: list[Any]) -> list[Any] | None:
    """The array with its objects expanded, or None when none of them changes."""
    changed: list[Any] | None = None
    for position, item in enumerate(items):
        if type(item) is dict and _may_have_dotted_key(item):
            new_item = _expanded(item)
            if new_item is not None:
                if changed is None:
                    changed = list(items)
                changed[position] = new_item
    return changed


def _rebuild(node: dict[str, Any], changed: dict[str, Any]) -> dict[str, Any]:
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
