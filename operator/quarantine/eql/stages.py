"""Compiled event filters and join keys, shared by event queries, sequences and samples."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from quarantine.eql import ast
from quarantine.eql.categories import CategoryTest as CategoryTest  # re-exported
from quarantine.eql.categories import category_test as category_test  # re-exported
from quarantine.eql.codegen import Matcher, generate_matcher
from quarantine.eql.compiler import Compiler
from quarantine.eql.dispatch import Predicate
from quarantine.eql.fields import distinct_sorted
from quarantine.eql.values import converter_for

Event = Mapping[str, Any]
KeyPart = Callable[[Event], list[Any] | None]  # candidate values, or None: excluded


class Result(list[Any]):
    """One match: the events in stage order (None for a missing-event stage).

    `join_keys` holds the composite join key of a sequence or sample (empty for event
    queries); `ordinal` is the position of the event that completed it, for ordering.
    """

    join_keys: tuple[Any, ...]
    ordinal: int

    def __init__(
        self, events: list[Any], join_keys: tuple[Any, ...] = (), ordinal: int = 0
    ) -> None:
        super().__init__(events)
        self.join_keys = join_keys
        self.ordinal = ordinal


@dataclass(frozen=True, slots=True)
class CompiledFilter:
    """An event filter: the reference closure (`predicate`) and, built on first use per
    category field, its generated form (`matcher`), which also tests the category."""

    category: str | None
    predicate: Predicate
    node: ast.EventFilter
    compiler: Compiler
    generated: dict[str, Matcher] = field(default_factory=dict, compare=False)

    def matches(self, event: Event, in_category: CategoryTest) -> bool:
        if self.category is not None and not in_category(event):
            return False
        return self.predicate(event) is True

    def matcher(self, category_field: str) -> Matcher:
        """`event -> bool`: in the category and the condition true, as one generated call."""
        matcher = self.generated.get(category_field)
        if matcher is None:
            matcher = self.generated[category_field] = generate_matcher(
                self.compiler, self.node, category_field
            )
        return matcher


KeysOf = Callable[[Event], list[tuple[Any, ...]]]


@dataclass(frozen=True, slots=True)
class CompiledStage:
    filter: CompiledFilter
    key_parts: tuple[KeyPart, ...]
    missing: bool
    keys: KeysOf
    """Every composite join key of the event (a cartesian product over array keys)."""
    own_keys: bool = False
    """Whether the stage adds `by` keys of its own to the query's."""
    string_key_paths: tuple[str, ...] | None = None
    """The key fields' paths when every key is a plain field (no date conversion): an event
    whose key fields all hold strings has exactly that one key."""


def composite_keys(key_parts: tuple[KeyPart, ...], event: Event) -> list[tuple[Any, ...]]:
    """Every composite join key of the event (a cartesian product over array keys)."""
    if not key_parts:
        return [()]
    choices = []
    single = True
    for part in key_parts:
        values = part(event)
        if values is None:
            return []
        choices.append(values)
        single = single and len(values) == 1
    if single:
        return [tuple([values[0] for values in choices])]
    return list(itertools.product(*choices))


def keys_function(
    compiler: Compiler, exprs: tuple[ast.Expr, ...], paths: list[str] | None
) -> KeysOf:
    """`composite_keys` for these key expressions, with a fast path for the usual case: every
    key a plain field holding one string (whose only key is that string). `paths` are the
    key fields' paths when every key is a plain field (`_plain_string_paths`)."""
    parts = tuple(compile_key(compiler, expr) for expr in exprs)

    def general(event: Event) -> list[tuple[Any, ...]]:
        return composite_keys(parts, event)

    if not paths:
        return general
    return _generated_string_keys(compiler, paths, general)


def _generated_string_keys(compiler: Compiler, paths: list[str], general: KeysOf) -> KeysOf:
    """One generated call reading every key field (inline from nested objects when events are
    canonical); when each holds a string, they are the event's only key, else `general`
    decides."""
    namespace: dict[str, Any] = {"general": general}
    reads, values = _key_reads(compiler, paths, namespace)
    strings = " and ".join(f"type({value}) is str" for value in values)
    lines = ["def keys(event):", *_falling_back(reads, "return general(event)")]
    lines += [f"    if {strings}:", f"        return [({', '.join(values)},)]"]
    lines.append("    return general(event)")  # arrays, other types, objects in arrays
    exec(compile("\n".join(lines), "<eql join keys>", "exec"), namespace)
    keys: KeysOf = namespace["keys"]
    return keys


