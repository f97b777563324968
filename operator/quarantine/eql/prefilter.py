"""What an event must have for a query to possibly match: categories and literal values.

These are *necessary* conditions for indexing rules, never sufficient ones: a detector may
skip a query for an event that fails them, and must still evaluate the query otherwise.
"""

from __future__ import annotations

from quarantine.eql import ast
from quarantine.eql.wildcard import has_wildcard

RequiredValues = dict[str, frozenset[str]]


def categories_of(filters: list[ast.EventFilter]) -> frozenset[str] | None:
    """The categories any of the filters needs, or None if one of them takes `any`."""
    found: set[str] = set()
    for event_filter in filters:
        if event_filter.category is None:
            return None
        found.add(event_filter.category)
    return frozenset(found)


def required_values(condition: ast.Expr) -> RequiredValues:
    """Field -> casefolded strings of which an event's field must contain at least one.

    Derived from top-level `and` conjuncts (intersected) and from `or` branches that all
    constrain the same field (united), using `==`, `:` without wildcards, `like` without
    wildcards, `in` and `in~` against string constants. Everything else adds no constraint.
    """
    if isinstance(condition, ast.And):
        merged: RequiredValues = {}
        for operand in condition.operands:
            for path, allowed in required_values(operand).items():
                merged[path] = merged[path] & allowed if path in merged else allowed
        return merged
    if isinstance(condition, ast.Or):
        branches = [required_values(operand) for operand in condition.operands]
        common = set(branches[0]).intersection(*branches[1:])
        return {path: frozenset().union(*(b[path] for b in branches)) for path in common}
    literals = _literal_strings(condition)
    if literals is None:
        return {}
    path, strings = literals
    return {path: frozenset(value.casefold() for value in strings)}


def _literal_strings(condition: ast.Expr) -> tuple[str, list[str]] | None:
    if isinstance(condition, ast.Compare) and condition.op == "==":
        field, literal = condition.left, condition.right
        if isinstance(field, ast.Literal):
            field, literal = literal, field
        is_string_literal = isinstance(literal, ast.Literal) and isinstance(literal.value, str)
        if isinstance(field, ast.Field) and is_string_literal:
            assert isinstance(literal, ast.Literal) and isinstance(literal.value, str)
            return field.path, [literal.value]
        return None
    if isinstance(condition, ast.InSet) and isinstance(condition.operand, ast.Field):
        strings = [
            v.value
            for v in condition.values
            if isinstance(v, ast.Literal) and isinstance(v.value, str)
        ]
        if len(strings) == len(condition.values):
            return condition.operand.path, strings
        return None
    if (
        isinstance(condition, ast.Match)
        and condition.kind in ("seq", "like")
        and isinstance(condition.operand, ast.Field)
    ):
        strings = [p for p in condition.patterns if isinstance(p, str)]
        if len(strings) == len(condition.patterns) and not any(map(has_wildcard, strings)):
            return condition.operand.path, strings
    return None
