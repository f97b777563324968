"""Translate Lucene regular expressions (what EQL `regex` uses) into Python `re` patterns.

Lucene's syntax differs from Perl's: the whole string must match, `.` matches any character,
there are no anchors and no `\\s`/`\\w`/`\\d` classes (a backslash just quotes the next
character), `"..."` quotes a literal string, `@` is any string, `#` the empty language and
`<1-10>` a numeric range. Intersection `&` and complement `~` have no `re` equivalent and are
refused with a clear error instead of being matched wrongly.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from quarantine.eql.lucene_automaton import automaton_finder


class LuceneRegexError(ValueError):
    """The pattern is not valid Lucene regexp syntax, or uses an operator we cannot run."""


_MAX_INTERVAL_VALUES = 10_000


def translate(pattern: str) -> str:
    """The Python regex (for `re.fullmatch` with DOTALL) equal to a Lucene pattern."""
    translator = _Translator(pattern)
    result = translator.union()
    if translator.pos != len(pattern):
        raise LuceneRegexError(
            f"unexpected {pattern[translator.pos]!r} at offset {translator.pos} in regex"
        )
    return result


def compile_lucene(pattern: str, *, insensitive: bool) -> re.Pattern[str]:
    """The pattern as a Python regex, to be used with `fullmatch`."""
    return re.compile(translate(pattern), _flags(insensitive))


# What `.*` (any string) becomes at the top level of a translated pattern.
_ANY_STRING = "(?:.)*"


def compile_lucene_test(pattern: str, *, insensitive: bool) -> Callable[[str], bool]:
    """A whole-string match test for the pattern, as fast as its shape allows."""
    find = lucene_finder(pattern, insensitive=insensitive)
    return lambda value: find(value) is not None


def lucene_finder(pattern: str, *, insensitive: bool) -> Callable[[str], object]:
    """A regex method whose result is not None exactly when the pattern matches the whole
    string (generated code calls it directly, without the wrapper above).

    Rules often wrap the interesting part in `.*...*`; a full match of `.*X.*` is a search
    for X, which the regex engine does without backtracking over the wrapping `.*`s.
    Patterns `re` could backtrack badly on (`(a*)*b`, `@a@b@`) run on a linear automaton.
    """
    translated = translate(pattern)
    flags = _flags(insensitive)
    automaton = automaton_finder(translated, flags)
    if automaton is not None:
        return automaton
    # A top-level alternation is wrapped in a group, so a leading or trailing `.*` seen
    # here always belongs to the whole pattern.
    leading = translated.startswith(_ANY_STRING)
    core = translated[len(_ANY_STRING) :] if leading else translated
    trailing = core.endswith(_ANY_STRING)
    core = core[: -len(_ANY_STRING)] if trailing else core
    if leading and trailing:
        return re.compile(core, flags).search
    if leading:
        return re.compile(core + r"\Z", flags).search
    if trailing:
        return re.compile(core, flags).match
    return re.compile(translated, flags).fullmatch


def _flags(insensitive: bool) -> int:
    # Lucene's case_insensitive flag is ASCII-only, like re.ASCII | re.IGNORECASE.
    return re.DOTALL | (re.IGNORECASE | re.ASCII if insensitive else 0)


class _Translator:
    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.pos = 0

    def peek(self) -> str:
        return self.pattern[self.pos] if self.pos < len(self.pattern) else ""

    def union(self) -> str:
        branches = [self.concat()]
        while self.peek() == "|":
            self.pos += 1
            branches.append(self.concat())
        if len(branches) == 1:
            return branches[0]
        return "(?:" + "|".join(branches) + ")"

    def concat(self) -> str:
        parts: list[str] = []
        while self.peek() not in ("", "|", ")"):
            if self.peek() == "&":
                raise LuceneRegexError(
                    "the Lucene intersection operator '&' is not supported; escape it as \\&"
                )
            parts.append(self.repeat())
        return "".join(parts)

    def repeat(self) -> str:
        atom = self.complement()
        while True:
            char = self.peek()
            if char in ("*", "+", "?"):
                self.pos += 1
                atom = f"(?:{atom}){char}"
            elif char == "{":
                end = self.pattern.find("}", self.pos)
                body = self.pattern[self.pos + 1 : end] if end > 0 else ""
                if not re.fullmatch(r"\d+(?:,\d*)?", body):
                    raise LuceneRegexError(f"bad repetition '{{{body}' at offset {self.pos}")
                self.pos = end + 1
                atom = f"(?:{atom}){{{body}}}"
            else:
                return atom

    def complement(self) -> str:
        if self.peek() == "~":
            raise LuceneRegexError(
                "the Lucene complement operator '~' is not supported; escape it as \\~"
            )
        return self.simple()

    def simple(self) -> str:
        char = self.peek()
        if char == "[":
            return self.char_class()
        if char == ".":
            self.pos += 1
            return "."
        if char == "@":
            self.pos += 1
            return ".*"
        if char == "#":
            self.pos += 1
            return "(?!)"
        if char == '"':
            end = self.pattern.find('"', self.pos + 1)
            if end < 0:
                raise LuceneRegexError("unterminated quoted string in regex")
            literal = self.pattern[self.pos + 1 : end]
            self.pos = end + 1
            return re.escape(literal)
        if char == "(":
            self.pos += 1
            if self.peek() == ")":
                self.pos += 1
                return ""
            inner = self.union()
            if self.peek() != ")":
                raise LuceneRegexError("missing ')' in regex")
            self.pos += 1
            return f"(?:{inner})"
        if char == "<":
            return self.interval()
        if char == "\\":
            if self.pos + 1 >= len(self.pattern):
                raise LuceneRegexError("regex ends with a lone backslash")
            self.pos += 2
            return re.escape(self.pattern[self.pos - 1])
        if char in ("*", "+", "?", "{"):
            raise LuceneRegexError(f"'{char}' at offset {self.pos} has nothing to repeat")
        self.pos += 1
        return re.escape(char)

    def char_class(self) -> str:
        self.pos += 1  # [
        negate = self.peek() == "^"
        if negate:
            self.pos += 1
        items: list[str] = []
        while True:
            char = self.peek()
            if char == "":
                raise LuceneRegexError("missing ']' in regex character class")
            if char == "]" and items:
                self.pos += 1
                break
            low = self.class_char()
            if self.peek() == "-" and self.pattern[self.pos + 1 : self.pos + 2] not in ("]", ""):
                self.pos += 1
                high = self.class_char()
                if ord(high) < ord(low):
                    raise LuceneRegexError(f"invalid range {low}-{high} in character class")
                items.append(f"{_class_escape(low)}-{_class_escape(high)}")
            else:
                items.append(_class_escape(low))
        return "[" + ("^" if negate else "") + "".join(items) + "]"

    def class_char(self) -> str:
        char = self.peek()
        if char == "\\" and self.pos + 1 < len(self.pattern):
            self.pos += 2
            return self.pattern[self.pos - 1]
        self.pos += 1
        return char

    def interval(self) -> str:
        end = self.pattern.find(">", self.pos)
        body = self.pattern[self.pos + 1 : end] if end > 0 else ""
        match = re.fullmatch(r"(\d+)-(\d+)", body)
        if match is None:
            raise LuceneRegexError(f"unsupported '<{body}>' in regex (only numeric <n-m>)")
        self.pos = end + 1
        low, high = sorted((int(match.group(1)), int(match.group(2))))
        if high - low > _MAX_INTERVAL_VALUES:
            raise LuceneRegexError(f"numeric interval <{body}> is too wide to translate")
        width = len(match.group(1)) if len(match.group(1)) == len(match.group(2)) else 0
        numbers = (str(n).zfill(width) for n in range(low, high + 1))
        # Lucene also accepts leading zeros when the bounds have no fixed width.
        prefix = "0*" if width == 0 else ""
        return f"(?:{prefix}(?:" + "|".join(sorted(numbers, key=len, reverse=True)) + "))"


def _class_escape(char: str) -> str:
    return "\\" + char if char in "\\]^-[" else char