def absent_key_guard(
    stage: CompiledStage, waiting: Mapping[tuple[Any, ...], Any], test: Callable[[Event], bool]
) -> Callable[[Event], bool] | None:
    """`test` behind a cheaper refusal: an event whose only join key (every key field a
    string) is not in `waiting` gets False without `test` running. For a sequence's later
    stages, whose partials are filed by join key, most events are refused this way. None when
    the stage's keys are not all plain fields."""
    if stage.string_key_paths is None:
        return None
    namespace: dict[str, Any] = {"waiting": waiting, "test": test}
    reads, values = _key_reads(stage.filter.compiler, list(stage.string_key_paths), namespace)
    strings = " and ".join(f"type({value}) is str" for value in values)
    lines = ["def guarded(event):", *_falling_back(reads, "return test(event)")]
    lines += [
        f"    if {strings} and ({', '.join(values)},) not in waiting:",
        "        return False",
    ]
    lines.append("    return test(event)")
    exec(compile("\n".join(lines), "<eql join key guard>", "exec"), namespace)
    guarded: Callable[[Event], bool] = namespace["guarded"]
    return guarded


# What an absent or empty object on a key's path reads as (never written to).
_NOTHING: dict[str, Any] = {}


def _key_reads(
    compiler: Compiler, paths: list[str], namespace: dict[str, Any]
) -> tuple[list[str], list[str]]:
    """Statements reading each key field into `k0`, `k1`, ... (the getters they need are
    added to `namespace`), and those names.

    For canonical events the reads are inline and lean: an absent or empty object on the way
    reads as empty, and anything else that is not an object raises AttributeError, which the
    caller answers the general way (`_falling_back`)."""
    lines: list[str] = []
    objects: dict[tuple[str, ...], str] = {(): "event"}
    values = []
    namespace["NOTHING"] = _NOTHING
    for number, path in enumerate(paths):
        value = f"k{number}"
        values.append(value)
        if not compiler.nested_only:
            namespace[f"get{number}"] = compiler.getter(path)
            lines.append(f"    {value} = get{number}(event)")
            continue
        *parents, leaf = path.split(".")
        for depth in range(1, len(parents) + 1):
            if tuple(parents[:depth]) not in objects:
                above = objects[tuple(parents[: depth - 1])]
                name = objects[tuple(parents[:depth])] = f"o{len(objects)}"
                lines.append(f"    {name} = {above}.get({parents[depth - 1]!r}) or NOTHING")
        holder = objects[tuple(parents)]
        lines.append(f"    {value} = {holder}.get({leaf!r})")
    return lines, values


def _falling_back(reads: list[str], fallback: str) -> list[str]:
    """`reads` inside a `try` whose AttributeError (something other than an object on a key's
    path) runs `fallback`."""
    return [
        "    try:",
        *("    " + line for line in reads),
        "    except AttributeError:",
        f"        {fallback}",
    ]


def _plain_string_paths(compiler: Compiler, exprs: tuple[ast.Expr, ...]) -> list[str] | None:
    """The paths of the keys when each is a field read as it is (no date conversion)."""
    paths = []
    for expr in exprs:
        resolved = compiler.resolve(expr)
        if not isinstance(resolved, ast.Field):
            return None
        field_type = compiler.schema.get(resolved.path) if compiler.schema else None
        if field_type in ("date", "date_nanos"):
            return None
        paths.append(resolved.path)
    return paths


def compile_filter(compiler: Compiler, node: ast.EventFilter) -> CompiledFilter:
    return CompiledFilter(node.category, compiler.predicate(node.condition), node, compiler)


def compile_key(compiler: Compiler, expr: ast.Expr) -> KeyPart:
    """A join key: each distinct value of a field is a key; null only for `?optional` keys."""
    resolved = compiler.resolve(expr)
    if isinstance(resolved, ast.Literal):
        constant = resolved.value
        return lambda event: [constant]
    if isinstance(resolved, ast.Field):
        get = compiler.getter(resolved.path)
        optional = resolved.optional
        field_type = compiler.schema.get(resolved.path) if compiler.schema else None
        convert = converter_for(field_type) if field_type in ("date", "date_nanos") else None

        def field_key(event: Event) -> list[Any] | None:
            values = distinct_sorted(get(event))
            if convert is not None:
                values = sorted({convert(v) for v in values} - {None})
            if values:
                return values
            return [None] if optional else None

        return field_key
    value = compiler.value(resolved)

    def expression_key(event: Event) -> list[Any] | None:
        result = value(event)
        return None if result is None else [result]

    return expression_key


def compile_stage(
    compiler: Compiler, query_keys: tuple[ast.Expr, ...], stage: ast.Stage
) -> CompiledStage:
    exprs = (*query_keys, *stage.keys)
    parts = tuple(compile_key(compiler, key) for key in exprs)
    paths = _plain_string_paths(compiler, exprs)
    keys = keys_function(compiler, exprs, paths)
    return CompiledStage(
        compile_filter(compiler, stage.filter),
        parts,
        stage.missing,
        keys,
        bool(stage.keys),
        tuple(paths) if paths else None,
    )
