"""The automaton that matches regexes `re` could backtrack badly on gives `re`'s answers."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_regex_literals import ALPHABET, REGEXES, TUNNELLING, Node

from quarantine.eql.lucene_automaton import (
    LinearMatcher,
    UnsupportedPattern,
    may_backtrack_badly,
    parse_translated,
)
from quarantine.eql.lucene_regex import _flags, compile_lucene_test, lucene_finder, translate

# Found by hypothesis: `re` never finishes on it (nested repeats after several `.*`).
HANGING_PATTERN = '()"1Kσ"@[0-9]@(@)*(@){2}[a]K"ıKa"@(((<1-12>){2,}){2})*'
HANGING_VALUE = "1KσıK13-B1ßaKıka93121212429169971010466110115"

# `re` stays fast on values this short, whatever the pattern.
SHORT = 8


def _automaton(pattern: str, insensitive: bool, **options: int) -> LinearMatcher:
    return LinearMatcher(parse_translated(translate(pattern)), _flags(insensitive), **options)


def _re_answer(pattern: str, value: str, insensitive: bool) -> bool:
    return re.fullmatch(translate(pattern), value, _flags(insensitive)) is not None


def test_the_pattern_that_hung_re_is_answered() -> None:
    test = compile_lucene_test(HANGING_PATTERN, insensitive=True)
    assert test(HANGING_VALUE)
    assert not test(HANGING_VALUE[1:])  # the literal prefix is required


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("(a*)*b", "a" * 5000, False),
        ("(a*)*b", "a" * 5000 + "b", True),
        ("(a|aa)*c", "a" * 3000, False),
        ("(.*)*x", "y" * 3000, False),
        ("@a@b@c@d", "abc" * 1000, False),
        ("@a@b@c@d", "abc" * 1000 + "d", True),
    ],
)
def test_long_values_get_the_right_answer_on_patterns_re_cannot_run(
    pattern: str, value: str, expected: bool
) -> None:
    assert may_backtrack_badly(translate(pattern))
    assert compile_lucene_test(pattern, insensitive=False)(value) is expected


@settings(max_examples=800, deadline=None)
@given(st.data(), st.booleans())
def test_the_automaton_agrees_with_re(data: st.DataObject, insensitive: bool) -> None:
    node = data.draw(REGEXES)
    # A member (case-flipped where insensitive) so that matches are compared, not only misses.
    member = node.member(data, insensitive)
    values = [member, *data.draw(st.lists(st.text(ALPHABET + "\n", max_size=SHORT), max_size=4))]
    safe_for_re = not may_backtrack_badly(translate(node.pattern))
    automaton = _automaton(node.pattern, insensitive)
    for value in values:
        if len(value) <= SHORT or safe_for_re:
            expected = _re_answer(node.pattern, value, insensitive)
            assert (automaton.find(value) is not None) is expected, (node.pattern, value)
    assert automaton.find(member), (node.pattern, member)  # the generator's own promise


@settings(max_examples=200, deadline=None)
@given(REGEXES, st.lists(st.text(ALPHABET, max_size=SHORT), max_size=6), st.integers(1, 40))
def test_answers_stay_right_when_the_cache_starts_over(
    node: Node, values: list[str], budget: int
) -> None:
    automaton = _automaton(node.pattern, insensitive=False, cache_budget=budget)
    for value in values + values:  # the second round reuses, or rebuilds, the cache
        expected = _re_answer(node.pattern, value, insensitive=False)
        assert (automaton.find(value) is not None) is expected, (node.pattern, value)


# Translated-pattern syntax the Lucene generator above never produces.
EDGE_PATTERNS = [
    "(?!)",  # Lucene's `#`
    "a(?!)|b",
    "(?:(?!))*",
    "(?:)*",
    "(?:|a)*",
    "(?:a|)*b",
    "(?:a?){3}a{3}",
    "(?:a{0,2}){2,3}",
    "a{0}b",
    "[]a]",  # a leading `]` is a literal
    "[^]a]",
    "[a\\-c]+",
    "\\.\\ \\-",
    "(a)|(b)",
]


@pytest.mark.parametrize("pattern", EDGE_PATTERNS)
@pytest.mark.parametrize("flags", [re.DOTALL, re.DOTALL | re.IGNORECASE | re.ASCII])
def test_the_automaton_agrees_with_re_on_edge_syntax(pattern: str, flags: int) -> None:
    automaton = LinearMatcher(parse_translated(pattern), flags)
    values = ["".join(chars) for n in range(5) for chars in itertools.product("aAb]-.", repeat=n)]
    for value in values:
        expected = re.fullmatch(pattern, value, flags) is not None
        assert (automaton.find(value) is not None) is expected, (pattern, value)


@pytest.mark.parametrize(
    "pattern", [".*/etc/shadow.*", "[a-z]+\\.sh", TUNNELLING, ".*foo.*", "(a|b)c*", "x{2,5}y"]
)
def test_rule_shaped_patterns_stay_on_re(pattern: str) -> None:
    assert not may_backtrack_badly(translate(pattern))
    assert isinstance(
        getattr(lucene_finder(pattern, insensitive=False), "__self__", None), re.Pattern
    )


@pytest.mark.parametrize(
    "pattern",
    [
        "(a*)*b",
        "(a|a)*",
        "(.*)*",
        "(ab?)+",
        "((ab){2})*",
        "@a@b@",
        "a.{0,20}b.{0,20}c.{0,20}",
        HANGING_PATTERN,
    ],
)
def test_patterns_re_could_backtrack_badly_on_take_the_automaton(pattern: str) -> None:
    assert may_backtrack_badly(translate(pattern))
    assert isinstance(
        getattr(lucene_finder(pattern, insensitive=True), "__self__", None), LinearMatcher
    )


@pytest.mark.parametrize("translated", ["^a", "a$", "(?=a)", "\\d", "a*?", "a**", "a{,3}", "[ab"])
def test_syntax_the_translator_never_writes_is_refused(translated: str) -> None:
    with pytest.raises(UnsupportedPattern):
        parse_translated(translated)


def test_a_risky_pattern_re_refuses_is_refused_as_before() -> None:
    with pytest.raises(re.error):
        compile_lucene_test("(a*)*b{3,1}", insensitive=False)
