"""EQL wildcard patterns (`*`, `?`) compiled to fast string tests.

Elasticsearch has no escape character in these patterns: a backslash is an ordinary
character, and a literal `*` or `?` cannot be matched (use `==`). Patterns match the whole
string. Case-insensitive matching lower-cases both sides (`toLowerCase(Locale.ROOT)`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

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
    literals = frozenset(p for p in patterns if not has_wildcard(p))
    wild = [p for p in patterns if has_wildcard(p)]
    test = _compile_wild_only(wild)
    if insensitive:
        if not wild:
            return lambda value: value.lower() in literals
        if not literals:
            return lambda value: test(value.lower())
        return lambda value: (lowered := value.lower()) in literals or test(lowered)
    if not wild:
        return literals.__contains__
    if not literals:
        return test
    return lambda value: value in literals or test(value)


def _compile_wild_only(patterns: list[str]) -> StringTest:
    if not patterns:
        return lambda value: False
    if len(patterns) == 1:
        return _compile_single(patterns[0])
    regex = re.compile("|".join(f"(?:{wildcard_regex(p)})" for p in patterns), re.DOTALL)
    fullmatch = regex.fullmatch
    return lambda value: fullmatch(value) is not None


def _compile_single(pattern: str) -> StringTest:
    # The shapes Elastic rules use most, without the regex engine.
    inner = pattern[1:-1]
    if len(pattern) >= 2 and pattern[0] == "*" and pattern[-1] == "*" and not has_wildcard(inner):
        return lambda value: inner in value
    prefix = pattern[:-1]
    if pattern.endswith("*") and not has_wildcard(prefix):
        return lambda value: value.startswith(prefix)
    suffix = pattern[1:]
    if pattern.startswith("*") and not has_wildcard(suffix):
        return lambda value: value.endswith(suffix)
    fullmatch = re.compile(wildcard_regex(pattern), re.DOTALL).fullmatch
    return lambda value: fullmatch(value) is not None
