"""The prefilter: which rules an event could possibly match, found with a few dict lookups.

Rules are filed per event category: one bucket per category any rule names, plus one for
events in none of them. In each bucket a rule is filed under its most selective trigger
clause for that category (see `quarantine.detect.triggers`): exact values, prefixes and
substrings of which a matching event holds at least one. A candidate found that way must also
pass the rule's next clauses, looked up the same way; this keeps a plain shell away from the
many rules for "a shell running <tool>". Rules without clauses are always candidates in their
buckets.

Sets of rules are bit masks (bit i: the i-th rule of the set), so uniting and refining them
costs an integer operation. What a field value selects is remembered per table, since the same
names, paths and arguments come back event after event. Each bucket's lookup is generated
(`index_lookup`): a field's tables for all levels answer in one remembered mask per value.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from quarantine.detect.index_lookup import (
    AdmittedLookup,
    BucketBody,
    Lookup,
    bucket_body,
    generate_admitted_mask,
    generate_candidate_mask,
    generate_lookup,
)
from quarantine.detect.literal_trie import trie_pattern
from quarantine.detect.rule import CompiledRule
from quarantine.detect.triggers import (
    NEVER,
    CategoryContext,
    FieldTrigger,
    Triggers,
    ValueTest,
    hit_estimate,
    query_clauses,
)
from quarantine.eql import ast
from quarantine.eql.fields import values_of
from quarantine.eql.prefilter import categories_of
from quarantine.events.fields import split_path

# Further clauses a candidate must pass before its query runs. A level on fields the first one
# reads costs no extra lookup (the levels are stacked); the second keeps e.g. a `cat` of a
# config file away from the credential search, beyond that nothing changed on the bench.
MAX_REFINEMENTS = 2
# Values remembered per field table, and rule sets per mask; beyond this the memory starts over.
MEMO_LIMIT = 8192
# Buckets whose lookup is written into the category dispatch (the rest are called from it):
# each costs the events of later categories a string comparison.
INLINE_BUCKETS = 2
# Lookups made for one set of admitted bits (`RuleIndex.lookup_for`) kept at once; each is
# generated and compiled, which costs milliseconds, so past this the general one serves.
ADMITTED_LOOKUP_LIMIT = 64


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


def fresh_memo() -> dict[str | None, int]:
    """An empty memory of answers by value, knowing only that an absent value (None) selects
    no rules."""
    return {None: 0}


class _RememberedMasks:
    """A field's answer per value (the rules it selects), remembered per string value.

    `memo` is a plain dict (the generated lookups subscript it, and a dict subclass would cost
    every subscript more): `memo[value]` answers a string seen before or None, and raises
    KeyError for anything else, for the caller's slower path (`mask_of`). Only strings are
    remembered: other values are answered afresh every time (`1` and `True` must not share an
    answer)."""

    path: tuple[str, ...]
    memo: dict[str | None, int]

    def answer(self, value: Any) -> int:
        """The rules `value` selects, worked out afresh."""
        raise NotImplementedError

    def mask_of(self, value: Any) -> int:
        """The rules one value of the field selects."""
        if type(value) is not str:
            return self.answer(value)
        memo = self.memo
        mask = memo.get(value)
        if mask is None:
            mask = self.answer(value)
            if len(memo) >= MEMO_LIMIT:
                self.forget()
            memo[value] = mask
        return mask

    def forget(self) -> None:
        """Start the memory over (in place: generated lookups hold the dict itself)."""
        self.memo.clear()
        self.memo.update(fresh_memo())

    def walk_mask(self, event: dict[str, Any]) -> int:
        """The rules the event's values at this path select, walking arrays of objects."""
        found = 0
        for item in _leaves(event, self.path) or ():
            found |= self.mask_of(item)
        return found


