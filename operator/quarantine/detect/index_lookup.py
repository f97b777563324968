"""One generated function per index level: every field table looked up in a single call.

The generic walk (`RuleIndex` before it is sealed) reads each table's path from the event
root and calls per value. This writes the same lookups as straight-line Python: objects on a
shared path (`process` for `process.name`, `process.args`, `process.parent.name`) are read
once, string values are looked up in each table's memo inline, and only what the inline form
does not cover (an array of objects on the way, a value not remembered yet) calls back into
the table. The result is the same mask the generic walk gives (`tests/unit/detect/`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

Lookup = Callable[[dict[str, Any], int], int]
"""(event, admitted bits) -> candidate mask."""


class FieldTable(Protocol):
    """What the generated code needs from a table (see `index._FieldTable`)."""

    path: tuple[str, ...]
    memo: dict[str, int]

    def mask_of(self, value: Any) -> int: ...

    def walk_mask(self, event: dict[str, Any]) -> int: ...


@dataclass
class _PathNode:
    """Tables by path, as a tree of object keys."""

    tables: list[int] = field(default_factory=list)  # tables whose path ends here
    children: dict[str, _PathNode] = field(default_factory=dict)

    def all_tables(self) -> list[int]:
        found = list(self.tables)
        for child in self.children.values():
            found.extend(child.all_tables())
        return found


def generate_lookup(
    eager: Sequence[FieldTable],
    deferred: Sequence[FieldTable],
    width: int,
    refinements: Sequence[int],
    always: int,
    *,
    gated: Sequence[tuple[FieldTable, int]] = (),
) -> Lookup:
    """`event -> candidate mask` for one bucket whose tables stack their levels: level k's
    bits sit `k * width` bits up. The members of refinement level k (`refinements[k - 1]`)
    stay candidates only if their level-k clause holds too; the unconditional rules (`always`)
    join at the end. `deferred` tables serve refinement levels only, so they are read only
    when a first-level candidate needs refining. Each `gated` table comes with the only bits
    it selects (later sequence stages), and is read only when the caller admits one of them
    (`lookup(event, admitted)`)."""
    tables = [*eager, *(table for table, _ in gated), *deferred]
    low = (1 << width) - 1
    refined = 0
    for members in refinements:
        refined |= members
    lines = ["def lookup(event, admitted=-1):", "    found = 0"]
    counter = [0]
    _emit_children(lines, _path_tree(tables, range(len(eager))), "event", 1, counter)
    for position, (_, bits) in enumerate(gated, start=len(eager)):
        lines.append(f"    if admitted & {bits}:")
        _emit_children(lines, _path_tree(tables, [position]), "event", 2, counter)
    lines += [f"    first = found & {low}", f"    if not first & {refined}:"]
    lines.append(f"        return first | {always}")
    deferred_tree = _path_tree(tables, range(len(eager) + len(gated), len(tables)))
    _emit_children(lines, deferred_tree, "event", 1, counter)
    for level, members in enumerate(refinements, start=1):
        if members:
            lines += [
                f"    if first & {members}:",
                f"        first &= {~members} | (found >> {level * width}) & {low}",
            ]
    lines.append(f"    return first | {always}")
    namespace: dict[str, Any] = {}
    for position, table in enumerate(tables):
        namespace[f"memo{position}"] = table.memo
        namespace[f"mask{position}"] = table.mask_of
        namespace[f"walk{position}"] = table.walk_mask
    exec(compile("\n".join(lines), "<index lookup>", "exec"), namespace)
    lookup: Lookup = namespace["lookup"]
    return lookup


def _path_tree(tables: Sequence[FieldTable], positions: Iterable[int]) -> _PathNode:
    root = _PathNode()
    for position in positions:
        node = root
        for key in tables[position].path:
            node = node.children.setdefault(key, _PathNode())
        node.tables.append(position)
    return root


def _emit_children(
    lines: list[str], node: _PathNode, source: str, depth: int, counter: list[int]
) -> None:
    pad = "    " * depth
    for key, child in node.children.items():
        counter[0] += 1
        var = f"v{counter[0]}"
        lines.append(f"{pad}{var} = {source}.get({key!r})")
        for position in child.tables:
            _emit_leaf(lines, var, position, depth, many=key == "args")
        if child.children:
            lines.append(f"{pad}if type({var}) is dict:")
            _emit_children(lines, child, var, depth + 1, counter)
            # An array of objects (or a scalar) on the way: the table's own walk decides.
            lines.append(f"{pad}elif {var} is not None:")
            for position in child.all_tables():
                if position not in child.tables:
                    lines.append(f"{pad}    found |= walk{position}(event)")


def _emit_leaf(lines: list[str], var: str, position: int, depth: int, many: bool) -> None:
    pad = "    " * depth
    memo, mask = f"memo{position}", f"mask{position}"
    string_case = [
        f"{pad}    m = {memo}.get({var})",
        f"{pad}    found |= {mask}({var}) if m is None else m",
    ]
    list_case = [
        f"{pad}    for item in {var}:",
        f"{pad}        m = {memo}.get(item) if type(item) is str else None",
        f"{pad}        found |= {mask}(item) if m is None else m",
    ]
    # Test the usual shape first: an array for argument lists, a string otherwise.
    first, second = (list_case, string_case) if many else (string_case, list_case)
    first_test, second_test = ("list", "str") if many else ("str", "list")
    lines += [f"{pad}if type({var}) is {first_test}:", *first]
    lines += [f"{pad}elif type({var}) is {second_test}:", *second]
    lines += [f"{pad}elif {var} is not None:", f"{pad}    found |= {mask}({var})"]
