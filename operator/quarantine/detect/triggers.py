"""Trigger values: what an event must hold for a query to possibly match.

`Query.required_values` lists fields that must ALL hold one of their values, so a rule such
as `process.name == "nsenter" or process.args == "nsenter"` requires nothing there. Trigger
values are the more useful form for an index. A clause is a set of (field, value) pairs of
which a matching event holds AT LEAST ONE; a query gives clauses that must ALL hold, e.g.
`process.name` among the shells AND `process.args` containing `/root/.ssh/`. A value is
exact, a prefix (`"python*"`, `"http*:10250*"`) or a substring (the longest literal run of
`"*/root/.ssh/*"`, or a literal every match of a `regex` holds), compared casefolded. An `or`
unites its branches' clauses rank by rank (every branch must have one); an `and` keeps the
clauses of all its operands. Clauses are necessary conditions, never sufficient ones: a
candidate is still evaluated in full.

Clauses are derived per event category, because the index looks rules up per category: in
the `process` bucket a `file where` stage cannot match, and `event.category == "process"` is
already known to hold.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from quarantine.eql import ast
from quarantine.eql.compiler import Compiler
from quarantine.eql.lucene_regex import LuceneRegexError
from quarantine.eql.ordering import COMMON_FIELDS
from quarantine.eql.regex_literals import required_literals
from quarantine.eql.wildcard import has_wildcard

CATEGORY_FIELD = "event.category"

# Fields whose values most events share: triggering on them filters out almost nothing.
LOW_SELECTIVITY_FIELDS = COMMON_FIELDS | {"process.interactive", "user.id", "user.name"}
# Fields naming a thing (many distinct values across events), as opposed to flags and types.
_IDENTITY_SUFFIXES = (
    ".name",
    ".executable",
    ".path",
    ".args",
    ".command_line",
    ".working_directory",
    ".entity_id",
    ".hash",
)
# Rough chances that an event holds one given value, for ranking conjuncts only.
_HIT_IDENTITY_VALUE = 0.002
_HIT_OTHER_VALUE = 0.3
_HIT_PREFIX_CHARS = 0.1  # divided by the prefix length: "/" is common, "/tmp/" less so
_HIT_SUBSTRING_CHARS = 0.05  # divided by the substring length
_MANY_VALUES_FACTOR = 2  # an argument list holds several values per event
# Clauses kept from an `or`: each further one costs a check per candidate.
_MAX_CLAUSES = 3
# A substring shorter than this filters out almost nothing and costs a search per value.
MIN_SUBSTRING = 3
# A regex is worth skipping even on one character: it costs more per value than the
# substring search, which the index remembers per value anyway. (On the pipeline benchmark
# ":" keeps the tunnelling rule away from 85% of process events.)
MIN_REGEX_LITERAL = 1
# Single characters by how often process arguments hold them, rarest first: ":" mostly comes
# with host:port pairs and URLs, while flags, paths, file names and versions put "-", "/"
# and "." in nearly every command line. Unlisted characters rank after these.
_ONE_CHAR_PREFERENCE = ":=@,_-/. "


ValueTest = Callable[[Any], bool]
"""One value of a field -> whether a condition on that field holds of it."""

# Builds the conditions' own per-value tests (rules compile without a schema, as here).
_COMPILER = Compiler(nested_only=True)


@dataclass(frozen=True)
class FieldTrigger:
    """Casefolded exact values, prefixes and substrings of one field; and the conditions they
    were taken from, as per-value tests (`tests`): a value holding one of the literals
    selects the rule only if it passes one of these too. A prefix or substring is only part
    of a pattern (`"http*:10250*"` gives `"http"`), so the whole test keeps rules away from
    values that merely share it; the index runs it once per value and remembers the answer.
    None means holding a literal is enough."""

    exact: frozenset[str] = frozenset()
    prefixes: frozenset[str] = frozenset()
    substrings: frozenset[str] = frozenset()
    tests: tuple[ValueTest, ...] | None = dataclasses.field(default=None, compare=False)

    def __or__(self, other: FieldTrigger) -> FieldTrigger:
        tests = None if self.tests is None or other.tests is None else self.tests + other.tests
        return FieldTrigger(
            self.exact | other.exact,
            self.prefixes | other.prefixes,
            self.substrings | other.substrings,
            tests,
        )


Triggers = dict[str, FieldTrigger]
"""field -> values; the event must hold one of them. An empty dict means "cannot match"."""


@dataclass(frozen=True)
class CategoryContext:
    """The bucket a rule is filed in: its category (None: events in no rule's category), the
    categories that have buckets, and those the rule is filed under."""

    category: str | None
    bucketed: frozenset[str]
    rule_categories: frozenset[str] | None

    def stage_applies(self, stage_category: str | None) -> bool:
        """Whether events in this bucket can match a stage of category `stage_category`;
        events with several categories visit each one's bucket, so a stage of another
        bucketed category is matched there."""
        return stage_category is None or stage_category == self.category

    def category_holds(self, value: str) -> bool | None:
        """Whether an exact `event.category == value` holds for events in this bucket:
        True, False, or None when the bucket does not tell."""
        if value == self.category:
            return True
        filed_there = self.rule_categories is None or value in self.rule_categories
        if value in self.bucketed and filed_there:
            # Such events are also (or only) looked up in `value`'s bucket, with this rule.
            return False
        return None


Clauses = list[Triggers]
"""Trigger sets that must ALL hold, most selective first. [] means no constraint; a clause
that is {} means the query cannot match at all."""

NEVER: Clauses = [{}]


def query_clauses(node: ast.QueryNode, context: CategoryContext) -> Clauses:
    """The trigger clauses of a query in one bucket.

    For sequences and samples an event matters if it could match any stage (missing-event
    stages and `until` included), so the stages' best clauses are united into one.
    """
    if isinstance(node, ast.EventQuery):
        filters = [node.filter]
    else:
        filters = [stage.filter for stage in node.stages]
        if isinstance(node, ast.SequenceQuery) and node.until is not None:
            filters.append(node.until.filter)
    conditions = [f.condition for f in filters if context.stage_applies(f.category)]
    if len(conditions) == 1:
        return _ordered(condition_clauses(conditions[0], context))
    return _any_of([condition_clauses(condition, context) for condition in conditions])


def condition_clauses(condition: ast.Expr, context: CategoryContext) -> Clauses:
    """The trigger clauses of a boolean condition: an `and` keeps every operand's clauses,
    an `or` unites its branches' clauses rank by rank (see `_any_of`)."""
    if isinstance(condition, ast.And):
        clauses: Clauses = []
        for operand in condition.operands:
            found = condition_clauses(operand, context)
            if found == NEVER:
                return NEVER
            clauses.extend(found)
        return clauses
    if isinstance(condition, ast.Or):
        return _any_of([condition_clauses(operand, context) for operand in condition.operands])
    triggers = _literal_triggers(condition, context)
    if triggers is None:
        return []
    if not triggers:
        return NEVER
    test = _COMPILER.value_test(condition)
    if test is not None:
        triggers = {path: replace(trigger, tests=(test,)) for path, trigger in triggers.items()}
    return [triggers]


def _any_of(branches: list[Clauses]) -> Clauses:
    """Clauses holding whenever any branch holds. Every branch implies each of its clauses,
    so uniting, across branches, the best clause of each gives one valid clause, the
    second-best of each (or the best, where a branch has only one) another, and so on.
    Branches that cannot match drop out; one without any constraint leaves none."""
    possible = [_ordered(branch) for branch in branches if branch != NEVER]
    if not possible:
        return NEVER
    if any(not branch for branch in possible):
        return []
    depth = min(max(len(branch) for branch in possible), _MAX_CLAUSES)
    clauses: Clauses = []
    for rank in range(depth):
        clause = _union(branch[min(rank, len(branch) - 1)] for branch in possible)
        if clause not in clauses:
            clauses.append(clause)
    return clauses


def _ordered(clauses: Clauses) -> Clauses:
    return sorted(clauses, key=hit_estimate)


def hit_estimate(triggers: Triggers) -> float:
    """A rough chance that an event holds one of the triggers (smaller is more selective);
    1.0 when a field most events share is among them."""
    total = 0.0
    for field, trigger in triggers.items():
        if field in LOW_SELECTIVITY_FIELDS:
            return 1.0
        base = _HIT_IDENTITY_VALUE if field.endswith(_IDENTITY_SUFFIXES) else _HIT_OTHER_VALUE
        chance = len(trigger.exact) * base
        chance += sum(max(base, _HIT_PREFIX_CHARS / len(p)) for p in trigger.prefixes)
        chance += sum(max(base, _HIT_SUBSTRING_CHARS / len(s)) for s in trigger.substrings)
        many = field == "args" or field.endswith(".args")
        total += chance * (_MANY_VALUES_FACTOR if many else 1)
    return min(total, 0.99)  # still better than a field every event shares


def _union(parts: Iterable[Triggers]) -> Triggers:
    merged: Triggers = {}
    for part in parts:
        for field, trigger in part.items():
            merged[field] = merged[field] | trigger if field in merged else trigger
    return merged


def _literal_triggers(condition: ast.Expr, context: CategoryContext) -> Triggers | None:
    if isinstance(condition, ast.Match) and condition.kind == "regex":
        return _regex_triggers(condition)
    found = _field_literals(condition)
    if found is None:
        return None
    path, literals, case_sensitive_exact, wildcards = found
    exact: set[str] = set()
    prefixes: set[str] = set()
    substrings: set[str] = set()
    for literal in literals:
        if not wildcards or not has_wildcard(literal):
            exact.add(literal)
            continue
        runs = re.split(r"[*?]", literal)
        if runs[0]:
            prefixes.add(runs[0])  # text before the first wildcard starts every match
            continue
        longest = max(runs, key=len)
        if len(longest) < MIN_SUBSTRING:
            return None  # "*", "?*", "*-*d*": nothing worth looking up
        substrings.add(longest)
    if path == CATEGORY_FIELD and case_sensitive_exact and not (prefixes or substrings):
        holds = [context.category_holds(value) for value in exact]
        if any(holds):
            return None
        exact = {value for value, known in zip(exact, holds, strict=True) if known is None}
        if not exact:
            return {}
    trigger = FieldTrigger(
        frozenset(value.casefold() for value in exact),
        frozenset(prefix.casefold() for prefix in prefixes),
        frozenset(substring.casefold() for substring in substrings),
    )
    return {path: trigger}


def _regex_triggers(condition: ast.Match) -> Triggers | None:
    """Substrings of the field: per pattern, the most selective literal all its matches hold."""
    if not isinstance(condition.operand, ast.Field):
        return None
    chosen: set[str] = set()
    for pattern in condition.patterns:
        if not isinstance(pattern, str):
            return None  # a number or boolean pattern matches values that are not strings
        try:
            literals = required_literals(pattern, insensitive=condition.insensitive)
        except LuceneRegexError:
            return None  # the compiler reports it; the index just files no trigger
        best = min(literals, key=_selectivity_rank, default="")
        if len(best) < MIN_REGEX_LITERAL:
            return None
        chosen.add(best.casefold())
    return {condition.operand.path: FieldTrigger(substrings=frozenset(chosen))}


def _selectivity_rank(literal: str) -> tuple[int, int]:
    """Longer literals first; single characters by `_ONE_CHAR_PREFERENCE`."""
    if len(literal) != 1:
        return (-len(literal), 0)
    rarity = _ONE_CHAR_PREFERENCE.find(literal)
    return (-1, len(_ONE_CHAR_PREFERENCE) if rarity < 0 else rarity)


def _field_literals(condition: ast.Expr) -> tuple[str, list[str], bool, bool] | None:
    """(field, string literals, whether comparison is case-sensitive, whether `*` and `?` are
    wildcards) of a field test that holds only if the field matches one of the literals."""
    if isinstance(condition, ast.Compare) and condition.op == "==":
        field, literal = condition.left, condition.right
        if isinstance(field, ast.Literal):
            field, literal = literal, field
        if not isinstance(field, ast.Field) or not isinstance(literal, ast.Literal):
            return None
        if isinstance(literal.value, str):
            return field.path, [literal.value], True, False
        if isinstance(literal.value, bool):  # looked up as `index_key` spells booleans
            return field.path, ["true" if literal.value else "false"], True, False
        return None
    if isinstance(condition, ast.InSet) and isinstance(condition.operand, ast.Field):
        values = [v.value for v in condition.values if isinstance(v, ast.Literal)]
        strings = [v for v in values if isinstance(v, str)]
        if len(strings) != len(condition.values):
            return None
        # in / in~ compare verbatim: a `*` there is an ordinary character.
        return condition.operand.path, strings, not condition.insensitive, False
    if (
        isinstance(condition, ast.Match)
        and condition.kind in ("seq", "like")
        and isinstance(condition.operand, ast.Field)
    ):
        patterns = [p for p in condition.patterns if isinstance(p, str)]
        if not patterns or len(patterns) != len(condition.patterns):
            return None
        case_sensitive = condition.kind == "like" and not condition.insensitive
        return condition.operand.path, patterns, case_sensitive, True
    return None
