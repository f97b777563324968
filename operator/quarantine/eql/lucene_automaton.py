"""Whole-string matching of translated Lucene regexes in time linear in the input.

Elasticsearch runs Lucene regexes as automata, so no pattern can make it backtrack; Python's
`re` backtracks, and some shapes (`(a*)*b`, `(a|ab)*`, many `.*` in a row) take exponential
or high-polynomial time on a value that does not match. Patterns of those shapes
(`may_backtrack_badly`) are matched here instead: the translated pattern is parsed into a
small tree, compiled to a Thompson NFA and simulated as a DFA built lazily, one memoised
transition per (set of NFA states, character).

The answers are those of `re.fullmatch(translated, flags)`: which characters a node accepts
is decided by `re` itself on that one character (a one-character pattern cannot backtrack),
so case folding and class semantics are exactly `re`'s, and only the syntax
`lucene_regex.translate` produces is parsed. Anything else raises `UnsupportedPattern`, and
the caller keeps `re` for that pattern (no worse than before).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal, NamedTuple, TypeAlias


class UnsupportedPattern(Exception):
    """Internal: the pattern uses syntax the automaton does not handle; keep `re` for it."""


# --- the pattern as a tree ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Char:
    """One character, as `re` source text: a literal, an escape, `.` or a class."""

    text: str


@dataclass(frozen=True, slots=True)
class Sequence:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Alternation:
    branches: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Repeat:
    body: Node
    low: int
    high: int | None  # None: no upper bound


@dataclass(frozen=True, slots=True)
class Never:
    """`(?!)`, Lucene's `#`: matches nothing."""


Node: TypeAlias = Char | Sequence | Alternation | Repeat | Never


def parse_translated(translated: str) -> Node:
    """The tree of a pattern `lucene_regex.translate` produced.

    Not `re._parser`: that is private, untyped API, and it rewrites the pattern (`(a|a)`
    becomes a class) while the risk test below judges the shape the translator wrote.
    """
    parser = _Parser(translated)
    tree = parser.alternation()
    if parser.pos != len(translated):
        raise UnsupportedPattern(f"unexpected {parser.peek()!r} at offset {parser.pos}")
    return tree


# Characters that are not a literal when unescaped outside a class.
_METACHARACTERS = frozenset("()[]{}|*+?.\\^$")
_SIMPLE_QUANTIFIERS: dict[str, tuple[int, int | None]] = {
    "*": (0, None),
    "+": (1, None),
    "?": (0, 1),
}
_COUNTED_QUANTIFIER = re.compile(r"\{(\d+)(,(\d*))?\}")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def alternation(self) -> Node:
        branches = [self.sequence()]
        while self.peek() == "|":
            self.pos += 1
            branches.append(self.sequence())
        return branches[0] if len(branches) == 1 else Alternation(tuple(branches))

    def sequence(self) -> Node:
        items: list[Node] = []
        while self.peek() not in ("", "|", ")"):
            items.append(self.quantified())
        return items[0] if len(items) == 1 else Sequence(tuple(items))

    def quantified(self) -> Node:
        atom = self.atom()
        bounds = self.quantifier()
        if bounds is None:
            return atom
        # The translator wraps every repeat in a group: `*?`, `*+` or `**` never come from it.
        if self.peek() in ("*", "+", "?", "{"):
            raise UnsupportedPattern(f"lazy, possessive or doubled quantifier at {self.pos}")
        return Repeat(atom, *bounds)

    def quantifier(self) -> tuple[int, int | None] | None:
        char = self.peek()
        if char in _SIMPLE_QUANTIFIERS:
            self.pos += 1
            return _SIMPLE_QUANTIFIERS[char]
        if char != "{":
            return None
        match = _COUNTED_QUANTIFIER.match(self.text, self.pos)
        if match is None:
            raise UnsupportedPattern(f"unexpected '{{' at offset {self.pos}")
        self.pos = match.end()
        low = int(match[1])
        high = low if match[2] is None else int(match[3]) if match[3] else None
        if high is not None and high < low:
            raise UnsupportedPattern(f"repeat {{{low},{high}}} has max below min")
        return low, high

    def atom(self) -> Node:
        char = self.peek()
        if char == "(":
            return self.group()
        if char == "[":
            return self.char_class()
        if char == "\\":
            return self.escape()
        if char == ".":
            self.pos += 1
            return Char(".")
        if char == "" or char in _METACHARACTERS:
            raise UnsupportedPattern(f"unexpected {char!r} at offset {self.pos}")
        self.pos += 1
        return Char(char)

    def group(self) -> Node:
        if self.text.startswith("(?!)", self.pos):
            self.pos += 4
            return Never()
        if self.text.startswith("(?:", self.pos):
            self.pos += 3
        elif self.text.startswith("(?", self.pos):
            raise UnsupportedPattern(f"group extension at offset {self.pos}")
        else:
            self.pos += 1
        inner = self.alternation()
        if self.peek() != ")":
            raise UnsupportedPattern("missing ')'")
        self.pos += 1
        return inner

    def char_class(self) -> Node:
        """The class as source text; `re` interprets it, so only its end is found here."""
        end = self.pos + 1
        if self.text.startswith("^", end):
            end += 1
        if self.text.startswith("]", end):
            end += 1  # a `]` first in the class is a literal, as in `re`
        while end < len(self.text) and self.text[end] != "]":
            end += 2 if self.text[end] == "\\" else 1
        if end >= len(self.text):
            raise UnsupportedPattern("missing ']'")
        text = self.text[self.pos : end + 1]
        self.pos = end + 1
        return Char(text)

    def escape(self) -> Node:
        quoted = self.text[self.pos + 1 : self.pos + 2]
        # `re.escape` only quotes punctuation; `\d`, `\1`, `\Z`... mean something else.
        if not quoted or (quoted.isascii() and quoted.isalnum()):
            raise UnsupportedPattern(f"escape {self.text[self.pos : self.pos + 2]!r}")
        self.pos += 2
        return Char("\\" + quoted)