class _FieldTable(_RememberedMasks):
    """Rule masks by one field's exact values, prefixes and substrings."""

    def __init__(self, path: tuple[str, ...]) -> None:
        self.path = path
        self.exact: dict[str, int] = {}
        self.prefixes: dict[str, int] = {}
        self.prefix_lengths: tuple[int, ...] = ()
        self.substrings: dict[str, int] = {}
        # One regex tells cheaply whether any prefix starts a value, or any substring occurs.
        self.any_prefix: re.Pattern[str] | None = None
        self.any_substring: re.Pattern[str] | None = None
        # Rule bit -> the per-value tests of its trigger (`FieldTrigger.tests`); a bit not
        # here is selected by its literals alone.
        self.tests: dict[int, tuple[ValueTest, ...]] = {}
        self.tested_bits = 0
        self.filed_bits = 0
        self.memo = fresh_memo()

    def add(self, bit: int, trigger: FieldTrigger) -> None:
        if trigger.tests is not None and not bit & self.filed_bits:
            self.tests[bit] = trigger.tests
            self.tested_bits |= bit
        elif bit in self.tests:  # filed twice: its literals alone decide
            del self.tests[bit]
            self.tested_bits &= ~bit
        self.filed_bits |= bit
        for value in trigger.exact:
            self.exact[value] = self.exact.get(value, 0) | bit
        for prefix in trigger.prefixes:
            self.prefixes[prefix] = self.prefixes.get(prefix, 0) | bit
        for substring in trigger.substrings:
            self.substrings[substring] = self.substrings.get(substring, 0) | bit
        self._literals_changed()

    @classmethod
    def stacked(cls, path: tuple[str, ...], tables: list[tuple[int, _FieldTable]]) -> _FieldTable:
        """One field's tables across the levels of a bucket in one table, level k's bits
        shifted `k * width` up (`tables` holds (shift, table)): one lookup per value answers
        every level, and a value met for the first time is worked out once, not per level."""
        merged = cls(path)
        for shift, table in tables:
            for mine, theirs in (
                (merged.exact, table.exact),
                (merged.prefixes, table.prefixes),
                (merged.substrings, table.substrings),
            ):
                for literal, bits in theirs.items():
                    mine[literal] = mine.get(literal, 0) | bits << shift
            for bit, tests in table.tests.items():
                merged.tests[bit << shift] = tests
            merged.tested_bits |= table.tested_bits << shift
            merged.filed_bits |= table.filed_bits << shift
        merged._literals_changed()
        return merged

    def _literals_changed(self) -> None:
        self.prefix_lengths = tuple(sorted({len(prefix) for prefix in self.prefixes}))
        self.any_prefix = trie_pattern(self.prefixes)
        self.any_substring = trie_pattern(self.substrings)
        self.forget()

    def answer(self, value: Any) -> int:
        """Looked up casefolded, then held to the conditions the literals came from."""
        key = value.casefold() if type(value) is str else index_key(value)
        return 0 if key is None else self._tested(self._lookup(key), value)

    def _tested(self, mask: int, value: Any) -> int:
        """`mask` without the rules whose condition `value` fails, where the literals the
        value holds are only part of that condition."""
        if mask & self.tested_bits:
            for bit, tests in self.tests.items():
                if mask & bit and not _passes_one(tests, value):
                    mask &= ~bit
        return mask

    def _lookup(self, key: str) -> int:
        mask = self.exact.get(key, 0)
        if self.any_prefix is not None and self.any_prefix.match(key):
            for length in self.prefix_lengths:
                if length > len(key):
                    break
                mask |= self.prefixes.get(key[:length], 0)
        if self.any_substring is not None and self.any_substring.search(key):
            # Substrings may overlap, so each is checked once the search says one is there.
            for substring, bits in self.substrings.items():
                if substring in key:
                    mask |= bits
        return mask


class _Level:
    """Rules by one of their clauses: the rules whose clause holds, found by lookups."""

    def __init__(self) -> None:
        self.tables: dict[str, _FieldTable] = {}
        self.lookups: tuple[_FieldTable, ...] = ()
        self.members = 0

    def add(self, bit: int, clause: Triggers) -> None:
        for field, trigger in clause.items():
            table = self.tables.get(field)
            if table is None:
                table = self.tables[field] = _FieldTable(split_path(field))
            table.add(bit, trigger)
        self.lookups = tuple(self.tables.values())
        self.members |= bit

    def hits(self, event: dict[str, Any]) -> int:
        """The rules whose clause at this level the event may satisfy (the generic walk,
        which the generated `lookup` must equal)."""
        found = 0
        for table in self.lookups:
            value: Any = event
            for key in table.path:
                if type(value) is not dict:
                    value = _leaves(event, table.path)
                    break
                value = value.get(key)
                if value is None:
                    break
            if value is None:
                continue
            memo = table.memo
            for item in value if type(value) is list else (value,):
                mask = memo.get(item) if type(item) is str else None
                found |= table.mask_of(item) if mask is None else mask
        return found


