"""Lucene regular-expression syntax translated to Python."""

from __future__ import annotations

import pytest

from quarantine.eql.lucene_regex import LuceneRegexError, compile_lucene


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        (".*?net1[ ]+localgroup.*?", "net1  localgroup admins", True),
        ("a.c", "a\nc", True),  # `.` matches any character, newlines included
        ("abc", "xabcx", False),  # whole-string match
        ("\\s", "s", True),  # a backslash quotes the next character: no \s class
        ("\\s", " ", False),
        ('"a.b"', "a.b", True),  # quoted literal
        ('"a.b"', "axb", False),
        ("@", "anything at all", True),
        ("#", "", False),
        ("<1-12>", "7", True),
        ("<1-12>", "13", False),
        ("a{2,3}", "aaa", True),
        ("a{2,3}", "aaaa", False),
        ("a*+", "aaa", True),  # Lucene repeats a repetition; Python would read possessive
        ("[^a-c]x", "dx", True),
        ("[^a-c]x", "bx", False),
        ("^a$", "^a$", True),  # no anchors: ^ and $ are plain characters
    ],
)
def test_translation(pattern: str, text: str, expected: bool) -> None:
    assert (compile_lucene(pattern, insensitive=False).fullmatch(text) is not None) is expected


def test_case_insensitive_is_ascii_only() -> None:
    assert compile_lucene("ABC", insensitive=True).fullmatch("abc")
    assert not compile_lucene("É", insensitive=True).fullmatch("é")


@pytest.mark.parametrize("pattern", ["a&b", "~a", "(ab", "[ab", "*a", "a{x}", "<a-b>"])
def test_unsupported_or_broken_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(LuceneRegexError):
        compile_lucene(pattern, insensitive=False)
