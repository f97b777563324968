"""EQL wildcard patterns (`*`, `?`) compiled to fast string tests.

Elasticsearch has no escape character in these patterns: a backslash is an ordinary
character, and a literal `*` or `?` cannot be matched (use `==`). Patterns match the whole
string. Case-insensitive matching lower-cases both sides (`toLowerCase(Locale.ROOT)`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

StringTest = Callable[[str], bool]


def has_wildcard(pattern: str) -> bool:
    return "*" in pattern or "?" in pattern


def wildcard_regex(pattern: str) -> str:
    """The Python regex (for fullmatch) equivalent to one wildcard pattern."""
    out: list[str] = []
    for char in pattern:
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        else:
            out.append(re.escape(char))
    return "".join(out)


def compile_wildcards(patterns: Sequence[str], *, insensitive: bool) -> StringTest:
    """A test that is true when the string matches any of the patterns (an OR)."""
    if insensitive:
        patterns = [pattern.lower() for pattern in patterns]
    test = _compile_shapes(patterns)
    if insensitive:
        return lambda value: test(value.lower())
    return test


@dataclass(frozen=True, slots=True)
class WildcardShapes:
    """A list of patterns sorted by shape, so that most are tested with C-level string
    methods: a set for literals, one `startswith`/`endswith` call for all `x*`/`*x`
    patterns, one regex search for all `*x*` patterns; only the remaining shapes go through
    a full regex. Shared by the closures below and by generated code (`eql/codegen.py`)."""

    literals: frozenset[str]
    prefixes: tuple[str, ...]
    suffixes: tuple[str, ...]
    infixes: tuple[str, ...]
    others: re.Pattern[str] | None  # fullmatch of the patterns of no simpler shape


def wildcard_shapes(patterns: Sequence[str]) -> WildcardShapes:
    literals: set[str] = set()
    prefixes: list[str] = []
    suffixes: list[str] = []
    infixes: list[str] = []
    others: list[str] = []
    for pattern in patterns:
        head, body, tail = pattern[:1], pattern[1:-1], pattern[-1:]
        if not has_wildcard(pattern):
            literals.add(pattern)
        elif tail == "*" and not has_wildcard(pattern[:-1]):
            prefixes.append(pattern[:-1])
        elif head == "*" and not has_wildcard(pattern[1:]):
            suffixes.append(pattern[1:])
        elif len(pattern) >= 2 and head == "*" and tail == "*" and not has_wildcard(body):
            infixes.append(body)
        else:
            others.append(pattern)
    regex = None
    if others:
        regex = re.compile("|".join(f"(?:{wildcard_regex(p)})" for p in others), re.DOTALL)
    return WildcardShapes(
        frozenset(literals), tuple(prefixes), tuple(suffixes), tuple(infixes), regex
    )


def infix_search(infixes: Sequence[str]) -> Callable[[str], object]:
    """One search over several infixes at once (an empty one matches every string)."""
    return re.compile("|".join(map(re.escape, infixes))).search


def _compile_shapes(patterns: Sequence[str]) -> StringTest:
    shapes = wildcard_shapes(patterns)
    tests: list[StringTest] = []
    if shapes.literals:
        tests.append(shapes.literals.__contains__)
    if shapes.prefixes:
        starts = shapes.prefixes
        tests.append(lambda value: value.startswith(starts))
    if shapes.suffixes:
        ends = shapes.suffixes
        tests.append(lambda value: value.endswith(ends))
    if shapes.infixes:
        tests.append(_infix_test(list(shapes.infixes)))
    if shapes.others is not None:
        fullmatch = shapes.others.fullmatch
        tests.append(lambda value: fullmatch(value) is not None)
    if not tests:
        return lambda value: False
    if len(tests) == 1:
        return tests[0]

    def any_shape(value: str) -> bool:
        for test in tests:  # noqa: SIM110 - a plain loop is faster on this hot path
            if test(value):
                return True
        return False

    return any_shape


def _infix_test(infixes: list[str]) -> StringTest:
    if len(infixes) == 1:
        infix = infixes[0]
        return lambda value: infix in value
    search = infix_search(infixes)
    return lambda value: search(value) is not None
