"""Literal strings that every string matching a Lucene regex must contain.

A prefilter can skip a `regex` test when the value lacks one of these literals. They are a
necessary condition, never a sufficient one. The analysis follows the grammar of
`eql/lucene_regex.py` (the translator the matcher uses, which also rejects bad patterns) and
keeps, per sub-pattern, what every match of it is known to hold: the one string it matches
(if it matches only one), a prefix, a suffix and inner literals. Whatever cannot be analysed
exactly (classes, `.`, `@`, `<n-m>`, repetitions that allow zero copies) knows nothing: it
breaks the literal run around it without adding a literal.

For `regex~` the literals are casefolded, as the index compares casefolded values. That stays
necessary: the matcher is ASCII case-insensitive (like Lucene's `case_insensitive` flag), so
the matched text differs from the pattern's literal only in the case of ASCII letters, and
`str.casefold` maps each character on its own (unlike `lower`, which writes a final sigma
differently), so length-changing foldings such as "ß" -> "ss" happen in the literal and in
the value alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from quarantine.eql.lucene_regex import translate

# A repetition of a known string is unrolled this many times at most; longer literals than
# that add nothing a prefilter needs.
_MAX_UNROLLED_COPIES = 4
# `[x]` or `[\\x]`: a class of one character, not negated and not a range.
_ONE_CHAR_CLASS = re.compile(r"\[(\\.|[^\\^])\]", re.DOTALL)


@dataclass(frozen=True)
class _Facts:
    """What every string matched by a sub-pattern holds."""

    exact: str | None = None  # the only string it matches, when there is just one
    prefix: str = ""
    suffix: str = ""
    inner: frozenset[str] = frozenset()

    def literals(self) -> frozenset[str]:
        found = {self.prefix, self.suffix, *self.inner}
        if self.exact is not None:
            found.add(self.exact)
        found.discard("")
        return frozenset(found)

    def inexact(self) -> _Facts:
        """The same facts for a language that may hold more strings than `exact`."""
        return _Facts(None, self.prefix, self.suffix, self.inner)


_NOTHING_KNOWN = _Facts()


def _known(text: str) -> _Facts:
    return _Facts(text, text, text)


def _then(first: _Facts, second: _Facts) -> _Facts:
    """Facts of the concatenation: a suffix of the first part runs into a prefix of the next."""
    if first.exact is not None and second.exact is not None:
        return _known(first.exact + second.exact)
    prefix = first.exact + second.prefix if first.exact is not None else first.prefix
    suffix = first.suffix + second.exact if second.exact is not None else second.suffix
    joint = first.suffix + second.prefix
    return _Facts(None, prefix, suffix, first.inner | second.inner | {joint})


def _either(branches: list[_Facts]) -> _Facts:
    """Facts of an alternation: only what every branch holds."""
    exacts = {branch.exact for branch in branches}
    if len(exacts) == 1 and None not in exacts:
        return branches[0]
    prefix = _common_prefix([branch.prefix for branch in branches])
    suffix = _common_prefix([branch.suffix[::-1] for branch in branches])[::-1]
    held = [branch.literals() for branch in branches]
    # A literal of one branch that lies inside some literal of every branch (`abc|zabcz`).
    shared = frozenset(
        literal
        for literal in frozenset().union(*held)
        if all(any(literal in other for other in literals) for literals in held)
    )
    return _Facts(None, prefix, suffix, shared)


def _common_prefix(texts: list[str]) -> str:
    shortest = min(texts, key=len)
    for end, char in enumerate(shortest):
        if any(text[end] != char for text in texts):
            return shortest[:end]
    return shortest


def _repeated(facts: _Facts, low: int, high: int | None) -> _Facts:
    """Facts of `low` to `high` copies (None: unbounded). Any match starts and ends with
    `low` copies, so their prefix and suffix hold even when more copies follow."""
    if low == 0:
        return _NOTHING_KNOWN
    copies = min(low, _MAX_UNROLLED_COPIES)
    result = facts
    for _ in range(copies - 1):
        result = _then(result, facts)
    return result if high == low == copies else result.inexact()


def required_literals(pattern: str, *, insensitive: bool) -> tuple[str, ...]:
    """The literals every string matching `pattern` contains (casefolded for `regex~`),
    longest first, none inside another; () when nothing is known.

    Raises `LuceneRegexError` for a pattern the matcher would refuse.
    """
    translate(pattern)  # the matcher's own syntax check, with its error messages
    literals = _Analyser(pattern).union().literals()
    if insensitive:
        literals = frozenset(literal.casefold() for literal in literals)
    kept = [
        literal
        for literal in literals
        if not any(literal in other and literal != other for other in literals)
    ]
    return tuple(sorted(kept, key=lambda literal: (-len(literal), literal)))


class _Analyser:
    """A recursive-descent walk of the translator's grammar that yields facts, not regexes.
    The pattern is already known to be valid."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.pos = 0

    def peek(self) -> str:
        return self.pattern[self.pos] if self.pos < len(self.pattern) else ""

    def union(self) -> _Facts:
        branches = [self.concat()]
        while self.peek() == "|":
            self.pos += 1
            branches.append(self.concat())
        return branches[0] if len(branches) == 1 else _either(branches)

    def concat(self) -> _Facts:
        result = _known("")
        while self.peek() not in ("", "|", ")"):
            result = _then(result, self.repeat())
        return result

    def repeat(self) -> _Facts:
        facts = self.simple()
        while True:
            char = self.peek()
            if char in ("*", "?"):
                self.pos += 1
                facts = _repeated(facts, 0, None)
            elif char == "+":
                self.pos += 1
                facts = _repeated(facts, 1, None)
            elif char == "{":
                end = self.pattern.index("}", self.pos)
                low, comma, high = self.pattern[self.pos + 1 : end].partition(",")
                self.pos = end + 1
                bound = int(high) if high else (None if comma else int(low))
                if bound is not None and bound < int(low):
                    facts = _NOTHING_KNOWN  # refused when compiled: claim nothing about it
                else:
                    facts = _repeated(facts, int(low), bound)
            else:
                return facts

    def simple(self) -> _Facts:
        char = self.peek()
        if char == "[":
            return self.char_class()
        if char == '"':
            end = self.pattern.index('"', self.pos + 1)
            literal = self.pattern[self.pos + 1 : end]
            self.pos = end + 1
            return _known(literal)
        if char == "(":
            self.pos += 1
            inner = self.union()
            self.pos += 1  # )
            return inner
        if char == "<":
            self.pos = self.pattern.index(">", self.pos) + 1
            return _NOTHING_KNOWN
        if char == "\\":
            self.pos += 2
            return _known(self.pattern[self.pos - 1])
        self.pos += 1
        # `.` is any character, `@` any string and `#` the empty language.
        return _NOTHING_KNOWN if char in ".@#" else _known(char)

    def char_class(self) -> _Facts:
        """A class of one plain character (`[ ]`, `[.]`) is that character; any other class
        is unknown."""
        match = _ONE_CHAR_CLASS.match(self.pattern, self.pos)
        if match is not None:
            self.pos = match.end()
            return _known(match.group(1)[-1])
        self.pos += 1  # [
        if self.peek() == "^":
            self.pos += 1
        first = True
        while True:
            char = self.peek()
            if char == "]" and not first:
                self.pos += 1
                return _NOTHING_KNOWN
            self.pos += 2 if char == "\\" and self.pos + 1 < len(self.pattern) else 1
            first = False