class _Bucket:
    """The rules of one event category: unconditional ones, and the others by their most
    selective clause, then by their further clauses."""

    def __init__(self) -> None:
        self.always = 0
        self.filed = 0  # rules filed here, always-candidates included
        self.primary = _Level()
        self.refinements = [_Level() for _ in range(MAX_REFINEMENTS)]
        self.lookup: Lookup = self.candidates
        """`candidates` as one generated function, once the bucket is sealed."""

    def add(self, bit: int, clauses: list[Triggers]) -> None:
        self.filed += 1
        if not clauses:
            self.always |= bit
            return
        primary, *others = clauses
        self.primary.add(bit, primary)
        useful = [clause for clause in others if hit_estimate(clause) < 1.0]
        for level, clause in zip(self.refinements, useful, strict=False):
            level.add(bit, clause)

    def seal(self, width: int, later_bits: int) -> None:
        """Generate `lookup` now that every rule is filed; masks are `width` bits wide, and
        `later_bits` are the bits of gated sequences' later stages."""
        levels = (self.primary, *self.refinements)
        by_path: dict[tuple[str, ...], list[tuple[int, _FieldTable]]] = {}
        for depth, level in enumerate(levels):
            for table in level.lookups:
                by_path.setdefault(table.path, []).append((depth * width, table))
        # A field some rule is filed under is read for every event, once for all levels. A
        # field that only later sequence stages are filed under is read only while such a stage
        # is admitted, and a field that only refines only when a rule it refines is a
        # candidate.
        eager: list[_FieldTable] = []
        gated: list[tuple[_FieldTable, int]] = []
        deferred: list[tuple[_FieldTable, int]] = []
        for path, tables in by_path.items():
            first_level = [table for shift, table in tables if shift == 0]
            if first_level and _bits_of(first_level[0]) & ~later_bits:
                eager.append(_FieldTable.stacked(path, tables))
                continue
            if first_level:
                gated.append((_FieldTable.stacked(path, tables[:1]), _bits_of(first_level[0])))
            refining = tables[len(first_level) :]
            if refining:
                refined = 0  # the rules whose refinement reads this field
                for _, table in refining:
                    refined |= table.filed_bits
                deferred.append((_FieldTable.stacked(path, refining), refined))
        members = [level.members for level in self.refinements]
        self._tables = (eager, deferred, width, members, gated)
        self.body = bucket_body(eager, deferred, width, members, self.always, gated=gated)
        self.lookup = generate_lookup(self.body)

    def body_for(self, admitted: int) -> BucketBody:
        """The sealed bucket's body made for `admitted` bits (`bucket_body`)."""
        eager, deferred, width, members, gated = self._tables
        return bucket_body(
            eager, deferred, width, members, self.always, gated=gated, admitted=admitted
        )

    def candidates(self, event: dict[str, Any], admitted: int = -1) -> int:
        """The candidate mask by the generic walk (what the generated `lookup` must equal);
        it reads every table, whatever is `admitted`."""
        found = self.primary.hits(event)
        for level in self.refinements:
            if found & level.members:
                # Members of this level stay only if their clause holds too.
                found &= ~level.members | level.hits(event)
        return found | self.always


def _passes_one(tests: tuple[ValueTest, ...], value: Any) -> bool:
    """Whether `value` passes one of a rule's condition tests. A test that raises keeps the
    rule a candidate: its query then meets the odd value, and the detector's isolation of
    failing rules counts it, instead of the lookup failing every rule of the event."""
    try:
        return any(test(value) for test in tests)
    except Exception:
        return True


def _bits_of(table: _FieldTable) -> int:
    """Every rule bit the table selects for some value."""
    found = 0
    for selected in (table.exact, table.prefixes, table.substrings):
        for mask in selected.values():
            found |= mask
    return found


def _split_stages(node: ast.QueryNode) -> tuple[ast.EventQuery, ast.SequenceQuery]:
    """A sequence (without missing-event stages) as its first stage, which an idle stream
    takes, and the rest: the later stages and `until`."""
    assert isinstance(node, ast.SequenceQuery)
    first, *later = node.stages
    rest = ast.SequenceQuery(node.keys, node.maxspan_ns, tuple(later), node.until, ())
    return ast.EventQuery(first.filter, ()), rest


