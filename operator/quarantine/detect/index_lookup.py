"""The index's lookups as generated code: every field table of a bucket in one body, and
the buckets behind one dispatch on the event's category.

The generic walk (`RuleIndex` before it is sealed) reads each table's path from the event
root and calls per value. This writes the same lookups as straight-line Python, in two forms:

- the general form reads objects on a shared path once (`process` for `process.name`,
  `process.args`, `process.parent.name`), looks string values up in each table's memo
  inline, and calls back into the table for anything else (an array of objects on the way,
  a value not remembered yet);
- the lean form, tried first, covers the shapes canonical events have: objects or nothing
  on the way, a string value (or nothing) or an array of them at the end, each answered by
  one subscript of the table's memo, a plain dict; a value the memo does not hold yet is
  worked out (and remembered) by the table where it stands. Any other shape makes it raise,
  and the general form takes the event. It runs about half the interpreter instructions of
  the general form.

Both give the mask the generic walk gives (`tests/unit/detect/`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

Lookup = Callable[[dict[str, Any], int], int]
"""(event, admitted bits) -> candidate mask."""
AdmittedLookup = Callable[[dict[str, Any]], int]
"""event -> candidate mask within the admitted bits it was made for."""


class FieldTable(Protocol):
    """What the generated code needs from a table (see `index._FieldTable`)."""

    path: tuple[str, ...]

    @property
    def memo(self) -> dict[str | None, int]:
        """Masks by value: the strings seen so far, and None (absent) selecting nothing."""
        ...

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


def generate_lookup(body: BucketBody) -> Lookup:
    """One bucket's lookup as a function of its own: `lookup(event, admitted=-1)`, the lean
    form with the general one behind it."""
    lines = [
        "def general(event, admitted=-1):",
        *body.lines,
        "def lookup(event, admitted=-1):",
        "    try:",
        *_indented(body.lean_lines, 1),
        "    except (TypeError, AttributeError, KeyError):",
        "        return general(event, admitted)",
    ]
    lookup: Lookup = _compiled(lines, {**body.namespace, "NOTHING": _NOTHING}, "lookup")
    return lookup


def generate_candidate_mask(
    inline: dict[str, BucketBody],
    others: dict[str, Lookup],
    uncategorised: BucketBody,
    several: Callable[[list[Any], dict[str, Any], int], int],
) -> Lookup:
    """`event -> candidate mask` for a whole index: reads `event.category` and runs that
    bucket's lookup, the `inline` buckets' bodies written in place (no call per event), the
    `others` called; an event in none of them (or in no category) gets `uncategorised`. A
    category array of more than one string goes to `several(categories, event, admitted)`.

    The function returned tries the lean form first: an event whose category is one inline
    bucket's, as a one-element array (ECS writes it so), is looked up there; anything else,
    and any shape the lean body refuses, goes to the general dispatch."""
    mask: Lookup = _compiled(
        _dispatch_lines(inline, others, uncategorised, None),
        _dispatch_namespace(inline, others, uncategorised, several),
        "candidate_mask",
    )
    return mask


def generate_admitted_mask(
    inline: dict[str, BucketBody],
    others: dict[str, Lookup],
    uncategorised: BucketBody,
    several: Callable[[list[Any], dict[str, Any], int], int],
    admitted: int,
) -> AdmittedLookup:
    """`event -> candidate_mask(event, admitted) & admitted` for one `admitted`, the bodies
    made for it (`bucket_body(..., admitted=)`): no test of `admitted` per event, and the
    final `&` folded into one the bodies make anyway."""
    lookup: AdmittedLookup = _compiled(
        _dispatch_lines(inline, others, uncategorised, admitted),
        _dispatch_namespace(inline, others, uncategorised, several),
        "candidate_mask",
    )
    return lookup


def _dispatch_namespace(
    inline: dict[str, BucketBody],
    others: dict[str, Lookup],
    uncategorised: BucketBody,
    several: Callable[[list[Any], dict[str, Any], int], int],
) -> dict[str, Any]:
    namespace: dict[str, Any] = {"several": several, "others": others, "NOTHING": _NOTHING}
    for number, (category, body) in enumerate(inline.items()):
        namespace.update(body.namespace)
        namespace[f"only{number}"] = [category]
    namespace.update(uncategorised.namespace)
    return namespace


def _dispatch_lines(
    inline: dict[str, BucketBody],
    others: dict[str, Lookup],
    uncategorised: BucketBody,
    admitted: int | None,
) -> list[str]:
    """The dispatch's source; with `admitted` given, for `generate_admitted_mask` (its
    functions take the event alone, and the calls out mask their answers)."""
    if admitted is None:
        signature, passed, kept = "(event, admitted=-1)", "admitted", ""
    else:
        signature, passed, kept = "(event)", str(admitted), f" & {admitted}"
    lines = [
        f"def general{signature}:",
        "    meta = event.get('event')",
        "    category = meta.get('category') if type(meta) is dict else None",
        "    if type(category) is list:",
        "        if len(category) != 1 or type(category[0]) is not str:",
        f"            return several(category, event, {passed}){kept}",
        "        category = category[0]",
    ]
    for category, body in inline.items():
        lines.append(f"    if category == {category!r}:")
        lines += ["    " + line for line in body.lines]
    if others:
        lines += [
            "    lookup = others.get(category) if type(category) is str else None",
            "    if lookup is not None:",
            f"        return lookup(event, {passed}){kept}",
        ]
    lines += uncategorised.lines
    lines += [
        f"def candidate_mask{signature}:",
        "    try:",
        "        category = (event.get('event') or NOTHING).get('category')",
    ]
    for number, body in enumerate(inline.values()):
        lines.append(f"        if category == only{number}:")
        lines += _indented(body.lean_lines, 2)
    lines += [
        "    except (TypeError, AttributeError, KeyError):",
        "        pass",
        f"    return general(event{'' if admitted is not None else ', admitted'})",
    ]
    return lines


def _indented(lines: list[str], levels: int) -> list[str]:
    return [("    " * levels) + line for line in lines]


def _compiled(lines: list[str], namespace: dict[str, Any], name: str) -> Any:
    """The function `name` defined by `lines` (the callers annotate what it is)."""
    exec(compile("\n".join(lines), "<index lookup>", "exec"), namespace)
    return namespace[name]


_body_numbers = itertools.count(1)  # names the bodies' tables apart, to share a function


class BucketBody(NamedTuple):
    """The statements of one bucket's lookup (ending in `return`) and the names they use:
    the general form, which takes any event, and the lean one, which raises TypeError or
    AttributeError on shapes it leaves to the general form."""

    lines: list[str]
    namespace: dict[str, Any]
    lean_lines: list[str]


def bucket_body(
    eager: Sequence[FieldTable],
    deferred: Sequence[tuple[FieldTable, int]],
    width: int,
    refinements: Sequence[int],
    always: int,
    *,
    gated: Sequence[tuple[FieldTable, int]] = (),
    admitted: int | None = None,
) -> BucketBody:
    """`event -> candidate mask` for one bucket whose tables stack their levels (level k's
    bits sit `k * width` bits up). The members of refinement level k (`refinements[k - 1]`)
    stay candidates only if their level-k clause holds too; the unconditional rules (`always`)
    join at the end. `deferred` tables serve refinement levels only: each comes with the
    first-level bits of the rules it refines, and is read only when one of them is a
    candidate (no other rule's refinement reads its answer). Each `gated` table comes with
    the only bits it selects (later sequence stages), and is read only when the caller admits
    one of them (the lookup's `admitted` argument).

    With `admitted` given here, the body is made for those bits alone: the gated tables they
    admit are read unconditionally, the others never, and the answer lies within them."""
    prefix = f"b{next(_body_numbers)}_"
    tables = [*eager, *(table for table, _ in gated), *(table for table, _ in deferred)]
    low = (1 << width) - 1
    refined = 0
    for members in refinements:
        refined |= members
    eager_tree = _path_tree(tables, range(len(eager)))
    gated_trees = [
        (bits, _path_tree(tables, [position]))
        for position, (_, bits) in enumerate(gated, start=len(eager))
    ]
    # Deferred tables refining the same rules are read together (sharing their objects).
    deferred_by_bits: dict[int, list[int]] = {}
    for position, (_, bits) in enumerate(deferred, start=len(eager) + len(gated)):
        deferred_by_bits.setdefault(bits, []).append(position)
    deferred_trees = [
        (bits, _path_tree(tables, positions)) for bits, positions in deferred_by_bits.items()
    ]
    if admitted is not None:  # refining only ever removes bits: mask them out first
        low &= admitted
        always &= admitted
    # After the first-level reads: done unless a candidate needs refining.
    middle = [f"    first = found & {low}", f"    if not first & {refined}:"]
    # Every bitwise operation makes a new integer (masks exceed 30 bits): none for `| 0`.
    result = f"first | {always}" if always else "first"
    middle.append(f"        return {result}")
    tail: list[str] = []
    for level, members in enumerate(refinements, start=1):
        if members:
            # `first` lies within `low`: higher levels' bits shifted down drop out of the `&`,
            # and every operand stays positive (a negative one costs more to combine).
            tail += [
                f"    if first & {members}:",
                f"        first &= {low & ~members} | (found >> {level * width})",
            ]
    tail.append(f"    return {result}")
    bodies: list[list[str]] = []
    for emit in (_emit_children, _emit_lean_children):
        lines = ["    found = 0"]
        counter = [0]
        emit(lines, eager_tree, "event", 1, counter, prefix)
        for bits, tree in gated_trees:
            if admitted is None:
                lines.append(f"    if admitted & {bits}:")
                emit(lines, tree, "event", 2, counter, prefix)
            elif admitted & bits:
                emit(lines, tree, "event", 1, counter, prefix)
        lines += middle
        for bits, tree in deferred_trees:
            lines.append(f"    if first & {bits}:")
            emit(lines, tree, "event", 2, counter, prefix)
        bodies.append(lines + tail)
    namespace: dict[str, Any] = {}
    for position, table in enumerate(tables):
        namespace[f"{prefix}{position}memo"] = table.memo
        namespace[f"{prefix}{position}mask"] = table.mask_of
        namespace[f"{prefix}{position}walk"] = table.walk_mask
    return BucketBody(bodies[0], namespace, bodies[1])


def _path_tree(tables: Sequence[FieldTable], positions: Iterable[int]) -> _PathNode:
    root = _PathNode()
    for position in positions:
        node = root
        for key in tables[position].path:
            node = node.children.setdefault(key, _PathNode())
        node.tables.append(position)
    return root


def _emit_children(
    lines: list[str], node: _PathNode, source: str, depth: int, counter: list[int], prefix: str
) -> None:
    """Reads of the tree's objects and values; table names carry the body's `prefix`."""
    pad = "    " * depth
    for key, child in node.children.items():
        counter[0] += 1
        var = f"v{counter[0]}"
        lines.append(f"{pad}{var} = {source}.get({key!r})")
        for position in child.tables:
            _emit_leaf(lines, var, f"{prefix}{position}", depth, many=key == "args")
        if child.children:
            lines.append(f"{pad}if type({var}) is dict:")
            _emit_children(lines, child, var, depth + 1, counter, prefix)
            # An array of objects (or a scalar) on the way: the table's own walk decides.
            lines.append(f"{pad}elif {var} is not None:")
            for position in child.all_tables():
                if position not in child.tables:
                    lines.append(f"{pad}    found |= {prefix}{position}walk(event)")


def _emit_leaf(lines: list[str], var: str, table: str, depth: int, many: bool) -> None:
    pad = "    " * depth
    memo, mask = f"{table}memo", f"{table}mask"
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


def _or_answer(pad: str, table: str, value: str) -> list[str]:
    """`found |= ` the table's answer for `value` (an expression without side effects): its
    memo's, or, for a value the memo does not hold (new, or not a string), the table's own,
    worked out where it stands (`try` costs nothing until it catches), so a stream of ever-new
    values does not send every event to the general form. Skipped when the answer selects
    nothing (most values): the masks are wider than a machine word, so every `|` makes a new
    integer, even with 0."""
    return [
        f"{pad}try:",
        f"{pad}    m = {table}memo[{value}]",
        f"{pad}except KeyError:",
        f"{pad}    m = {table}mask({value})",
        f"{pad}if m:",
        f"{pad}    found |= m",
    ]


# Fields whose values are usually arrays in ECS: the lean form loops over an array there, and
# elsewhere hands an array to the general form (TypeError: a list is not hashable).
_ARRAY_FIELDS = frozenset({"args", "category", "type", "tags"})
# What an absent or empty object on the way reads as in the lean form (never written to).
_NOTHING: dict[str, Any] = {}


def _emit_lean_children(
    lines: list[str], node: _PathNode, source: str, depth: int, counter: list[int], prefix: str
) -> None:
    """The lean reads: `memo[value]` answers a string seen before or an absent value, the
    table any other value, an absent or empty object reads as empty, and anything else raises,
    which sends the event to the general form: TypeError (an array or object where a value was
    expected) or AttributeError (something other than an object on the way)."""
    pad = "    " * depth
    for key, child in node.children.items():
        read = f"{source}.get({key!r})"
        if not child.children and len(child.tables) == 1 and key not in _ARRAY_FIELDS:
            lines += _or_answer(pad, f"{prefix}{child.tables[0]}", read)
            continue
        counter[0] += 1
        var = f"v{counter[0]}"
        if not child.tables:
            lines.append(f"{pad}{var} = {read} or NOTHING")
            _emit_lean_children(lines, child, var, depth, counter, prefix)
            continue
        lines.append(f"{pad}{var} = {read}")
        for position in child.tables:
            table = f"{prefix}{position}"
            if key in _ARRAY_FIELDS:
                lines += [
                    f"{pad}if type({var}) is list:",
                    f"{pad}    for item in {var}:",
                    *_or_answer(f"{pad}        ", table, "item"),
                    f"{pad}else:",
                    *_or_answer(f"{pad}    ", table, var),
                ]
            else:
                lines += _or_answer(pad, table, var)
        if child.children:
            lines.append(f"{pad}{var} = {var} or NOTHING")
            _emit_lean_children(lines, child, var, depth, counter, prefix)
