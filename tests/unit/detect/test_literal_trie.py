"""The trie-shaped pattern of a set of literals finds exactly what the literals themselves do."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from quarantine.detect.literal_trie import trie_pattern

# Few characters, so literals share prefixes, nest inside each other and occur in the texts;
# regex metacharacters among them must stay literal.
CHARS = "ab.*(|"
LITERALS = st.lists(st.text(CHARS, max_size=5), max_size=12)
TEXTS = st.lists(st.text(CHARS, max_size=10), min_size=1, max_size=8)


@settings(max_examples=400, deadline=None)
@given(LITERALS, TEXTS)
def test_search_and_match_agree_with_the_literals(literals: list[str], texts: list[str]) -> None:
    pattern = trie_pattern(literals)
    if not literals:
        assert pattern is None
        return
    assert pattern is not None
    for text in texts + literals:
        assert (pattern.search(text) is not None) is any(lit in text for lit in literals)
        assert (pattern.match(text) is not None) is any(text.startswith(lit) for lit in literals)


def test_the_pattern_branches_only_where_the_literals_differ() -> None:
    pattern = trie_pattern(["/etc/shadow", "/etc/passwd", "/etc/pass"])
    assert pattern is not None
    assert pattern.pattern == "/etc/(?:shadow|pass(?:wd)?)"
    assert pattern.search("cat /etc/passw")
    assert not pattern.search("/etc/shado")


def test_an_empty_literal_is_in_every_text() -> None:
    pattern = trie_pattern(["", "x"])
    assert pattern is not None and pattern.search("anything") and pattern.match("")