def _filters(node: ast.SequenceQuery) -> list[ast.EventFilter]:
    until = [node.until.filter] if node.until is not None else []
    return [stage.filter for stage in node.stages] + until


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
    """Rules filed by event category and by their trigger values.

    Bit i of a candidate mask is `rules[i]`. A gated sequence (`CompiledRule.is_gated_sequence`)
    is filed twice: under its bit by its first stage (all an idle stream can take), and under a
    second bit, `entry_bits[i]` past the rules' bits, by its other stages and `until` (what a
    stream waiting for more can also use). A detector keeps the second bit only for sequences
    that wait; `candidates` keeps both.
    """

    def __init__(self, rules: Sequence[CompiledRule]) -> None:
        self._rules = tuple(rules)
        self._by_mask: dict[int, tuple[CompiledRule, ...]] = {0: ()}
        bucketed: frozenset[str] = frozenset().union(
            *(rule.query.categories or () for rule in rules)
        )
        self._by_category = {category: _Bucket() for category in bucketed}
        # Events in none of the rules' categories (or in none at all) meet only `any` rules.
        self._uncategorised = _Bucket()
        self.rule_bits = (1 << len(self._rules)) - 1
        """The bits of the rules themselves (first stages, for gated sequences)."""
        self.later_bits: dict[int, int] = {}
        """Rule position -> the bit of a gated sequence's later stages."""
        self.owners: list[int] = list(range(len(self._rules)))
        """Bit -> the position of the rule it belongs to."""
        for position, rule in enumerate(rules):
            if not rule.is_gated_sequence:
                self._file(1 << position, rule.query.node, rule.query.categories, bucketed)
                continue
            first, later = _split_stages(rule.query.node)
            self._file(1 << position, first, categories_of([first.filter]), bucketed)
            later_bit = 1 << len(self.owners)
            self.owners.append(position)
            self.later_bits[position] = later_bit
            self._file(later_bit, later, categories_of(_filters(later)), bucketed)
        later_stage_bits = 0
        for bit in self.later_bits.values():
            later_stage_bits |= bit
        for bucket in (self._uncategorised, *self._by_category.values()):
            bucket.seal(len(self.owners), later_stage_bits)
        self._lookups = {category: bucket.lookup for category, bucket in self._by_category.items()}
        # The buckets most rules are filed in are written into the dispatch itself.
        self._busiest = sorted(
            self._by_category, key=lambda category: -self._by_category[category].filed
        )[:INLINE_BUCKETS]
        self._called = {c: lookup for c, lookup in self._lookups.items() if c not in self._busiest}
        self._candidate_mask = generate_candidate_mask(
            {category: self._by_category[category].body for category in self._busiest},
            self._called,
            self._uncategorised.body,
            self._several_categories,
        )
        self._admitted_lookups: dict[int, AdmittedLookup] = {}

    def _file(
        self,
        bit: int,
        node: ast.QueryNode,
        categories: frozenset[str] | None,
        bucketed: frozenset[str],
    ) -> None:
        filed_in: list[tuple[str | None, _Bucket]] = (
            [(category, self._by_category[category]) for category in categories]
            if categories is not None
            else [(None, self._uncategorised), *self._by_category.items()]
        )
        for category, bucket in filed_in:
            context = CategoryContext(category, bucketed, categories)
            clauses = query_clauses(node, context)
            if clauses == NEVER:
                continue  # cannot match events of this category
            bucket.add(bit, clauses)

    @property
    def rules(self) -> tuple[CompiledRule, ...]:
        """The rules, in the order of their bits in a candidate mask."""
        return self._rules

    def candidates(self, event: dict[str, Any]) -> tuple[CompiledRule, ...]:
        """The rules `event` could match, each once, in rule-set order."""
        return self._rules_of(self._candidate_mask(event, -1))

    @property
    def candidate_mask(self) -> Lookup:
        """`candidate_mask(event, admitted=-1)`: the rules `event` could match, as a mask
        (see the class docstring for the bits), looked up in its category's bucket (or the
        uncategorised one). Bits outside `admitted` may be left out (a detector asks
        `lookup_for` the bits it counts instead). One generated function
        (`index_lookup.generate_candidate_mask`)."""
        return self._candidate_mask

    def lookup_for(self, admitted: int) -> AdmittedLookup:
        """`event -> candidate_mask(event, admitted) & admitted`, made for these bits (a
        detector's admitted bits change only when a gated sequence starts or stops waiting):
        generated once per `admitted`, up to `ADMITTED_LOOKUP_LIMIT` of them."""
        lookup = self._admitted_lookups.get(admitted)
        if lookup is not None:
            return lookup
        if len(self._admitted_lookups) >= ADMITTED_LOOKUP_LIMIT:
            candidate_mask = self._candidate_mask

            def general(event: dict[str, Any]) -> int:
                return candidate_mask(event, admitted) & admitted

            return general
        inline: dict[str, BucketBody] = {
            category: self._by_category[category].body_for(admitted) for category in self._busiest
        }
        lookup = self._admitted_lookups[admitted] = generate_admitted_mask(
            inline,
            self._called,
            self._uncategorised.body_for(admitted),
            self._several_categories,
            admitted,
        )
        return lookup

    def _several_categories(
        self, categories: list[Any], event: dict[str, Any], admitted: int
    ) -> int:
        """An event in several categories (nested arrays flattened, as the category test
        reads them) meets the rules of each, or the uncategorised ones when none has a
        bucket."""
        names = [item for item in values_of(categories) if type(item) is str]
        chosen = [self._lookups.get(item) for item in names]
        mask = 0
        for lookup in [found for found in chosen if found is not None] or [
            self._uncategorised.lookup
        ]:
            mask |= lookup(event, admitted)
        return mask

    def _rules_of(self, mask: int) -> tuple[CompiledRule, ...]:
        rules = self._by_mask.get(mask)
        if rules is None:
            if len(self._by_mask) >= MEMO_LIMIT:
                self._by_mask = {0: ()}
            positions = {owner for bit, owner in enumerate(self.owners) if mask >> bit & 1}
            rules = tuple(self._rules[position] for position in sorted(positions))
            self._by_mask[mask] = rules
        return rules
