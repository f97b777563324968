"""Field access on ECS documents, nested or with dotted keys, compiled once per path.

`{"process": {"name": "tar"}}`, `{"process.name": "tar"}` and
`{"process": {"name.x": 1}}`-style mixtures all resolve: at each level every split of the
remaining path into "key that exists here" + "rest" is tried, and the values found are merged,
as Elasticsearch does when it flattens `_source`. Arrays of objects are walked element-wise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

# A getter returns None when the field is absent, else the raw value found (scalar, list,
# or several hits merged into a list). Callers normalise with `values_of` / `doc_value`.
Getter = Callable[[Mapping[str, Any]], Any]


@lru_cache(maxsize=4096)
def getter(path: str) -> Getter:
    """A fast accessor for a dotted field path; cached, so callers can ask freely."""
    parts = tuple(path.split("."))
    if len(parts) == 1:
        key = parts[0]

        def get_flat(event: Mapping[str, Any]) -> Any:
            return event.get(key)

        return get_flat
    return _compile_walk(parts)


def _compile_walk(parts: tuple[str, ...]) -> Getter:
    full = ".".join(parts)
    head = parts[0]
    rest = _compile_walk(parts[1:]) if len(parts) > 2 else getter(parts[1])
    # Splits where the first key already spans several parts ("process.parent" + "name").
    longer_splits = [
        (".".join(parts[:cut]), getter(".".join(parts[cut:]))) for cut in range(2, len(parts))
    ]
    if len(parts) == 2:
        leaf = parts[1]

        def get_pair(event: Mapping[str, Any]) -> Any:
            # The common nested case without extra calls; flat "a.b" keys are merged in.
            inner = event.get(head)
            found = None
            if inner is not None:
                found = inner.get(leaf) if type(inner) is dict else _descend(inner, rest)
            flat = event.get(full)
            if flat is None:
                return found
            return flat if found is None else _merge(found, flat)

        return get_pair

    def get(event: Mapping[str, Any]) -> Any:
        inner = event.get(head)
        found = None if inner is None else _descend(inner, rest)
        for key, sub_getter in longer_splits:
            inner = event.get(key)
            if inner is not None:
                value = _descend(inner, sub_getter)
                if value is not None:
                    found = value if found is None else _merge(found, value)
        value = event.get(full)
        if value is not None:
            found = value if found is None else _merge(found, value)
        return found

    return get


@lru_cache(maxsize=4096)
def nested_getter(path: str) -> Getter:
    """The accessor for events known to be canonical: nested objects, no dotted keys at any
    depth (what `quarantine.events` normalisers produce). Such an event holds no flat
    variant of the path, so a plain walk finds what `getter` would, in fewer steps."""
    head, *tail = path.split(".")
    if not tail:
        return lambda event: event.get(head)
    # For arrays of objects on the way: the rest of the path below each depth.
    rests = [nested_getter(".".join(tail[depth:])) for depth in range(len(tail))]
    if len(tail) == 1:
        leaf = tail[0]

        def get_pair(event: Mapping[str, Any]) -> Any:
            inner = event.get(head)
            if type(inner) is dict:
                return inner.get(leaf)
            return None if inner is None else _descend(inner, rests[0])

        return get_pair

    def get_deep(event: Mapping[str, Any]) -> Any:
        node = event.get(head)
        for depth, key in enumerate(tail):
            if type(node) is not dict:
                return None if node is None else _descend(node, rests[depth])
            node = node.get(key)
        return node

    return get_deep


def field_getter(path: str, *, nested_only: bool = False) -> Getter:
    """`nested_getter` for canonical events, else the general `getter`."""
    return nested_getter(path) if nested_only else getter(path)


def _descend(inner: Any, sub_getter: Getter) -> Any:
    if type(inner) is dict or isinstance(inner, Mapping):
        return sub_getter(inner)
    if type(inner) is list:
        collected: list[Any] = []
        for element in inner:
            if isinstance(element, Mapping):
                value = sub_getter(element)
                if value is not None:
                    collected.append(value)
        return collected or None
    return None


def _merge(first: Any, second: Any) -> list[Any]:
    merged = list(first) if type(first) is list else [first]
    if type(second) is list:
        merged.extend(second)
    else:
        merged.append(second)
    return merged


def values_of(raw: Any) -> list[Any]:
    """All non-null leaf values of a raw field value, nested arrays flattened."""
    if raw is None:
        return []
    if type(raw) is not list:
        return [raw]
    out: list[Any] = []
    _flatten_into(raw, out)
    return out


def _flatten_into(items: list[Any], out: list[Any]) -> None:
    for item in items:
        if item is None:
            continue
        if type(item) is list:
            _flatten_into(item, out)
        else:
            out.append(item)


def sort_rank(value: Any) -> tuple[int, Any]:
    if isinstance(value, bool):
        return (0, value)
    if isinstance(value, int | float):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    return (3, repr(value))


def doc_value(raw: Any) -> Any:
    """The value a script sees for a field: for arrays, the smallest element.

    Elasticsearch evaluates functions and arithmetic on the first doc value, which is the
    smallest after sorting (numbers ascending, strings by code point), not `_source` order.
    """
    if raw is None:
        return None
    if type(raw) is not list:
        return raw
    values = values_of(raw)
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return min(values, key=sort_rank)


def distinct_sorted(raw: Any) -> list[Any]:
    """Distinct non-null values in doc-value order (used for multi-valued join keys)."""
    if type(raw) is not list:  # the usual single value, without building lists
        return [raw] if isinstance(raw, str | int | float) else []
    values = [value for value in values_of(raw) if isinstance(value, str | int | float)]
    if len(values) <= 1:
        return values
    unique: dict[tuple[type, Any], Any] = {}
    for value in values:
        unique.setdefault((type(value), value), value)
    return sorted(unique.values(), key=sort_rank)
