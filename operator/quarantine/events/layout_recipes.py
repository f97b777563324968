"""Expansion recipes generated for document layouts that recur in a stream.

Events from one source repeat the same objects with the same keys (cloud_defend's container is
always `{"id", "image.name", "image.tag"}`). When no key of an object is also a prefix of
another (`a` beside `a.b`), its expansion depends on the keys alone, never on the values: each
value lands at its path, in new objects created in order of first appearance, and nothing can
conflict. A recipe is a generated function that does exactly that for the layouts seen with
one top-level shape, checking first that the document has one of them; it is several times
faster than the general rebuild.

Generating costs far more than one general rebuild, so a layout gets a recipe only once it
has recurred (`Recurrences`): a stream of ever-new keys never pays for it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

# `recipe(document)`: the expanded document, or None when the document has none of the
# recipe's layouts. A recipe looks at the holders' keys only: the caller must have counted
# exactly the layouts' number of dotted keys in the whole document, which vouches for the rest.
Recipe = Callable[[dict[str, Any]], dict[str, Any] | None]


class KeyLayout(NamedTuple):
    """The objects of a document that hold dotted keys, with all their keys in order."""

    holders: tuple[tuple[str, tuple[str, ...]], ...]  # (top-level key, that object's keys)
    top_level_keys: tuple[str, ...] | None  # all top-level keys, when the document holds some

    def dotted_keys(self) -> int:
        """How many dotted keys a document with this layout holds."""
        keys = [key for _, holder_keys in self.holders for key in holder_keys]
        keys += self.top_level_keys or ()
        return sum("." in key for key in keys)


# Beyond these a layout is left to the general rebuild (and generated code stays small).
_MAX_KEYS = 256
_MAX_PARTS = 16
# Part -> the object below it, or the Python expression of the value that lands there.
_Nesting = dict[str, "_Nesting | _Value"]


class _Value(str):
    """A Python expression in generated code (as opposed to a nested object)."""


def can_have_recipe(layout: KeyLayout) -> bool:
    """Whether the expansion of `layout` depends on the keys alone (no key is empty-parted
    or a prefix of another) and the layout is small enough to be worth a recipe."""
    return _recipe_block(layout, 0) is not None


def compile_recipe(layouts: Sequence[KeyLayout]) -> Recipe:
    """One function trying `layouts` in order (each must pass `can_have_recipe`)."""
    lines = ["def recipe(document):"]
    namespace: dict[str, Any] = {}
    for position, layout in enumerate(layouts):
        block = _recipe_block(layout, position)
        if block is None:
            raise ValueError(f"layout {position} cannot have a recipe: {layout}")
        lines += block
        # The caller's own key tuples: usually the very key objects of later documents (the
        # decoder reuses them), which makes the comparisons identity checks.
        for number, (_, keys) in enumerate(layout.holders):
            namespace[f"keys{position}_{number}"] = keys
        namespace[f"shape{position}"] = layout.top_level_keys
    lines.append("    return None")
    exec(compile("\n".join(lines) + "\n", "<layout recipe>", "exec"), namespace)
    recipe: Recipe = namespace["recipe"]
    return recipe


def compile_layout_check(layouts: Sequence[KeyLayout]) -> Callable[[dict[str, Any]], bool]:
    """`document -> bool`: whether the document holds the dotted keys of one of `layouts`
    where that layout holds them (each holder an object with those keys among its own; the
    top-level ones in the document itself).

    The caller must have counted exactly that layout's number of dotted keys in the whole
    document (at least as many as it holds): then those are all of them, wherever else the
    document differs from the layout (other keys, other values)."""
    lines = [
        "def check(document):",
        *layout_check_lines(layouts, "return True"),
        "    return False",
    ]
    namespace: dict[str, Any] = {}
    exec(compile("\n".join(lines) + "\n", "<layout check>", "exec"), namespace)
    check: Callable[[dict[str, Any]], bool] = namespace["check"]
    return check


def layout_check_lines(layouts: Sequence[KeyLayout], on_match: str) -> list[str]:
    """Statements (indented for a function body) that run `on_match` when `document` holds
    the dotted keys of one of `layouts` where it holds them (`compile_layout_check`), and
    fall through otherwise. They name `document` and `h<position>_<number>` only."""
    lines: list[str] = []
    for position, layout in enumerate(layouts):
        reads = [
            f"h{position}_{number} = document[{name!r}]"
            for number, (name, _) in enumerate(layout.holders)
        ]
        checks: list[str] = []
        for number, (_, keys) in enumerate(layout.holders):
            holder = f"h{position}_{number}"
            checks.append(f"type({holder}) is dict")
            checks += [f"{key!r} in {holder}" for key in keys if "." in key]
        checks += [f"{key!r} in document" for key in layout.top_level_keys or () if "." in key]
        if reads:
            # A missing holder means another layout; the lookups are cheapest unguarded.
            lines += ["    try:", *_indented(2, reads), "    except KeyError:", "        pass"]
            lines += ["    else:", *_indented(1, _run_if(checks, on_match))]
        else:
            lines += _run_if(checks, on_match)
    return lines


def _run_if(checks: list[str], statement: str) -> list[str]:
    return [f"    if {' and '.join(checks) or 'True'}:", f"        {statement}"]


def dotted_key_paths(layout: KeyLayout) -> list[tuple[str, ...]]:
    """The field paths of the layout's dotted keys."""
    paths = [(name, *key.split(".")) for name, keys in layout.holders for key in keys if "." in key]
    paths += [tuple(key.split(".")) for key in layout.top_level_keys or () if "." in key]
    return paths


