"""The prefilter: which rules an event could possibly match, found with a few dict lookups.

Rules are filed per event category: one bucket per category any rule names, plus one for
events in none of them. In each bucket a rule is filed under its most selective trigger
clause for that category (see `quarantine.detect.triggers`): exact values, prefixes and
substrings of which a matching event holds at least one. A candidate found that way must also
pass the rule's next clause, looked up the same way; this keeps a plain shell away from the
many rules for "a shell running <tool>". Rules without clauses are always candidates in their
buckets.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from quarantine.detect.rule import CompiledRule
from quarantine.detect.triggers import (
    NEVER,
    CategoryContext,
    FieldTrigger,
    Triggers,
    hit_estimate,
    query_clauses,
)
from quarantine.events.fields import split_path

# Further clauses a candidate must pass before its query runs. Each level costs a walk of its
# tables for events that reach it; one level already turns most shell wrappers away.
MAX_REFINEMENTS = 1


def index_key(value: Any) -> str | None:
    """The casefolded text an event value is looked up by; None for nested objects."""
    kind = type(value)
    if kind is str:
        return str(value).casefold()
    if kind is bool:
        return "true" if value else "false"
    if kind is int or kind is float:
        return str(value)
    return None


class _FieldTable:
    """Rules by one field's exact values, prefixes and substrings."""

    def __init__(self, field: str) -> None:
        self.path = split_path(field)
        self.exact: dict[str, list[CompiledRule]] = {}
        self.prefixes: dict[str, list[CompiledRule]] = {}
        self.prefix_lengths: tuple[int, ...] = ()
        self.substrings: dict[str, list[CompiledRule]] = {}
        # One regex search tells cheaply whether any substring occurs at all.
        self.any_substring: re.Pattern[str] | None = None

    def add(self, rule: CompiledRule, trigger: FieldTrigger) -> None:
        for value in trigger.exact:
            self.exact.setdefault(value, []).append(rule)
        for prefix in trigger.prefixes:
            self.prefixes.setdefault(prefix, []).append(rule)
        for substring in trigger.substrings:
            self.substrings.setdefault(substring, []).append(rule)
        self.prefix_lengths = tuple(sorted({len(prefix) for prefix in self.prefixes}))
        if self.substrings:
            longest_first = sorted(self.substrings, key=len, reverse=True)
            self.any_substring = re.compile("|".join(map(re.escape, longest_first)))

    def collect(self, value: Any, into: list[CompiledRule]) -> None:
        key = index_key(value)
        if key is None:
            return
        found = self.exact.get(key)
        if found:
            into.extend(found)
        for length in self.prefix_lengths:
            if length > len(key):
                break
            found = self.prefixes.get(key[:length])
            if found:
                into.extend(found)
        if self.any_substring is not None and self.any_substring.search(key):
            # Substrings may overlap, so each is checked once the search says one is there.
            for substring, rules in self.substrings.items():
                if substring in key:
                    into.extend(rules)


class _Level:
    """Rules by one of their clauses: the rules whose clause holds, found by lookups."""

    def __init__(self) -> None:
        self.tables: dict[str, _FieldTable] = {}
        self.lookups: tuple[_FieldTable, ...] = ()
        self.members: set[int] = set()

    def add(self, rule: CompiledRule, clause: Triggers) -> None:
        for field, trigger in clause.items():
            table = self.tables.get(field)
            if table is None:
                table = self.tables[field] = _FieldTable(field)
            table.add(rule, trigger)
        self.lookups = tuple(self.tables.values())
        self.members.add(id(rule))

    def hits(self, event: dict[str, Any]) -> list[CompiledRule]:
        found: list[CompiledRule] = []
        for table in self.lookups:
            value: Any = event
            for depth, key in enumerate(table.path):
                if type(value) is not dict:
                    # An array of objects on the way: rare, so the slower general walk.
                    value = _leaves(value, table.path[depth:]) if type(value) is list else None
                    break
                value = value.get(key)
                if value is None:
                    break
            if value is None:
                continue
            if type(value) is list:
                for item in value:
                    table.collect(item, found)
            else:
                table.collect(value, found)
        return found


class _Bucket:
    """The rules of one event category: unconditional ones, and the others by their most
    selective clause, then by their further clauses."""

    def __init__(self) -> None:
        self.always: list[CompiledRule] = []
        self.primary = _Level()
        self.refinements = [_Level() for _ in range(MAX_REFINEMENTS)]

    def add(self, rule: CompiledRule, clauses: list[Triggers]) -> None:
        if not clauses:
            self.always.append(rule)
            return
        primary, *others = clauses
        self.primary.add(rule, primary)
        useful = [clause for clause in others if hit_estimate(clause) < 1.0]
        for level, clause in zip(self.refinements, useful, strict=False):
            level.add(rule, clause)

    def collect(self, event: dict[str, Any], into: list[CompiledRule]) -> None:
        into.extend(self.always)
        found = self.primary.hits(event)
        for level in self.refinements:
            if not found:
                return
            members = level.members
            if not any(id(rule) in members for rule in found):
                continue
            passed = {id(rule) for rule in level.hits(event)}
            found = [rule for rule in found if id(rule) not in members or id(rule) in passed]
        into.extend(found)


def _leaves(node: Any, path: Sequence[str]) -> list[Any] | None:
    """Every value at `path` below `node`, walking arrays of objects element by element."""
    if not path:
        return node if type(node) is list else [node]
    if type(node) is list:
        found: list[Any] = []
        for item in node:
            found.extend(_leaves(item, path) or ())
        return found or None
    if type(node) is dict:
        child = node.get(path[0])
        return None if child is None else _leaves(child, path[1:])
    return None


class RuleIndex:
    """Rules filed by event category and by their trigger values."""

    def __init__(self, rules: Sequence[CompiledRule]) -> None:
        self._position = {id(rule): position for position, rule in enumerate(rules)}
        bucketed: frozenset[str] = frozenset().union(
            *(rule.query.categories or () for rule in rules)
        )
        self._by_category = {category: _Bucket() for category in bucketed}
        # Events in none of the rules' categories (or in none at all) meet only `any` rules.
        self._uncategorised = _Bucket()
        for rule in rules:
            categories = rule.query.categories
            filed_in: list[tuple[str | None, _Bucket]] = (
                [(category, self._by_category[category]) for category in categories]
                if categories is not None
                else [(None, self._uncategorised), *self._by_category.items()]
            )
            for category, bucket in filed_in:
                context = CategoryContext(category, bucketed, categories)
                clauses = query_clauses(rule.query.node, context)
                if clauses == NEVER:
                    continue  # cannot match events of this category
                bucket.add(rule, clauses)

    def candidates(self, event: dict[str, Any]) -> list[CompiledRule]:
        """The rules `event` could match, each once, in rule-set order."""
        meta = event.get("event")
        category = meta.get("category") if type(meta) is dict else None
        found: list[CompiledRule] = []
        if type(category) is list and len(category) == 1:
            category = category[0]
        if type(category) is list:
            buckets = [self._by_category.get(item) for item in category if type(item) is str]
            chosen = [bucket for bucket in buckets if bucket is not None]
            for bucket in chosen or [self._uncategorised]:
                bucket.collect(event, found)
        else:
            single = self._by_category.get(category) if type(category) is str else None
            (single or self._uncategorised).collect(event, found)
        if len(found) > 1:
            position = self._position
            found = sorted(dict.fromkeys(found), key=lambda rule: position[id(rule)])
        return found