# --- which patterns need the automaton ------------------------------------------------------

# A repeat whose count can vary this much backtracks like an unbounded one.
_WIDE_SPAN = 16
# This many wide repeats in a row make `re` polynomial of that degree on a failing value.
_MANY_WIDE_REPEATS = 3


class _Shape(NamedTuple):
    repeated_choice: bool  # a repeat that can run twice holds an alternation or a repeat
    has_choice: bool  # the node is or holds an alternation or a repeat other than `{0}`/`{1}`
    wide_in_a_row: int  # the most wide repeats one path through the node passes


def may_backtrack_badly(pattern: str | Node) -> bool:
    """Whether `re` could take far more than linear time on some value for this pattern
    (translated text or its tree): a repeat around a choice (`(a*)*`, `(a|ab)*`: exponential
    ways to split the value between copies), or 3 or more wide repeats (`.*`, `x{0,20}`) in a
    row. Everything else stays on `re`, which is faster on the common `.*foo.*`.
    """
    tree = parse_translated(pattern) if isinstance(pattern, str) else pattern
    shape = _shape(tree)
    return shape.repeated_choice or shape.wide_in_a_row >= _MANY_WIDE_REPEATS


def _shape(node: Node) -> _Shape:
    if isinstance(node, Char | Never):
        return _Shape(False, False, 0)
    if isinstance(node, Sequence | Alternation):
        parts = [_shape(child) for child in _children(node)]
        counts = [part.wide_in_a_row for part in parts]
        # A path runs through every item of a sequence but only one branch of an alternation.
        in_a_row = sum(counts) if isinstance(node, Sequence) else max(counts, default=0)
        return _Shape(
            any(part.repeated_choice for part in parts),
            isinstance(node, Alternation) or any(part.has_choice for part in parts),
            in_a_row,
        )
    body = _shape(node.body)
    runs_twice = node.high is None or node.high > 1
    copies = node.high if node.high is not None else 1
    return _Shape(
        body.repeated_choice or (runs_twice and body.has_choice),
        body.has_choice or runs_twice or node.low != node.high,
        int(_is_wide(node)) + body.wide_in_a_row * copies,
    )


def _children(node: Sequence | Alternation) -> tuple[Node, ...]:
    return node.items if isinstance(node, Sequence) else node.branches


def _is_wide(repeat: Repeat) -> bool:
    return repeat.high is None or repeat.high - repeat.low >= _WIDE_SPAN


# --- the automaton --------------------------------------------------------------------------

# Repeat counts are expanded into copies; past this size the pattern stays on `re`.
_MAX_NFA_STATES = 100_000
# Memory for memoised DFA states (one unit per NFA state they hold) and transitions (one
# each): when spent, the cache starts over, so memory stays bounded and time stays linear.
_CACHE_BUDGET = 200_000
_SUPPORTED_FLAGS = re.DOTALL | re.IGNORECASE | re.ASCII | re.UNICODE

CharTest: TypeAlias = Callable[[str], object]


@functools.lru_cache(maxsize=4096)
def _char_test(text: str, flags: int) -> CharTest:
    """The node's verdict on one character (not None when it matches), as `re` gives it."""
    try:
        return re.compile(text, flags).fullmatch
    except re.error as error:
        raise UnsupportedPattern(str(error)) from None