def _recipe_block(layout: KeyLayout, position: int) -> list[str] | None:
    """The source lines that expand a document with `layout` (position names its parts)."""
    values: dict[str, _Value] = {}
    reads: list[str] = []
    checks: list[str] = []
    for number, (name, keys) in enumerate(layout.holders):
        holder = f"h{position}_{number}"
        nesting = _nesting_of(keys, {key: _Value(f"{holder}[{key!r}]") for key in keys})
        if nesting is None:
            return None
        # repr() writes any str as a valid Python literal, so keys cannot escape into code.
        reads.append(f"{holder} = document[{name!r}]")
        checks.append(f"type({holder}) is dict and tuple({holder}) == keys{position}_{number}")
        values[name] = _Value(_dict_literal(nesting))
    shape = layout.top_level_keys
    if shape is None:
        build = ["expanded = document.copy()"]
        build += [f"expanded[{name!r}] = {value}" for name, value in values.items()]
        build.append("return expanded")
        # A missing holder means another layout; the lookups are cheapest unguarded.
        return [
            "    try:",
            *_indented(2, reads),
            "    except KeyError:",
            "        pass",
            "    else:",
            f"        if {' and '.join(checks)}:",
            *_indented(3, build),
        ]
    top = _nesting_of(shape, {key: values.get(key, _Value(f"document[{key!r}]")) for key in shape})
    if top is None:
        return None
    return [
        f"    if tuple(document) == shape{position}:",  # the shape names every holder
        *_indented(2, reads),
        f"        if {' and '.join(checks) or 'True'}:",
        f"            return {_dict_literal(top)}",
    ]


def _indented(level: int, lines: list[str]) -> list[str]:
    return [f"{'    ' * level}{line}" for line in lines]


class Recurrences:
    """Tells, once, when a layout has been seen `times` times; forgets everything when it has
    `limit` layouts in mind."""

    def __init__(self, times: int, limit: int) -> None:
        self._times = times
        self._limit = limit
        self._seen: dict[Any, int] = {}

    def seen_enough(self, layout: Any) -> bool:
        seen = self._seen.get(layout, 0) + 1
        if seen == 1 and len(self._seen) >= self._limit:
            self._seen.clear()
        self._seen[layout] = seen
        return seen == self._times

    def forget(self) -> None:
        self._seen.clear()


def _nesting_of(keys: Sequence[str], values: dict[str, _Value]) -> _Nesting | None:
    """Where each key's value lands; None when a key has an empty part or is a prefix of
    another (the general rebuild then decides, merging or refusing by value)."""
    if len(keys) > _MAX_KEYS:
        return None
    root: _Nesting = {}
    for key in keys:
        parts = key.split(".")
        if "" in parts or len(parts) > _MAX_PARTS:
            return None
        node = root
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                return None
            node = child
        if parts[-1] in node:
            return None
        node[parts[-1]] = values[key]
    return root


def _dict_literal(nesting: _Nesting) -> str:
    entries = [
        f"{part!r}: {below if isinstance(below, _Value) else _dict_literal(below)}"
        for part, below in nesting.items()
    ]
    return "{" + ", ".join(entries) + "}"
