"""`or` over branches guarded by one field's literal values, evaluated like a `switch`.

Rules often read `(process.name == "ssh" and ...) or (process.name in ("nc", "ncat") and ...)
or ...`: every branch requires the same field to equal one of a few strings. A branch whose
guard is false is false whatever else it says, so for an event whose field holds a string
only the branches that value can satisfy (and the unguarded ones) need evaluating. Any other
value (missing, array, number) evaluates every branch, so the result never changes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from quarantine.eql import ast
from quarantine.eql.fields import Getter
from quarantine.eql.wildcard import has_wildcard

Event = Mapping[str, Any]
Predicate = Callable[[Event], bool | None]


def any_true(predicates: Sequence[Predicate], event: Event) -> bool | None:
    """Three-valued OR: True if any is True, else None (unknown) if any is null, else False."""
    unknown = False
    for predicate in predicates:
        result = predicate(event)
        if result is True:
            return True
        if result is None:
            unknown = True
    return None if unknown else False


# Below this many guarded branches a plain `or` is as fast.
MIN_GUARDED_BRANCHES = 3
# Field values remembered with the branches they select; beyond this the memory starts over.
_MEMO_LIMIT = 4096


@dataclass(frozen=True)
class Guard:
    """A conjunct that holds only when `field` equals one of `values` (lower-cased when the
    comparison is case-insensitive, as the compiled test lower-cases the event value)."""

    field: ast.Field
    values: frozenset[str]
    insensitive: bool


def literal_guard(expr: ast.Expr) -> Guard | None:
    """The guard `expr` is, if it is a plain string equality or membership on a field:
    `==`, `in`, `in~`, and `:` / `like` / `like~` without wildcards."""
    if isinstance(expr, ast.Compare) and expr.op == "==":
        field, literal = expr.left, expr.right
        if isinstance(field, ast.Literal):
            field, literal = literal, field
        is_string = isinstance(literal, ast.Literal) and type(literal.value) is str
        if isinstance(field, ast.Field) and isinstance(literal, ast.Literal) and is_string:
            return Guard(field, frozenset({str(literal.value)}), insensitive=False)
        return None
    if isinstance(expr, ast.InSet) and isinstance(expr.operand, ast.Field):
        strings = _strings(tuple(v.value for v in expr.values if isinstance(v, ast.Literal)))
        if strings is None or len(strings) != len(expr.values):
            return None
        return _guard(expr.operand, strings, expr.insensitive)
    if (
        isinstance(expr, ast.Match)
        and expr.kind in ("seq", "like")
        and isinstance(expr.operand, ast.Field)
    ):
        strings = _strings(expr.patterns)
        if strings is None or any(map(has_wildcard, strings)):
            return None
        # `:` is always case-insensitive; `like` only as `like~`.
        insensitive = expr.kind == "seq" or expr.insensitive
        return _guard(expr.operand, strings, insensitive)
    return None


def _strings(values: Sequence[Any]) -> list[str] | None:
    strings = [value for value in values if type(value) is str]
    return strings if strings and len(strings) == len(values) else None


def _guard(field: ast.Field, strings: list[str], insensitive: bool) -> Guard:
    folded = (value.lower() for value in strings) if insensitive else strings
    return Guard(field, frozenset(folded), insensitive)


def branch_guards(branch: ast.Expr, usable: Callable[[ast.Field], bool]) -> dict[str, Guard]:
    """The guards among a branch's top-level conjuncts, by field path (the first per field).
    `usable` turns away fields whose values are not compared as plain strings (typed fields)."""
    conjuncts = branch.operands if isinstance(branch, ast.And) else (branch,)
    guards: dict[str, Guard] = {}
    for conjunct in conjuncts:
        guard = literal_guard(conjunct)
        if guard is not None and guard.field.path not in guards and usable(guard.field):
            guards[guard.field.path] = guard
    return guards


def dispatched_or(
    branches: Sequence[ast.Expr],
    predicates: Sequence[Predicate],
    usable: Callable[[ast.Field], bool],
    getter: Callable[[str], Getter],
) -> Predicate | None:
    """An `or` of `predicates` (compiled from `branches`) that evaluates only the branches the
    event can satisfy; None when too few branches share a guarded field to be worth it."""
    guards = [branch_guards(branch, usable) for branch in branches]
    counts = Counter(path for found in guards for path in found)
    if not counts:
        return None
    path, guarded = counts.most_common(1)[0]
    if guarded < MIN_GUARDED_BRANCHES:
        return None
    switched = _SwitchedOr(getter(path), [found.get(path) for found in guards], tuple(predicates))
    return switched.evaluate


class _SwitchedOr:
    def __init__(
        self, get: Getter, guards: list[Guard | None], predicates: tuple[Predicate, ...]
    ) -> None:
        self.get = get
        self.predicates = predicates
        self.unguarded = frozenset(i for i, guard in enumerate(guards) if guard is None)
        self.exact: dict[str, set[int]] = {}
        self.folded: dict[str, set[int]] = {}
        for index, guard in enumerate(guards):
            if guard is None:
                continue
            table = self.folded if guard.insensitive else self.exact
            for value in guard.values:
                table.setdefault(value, set()).add(index)
        self.memo: dict[str, tuple[Predicate, ...]] = {}

    def branches_for(self, value: str) -> tuple[Predicate, ...]:
        """The branches a field value can satisfy, in their written order."""
        chosen = self.memo.get(value)
        if chosen is None:
            picked = self.unguarded.union(
                self.exact.get(value, ()), self.folded.get(value.lower(), ())
            )
            chosen = tuple(self.predicates[index] for index in sorted(picked))
            if len(self.memo) >= _MEMO_LIMIT:
                self.memo.clear()
            self.memo[value] = chosen
        return chosen

    def evaluate(self, event: Event) -> bool | None:
        value = self.get(event)
        branches = self.branches_for(value) if type(value) is str else self.predicates
        return any_true(branches, event)