class _Nfa:
    """Thompson NFA. State i either consumes one character its test accepts and moves to
    `successors[i][0]`, or (test None) moves without input to each of `successors[i]`; the
    accepting state has neither."""

    def __init__(self, flags: int) -> None:
        self.flags = flags
        self.tests: list[CharTest | None] = []
        self.successors: list[list[int]] = []
        self.accept = self.add(None, [])

    def add(self, test: CharTest | None, successors: list[int]) -> int:
        if len(self.tests) >= _MAX_NFA_STATES:
            raise UnsupportedPattern("pattern too large for the automaton")
        self.tests.append(test)
        self.successors.append(successors)
        return len(self.tests) - 1

    def build(self, node: Node, then: int) -> int:
        """The entry state of `node` followed by state `then` (built back to front)."""
        if isinstance(node, Char):
            return self.add(_char_test(node.text, self.flags), [then])
        if isinstance(node, Sequence):
            for item in reversed(node.items):
                then = self.build(item, then)
            return then
        if isinstance(node, Alternation):
            return self.add(None, [self.build(branch, then) for branch in node.branches])
        if isinstance(node, Never):
            return self.add(None, [])
        return self.build_repeat(node, then)

    def build_repeat(self, node: Repeat, then: int) -> int:
        if node.high is None:
            entry = self.loop(node.body, then)
        else:
            entry = self.optional_copies(node.body, node.high - node.low, then)
        for _ in range(node.low):
            entry = self.build(node.body, entry)
        return entry

    def loop(self, body: Node, then: int) -> int:
        loop = self.add(None, [])
        self.successors[loop].extend((self.build(body, loop), then))
        return loop

    def optional_copies(self, body: Node, count: int, then: int) -> int:
        """Up to `count` copies of body, then `then`: each copy may skip straight to it."""
        entry = then
        for _ in range(count):
            entry = self.add(None, [self.build(body, entry), then])
        return entry

    def closure(self, states: Iterable[int]) -> frozenset[int]:
        """The consuming states, and the accepting one, reachable without input."""
        seen: set[int] = set()
        reached: list[int] = []
        pending = list(states)
        while pending:
            state = pending.pop()
            if state in seen:
                continue
            seen.add(state)
            if self.tests[state] is None and state != self.accept:
                pending.extend(self.successors[state])
            else:
                reached.append(state)
        return frozenset(reached)


class _DfaState:
    __slots__ = ("accepting", "positions", "transitions")

    def __init__(self, positions: frozenset[int], accepting: bool) -> None:
        self.positions = positions
        self.accepting = accepting
        self.transitions: dict[str, _DfaState] = {}


class LinearMatcher:
    """Whole-string matching of a pattern tree in time linear in the value."""

    def __init__(self, tree: Node, flags: int, *, cache_budget: int = _CACHE_BUDGET) -> None:
        if flags & ~_SUPPORTED_FLAGS:
            raise UnsupportedPattern(f"flags {re.RegexFlag(flags)!r} are not supported")
        self._nfa = _Nfa(flags)
        self._start_positions = self._nfa.closure([self._nfa.build(tree, self._nfa.accept)])
        self._budget = cache_budget
        self._dead = _DfaState(frozenset(), accepting=False)
        self._restart_cache()

    def find(self, value: str) -> Literal[True] | None:
        """True when the whole value matches, else None (the contract of `lucene_finder`)."""
        state = self._start
        dead = self._dead
        for char in value:
            following = state.transitions.get(char)
            if following is None:
                following = self._advance(state, char)
            if following is dead:
                return None
            state = following
        return True if state.accepting else None

    def _advance(self, state: _DfaState, char: str) -> _DfaState:
        tests, successors = self._nfa.tests, self._nfa.successors
        verdicts: dict[CharTest, bool] = {}  # copies of a repeat share one test
        moved: list[int] = []
        for position in state.positions:
            test = tests[position]
            if test is None:
                continue  # the accepting state consumes nothing
            verdict = verdicts.get(test)
            if verdict is None:
                verdict = verdicts[test] = test(char) is not None
            if verdict:
                moved.append(successors[position][0])
        following = self._state_for(self._nfa.closure(moved))
        state.transitions[char] = following
        self._spent += 1
        if self._spent > self._budget:
            self._restart_cache()
        return following

    def _state_for(self, positions: frozenset[int]) -> _DfaState:
        known = self._states.get(positions)
        if known is None:
            known = _DfaState(positions, accepting=self._nfa.accept in positions)
            self._states[positions] = known
            self._spent += len(positions) + 1
        return known

    def _restart_cache(self) -> None:
        # A match in progress keeps the states it holds; later matches use the new cache.
        self._states: dict[frozenset[int], _DfaState] = {self._dead.positions: self._dead}
        self._spent = 0
        self._start = self._state_for(self._start_positions)


def automaton_finder(translated: str, flags: int) -> Callable[[str], object] | None:
    """The automaton's `find` when `re` could backtrack badly on the pattern; None when `re`
    is safe for it, or the automaton cannot take it (the caller keeps `re`)."""
    # A pattern `re` refuses raises its usual error, whichever engine would have run it.
    re.compile(translated, flags)
    try:
        tree = parse_translated(translated)
        if not may_backtrack_badly(tree):
            return None
        return LinearMatcher(tree, flags).find
    except UnsupportedPattern:
        return None
