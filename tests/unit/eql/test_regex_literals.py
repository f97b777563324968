"""Required literals of Lucene regexes: every string the matcher accepts contains them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quarantine.detect.index import index_key
from quarantine.eql import compile_query
from quarantine.eql.lucene_regex import LuceneRegexError, compile_lucene_test
from quarantine.eql.regex_literals import required_literals

TUNNELLING = (
    ".*[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}:[0-9]{1,5}:"
    "[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}:[0-9]{1,5}.*"
)

# Characters for patterns and values: plain and special ASCII, and non-ASCII ones whose case
# mapping is unusual (ß folds to "ss", İ lowers to two characters, ı and K pair with ASCII).
ALPHABET = "abAB:.-1ßẞİıKσΣς"
_SPECIAL = set('.@#"()[]{}<>|&~*+?\\')


def _flip_ascii_case(text: str, data: st.DataObject, insensitive: bool) -> str:
    """A variant the ASCII case-insensitive matcher treats as equal."""
    if not insensitive:
        return text
    flips = data.draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(
        char.swapcase() if flip and char.isascii() else char
        for char, flip in zip(text, flips, strict=True)
    )


@dataclass(frozen=True)
class Node:
    """A generated regex: its Lucene text, and how to draw one string it matches."""

    pattern: str
    member: Callable[[st.DataObject, bool], str]


def _literal(char: str) -> Node:
    text = "\\" + char if char in _SPECIAL else char
    return Node(text, lambda data, insensitive: _flip_ascii_case(char, data, insensitive))


def _quoted(text: str) -> Node:
    return Node(f'"{text}"', lambda data, insensitive: _flip_ascii_case(text, data, insensitive))


def _class(chars: str, negated: bool) -> Node:
    if negated:
        folded = {char.casefold() for char in chars}
        outside = [char for char in ALPHABET if char.casefold() not in folded and char.isascii()]
        return Node("[^" + chars + "]", lambda data, _: data.draw(st.sampled_from(outside)))
    return Node("[" + chars + "]", lambda data, _: data.draw(st.sampled_from(chars)))


def _range_class() -> Node:
    return Node("[0-9]", lambda data, _: str(data.draw(st.integers(0, 9))))


def _interval() -> Node:
    return Node("<1-12>", lambda data, _: str(data.draw(st.integers(1, 12))))


LEAVES: st.SearchStrategy[Node] = st.one_of(
    st.sampled_from(ALPHABET).map(_literal),
    st.text(ALPHABET.replace('"', ""), max_size=3).map(_quoted),
    st.just(Node(".", lambda data, _: data.draw(st.sampled_from(ALPHABET)))),
    st.just(Node("@", lambda data, _: data.draw(st.text(ALPHABET, max_size=3)))),
    st.builds(_class, st.sampled_from(["a", ":", "ab", "a.", "B"]), st.booleans()),
    st.just(_range_class()),
    st.just(_interval()),
    st.just(Node("()", lambda data, _: "")),
)


def _concat(parts: list[Node]) -> Node:
    return Node(
        "".join(part.pattern for part in parts),
        lambda data, insensitive: "".join(part.member(data, insensitive) for part in parts),
    )


def _alternation(branches: list[Node]) -> Node:
    def member(data: st.DataObject, insensitive: bool) -> str:
        return data.draw(st.sampled_from(branches)).member(data, insensitive)

    return Node("(" + "|".join(branch.pattern for branch in branches) + ")", member)


def _repetition(node: Node, bounds: tuple[str, int, int]) -> Node:
    suffix, low, high = bounds

    def member(data: st.DataObject, insensitive: bool) -> str:
        count = data.draw(st.integers(low, high))
        return "".join(node.member(data, insensitive) for _ in range(count))

    return Node("(" + node.pattern + ")" + suffix, member)


REPETITIONS = st.sampled_from(
    [("*", 0, 3), ("+", 1, 3), ("?", 0, 1), ("{2}", 2, 2), ("{1,3}", 1, 3), ("{2,}", 2, 4)]
)

REGEXES: st.SearchStrategy[Node] = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, min_size=2, max_size=4).map(_concat),
        st.lists(inner, min_size=2, max_size=3).map(_alternation),
        st.tuples(inner, REPETITIONS).map(lambda pair: _repetition(*pair)),
    ),
    max_leaves=12,
)


def _assert_literals_in(pattern: str, value: str, insensitive: bool) -> None:
    literals = required_literals(pattern, insensitive=insensitive)
    held = value.casefold() if insensitive else value
    for literal in literals:
        assert literal in held, (pattern, value, literals)
        # What the index compares: casefolded literal inside the casefolded value.
        assert literal.casefold() in (index_key(value) or ""), (pattern, value, literals)


@settings(max_examples=600, deadline=None)
@given(st.data(), st.booleans())
def test_every_string_the_matcher_accepts_holds_every_literal(
    data: st.DataObject, insensitive: bool
) -> None:
    node = data.draw(REGEXES)
    value = node.member(data, insensitive)
    # The generated string is a member: this guards the generator itself.
    assert compile_lucene_test(node.pattern, insensitive=insensitive)(value), (
        node.pattern,
        value,
    )
    _assert_literals_in(node.pattern, value, insensitive)


@settings(max_examples=600, deadline=None)
@given(REGEXES, st.text(ALPHABET, max_size=8), st.booleans())
def test_any_string_that_matches_holds_every_literal(
    node: Node, value: str, insensitive: bool
) -> None:
    if compile_lucene_test(node.pattern, insensitive=insensitive)(value):
        _assert_literals_in(node.pattern, value, insensitive)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (TUNNELLING, (".", ":")),  # "." followed by digits is no literal: the class breaks it
        (".*?net1[ ]+localgroup.*?", (" localgroup", "net1 ")),  # `[ ]` is one character
        ("abc", ("abc",)),
        ('x"a.b"y', ("xa.by",)),  # a quoted string is literal
        ("a\\.b", ("a.b",)),
        ("xa{1,3}y", ("ay", "xa")),  # at least one copy at each end
        ("x(ab)+c", ("abc", "xab")),  # a group repeated at least once is required
        ("ab{3}c", ("abbbc",)),
        ("x(ab)*c", ("c", "x")),  # zero copies allowed: nothing from the group
        ("x(ab)?c", ("c", "x")),
        ("(foo:1|foo:2)", ("foo:",)),  # what every branch starts with
        ("(abc|zabcz)", ("abc",)),  # what every branch contains
        ("(abc|xyz)", ()),
        ("@secret@", ("secret",)),
        ("a.b", ("a", "b")),
        ("[^a]b", ("b",)),
        ("[ab]", ()),
        ("<1-10>x", ("x",)),
        ("#", ()),
        ("()", ()),
    ],
)
def test_required_literals(pattern: str, expected: tuple[str, ...]) -> None:
    assert required_literals(pattern, insensitive=False) == expected


def test_insensitive_literals_are_casefolded() -> None:
    assert required_literals(".*ProxyCommand=.*", insensitive=True) == ("proxycommand=",)
    assert required_literals(".*ProxyCommand=.*", insensitive=False) == ("ProxyCommand=",)


@pytest.mark.parametrize(
    ("pattern", "value"),
    [
        ("STRAßE", "strAßE"),  # ß folds to "ss" in the literal and in the value alike
        ("İx", "İX"),  # İ folds to two characters
        ("ΟΔΟΣ", "ΟΔΟΣ"),  # a final sigma: lower() would give ς, casefold() gives σ
    ],
)
def test_casefolded_literals_stay_necessary_when_folding_changes_length(
    pattern: str, value: str
) -> None:
    assert compile_lucene_test(pattern, insensitive=True)(value)
    _assert_literals_in(pattern, value, insensitive=True)


def test_arguments_the_compiled_query_matches_hold_the_literals() -> None:
    query = compile_query(f'process where process.args regex """{TUNNELLING}"""')
    values = ["10.0.0.1:80:10.0.0.2:90", "-L8080:10.0.0.1:80:1.2.3.4:22x", "10.0.0.1", "a:b"]
    matched = [
        value
        for value in values
        if query.matches({"event": {"category": "process"}, "process": {"args": [value]}})
    ]
    assert matched == values[:2]
    for value in matched:
        _assert_literals_in(TUNNELLING, value, insensitive=False)


@pytest.mark.parametrize(("pattern", "message"), [("a&b", "intersection"), ("(ab", "missing")])
def test_patterns_the_matcher_refuses_are_refused(pattern: str, message: str) -> None:
    with pytest.raises(LuceneRegexError, match=message):
        required_literals(pattern, insensitive=False)
