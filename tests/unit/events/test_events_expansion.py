"""Dotted-key expansion against a plain reference model, including the cheap pre-check."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from quarantine.events import EventFormatError, expand_dotted


class Conflict(Exception):
    """The reference model's refusal (a key given twice, or a value that is also an object)."""


def reference(node: Any) -> Any:
    """Naive model: rebuild everything, placing each key at its dotted path, merging objects."""
    if type(node) is list:
        return [reference(item) if type(item) is dict else item for item in node]
    if type(node) is not dict:
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        parts = key.split(".")
        if "" in parts:
            raise Conflict(key)
        target = out
        for part in parts[:-1]:
            child = target.setdefault(part, {})
            if type(child) is not dict:
                raise Conflict(key)
            target = child
        _place(target, parts[-1], reference(value))
    return out


def _place(target: dict[str, Any], key: str, value: Any) -> None:
    if key not in target or target[key] is None:
        target[key] = value
    elif type(target[key]) is dict and type(value) is dict:
        for inner_key, inner_value in value.items():
            _place(target[key], inner_key, inner_value)
    else:
        raise Conflict(key)


KEYS = st.sampled_from(["a", "b", "a.b", "b.c", "a.b.c", "é.x", 'q.r"s', "a..b"])
LEAVES = st.one_of(st.integers(0, 3), st.sampled_from(["v", "w.x", 'q.":z', 1.5]), st.booleans())
DOCUMENTS = st.recursive(
    st.dictionaries(KEYS, LEAVES, max_size=3),
    lambda inner: st.dictionaries(
        KEYS, st.one_of(LEAVES, inner, st.lists(st.one_of(LEAVES, inner), max_size=2)), max_size=3
    ),
    max_leaves=10,
)


@settings(max_examples=500)
@given(document=DOCUMENTS)
def test_expansion_matches_the_reference_and_leaves_the_input_alone(
    document: dict[str, Any],
) -> None:
    before = copy.deepcopy(document)
    try:
        expected = reference(document)
    except Conflict:
        expected = Conflict
    try:
        expanded = expand_dotted(document)
    except EventFormatError:
        expanded = Conflict
    assert expanded == expected
    assert document == before


@settings(max_examples=200)
@given(document=DOCUMENTS)
def test_documents_without_dotted_keys_come_back_as_they_are(document: dict[str, Any]) -> None:
    def has_dot(node: Any) -> bool:
        if type(node) is list:
            return any(has_dot(item) for item in node if type(item) is dict)
        if type(node) is dict:
            return any("." in key or has_dot(value) for key, value in node.items())
        return False

    if not has_dot(document):
        assert expand_dotted(document) is document


def test_a_quote_after_the_dot_does_not_hide_a_dotted_key() -> None:
    assert expand_dotted({"x": {'a.b"c': 1}}) == {"x": {"a": {'b"c': 1}}}


def test_values_json_cannot_encode_still_get_their_keys_expanded() -> None:
    huge = 2**70  # beyond what the C serialiser takes
    assert expand_dotted({"n": huge, "a.b": 1}) == {"n": huge, "a": {"b": 1}}
    marker = object()
    assert expand_dotted({"o": marker, "p": {"q.r": 2}}) == {"o": marker, "p": {"q": {"r": 2}}}


def test_a_conflict_deep_down_is_named_by_its_full_path() -> None:
    try:
        expand_dotted({"x": [{"y": {"a": 1, "a.b": 2}}]})
    except EventFormatError as error:
        assert error.path == "x.y.a"
        assert "is both a value and an object" in error.message
    else:
        raise AssertionError("the conflict was not refused")


def test_a_remembered_layout_is_used_only_when_it_accounts_for_every_dotted_key() -> None:
    first = {"c": {"image.name": "x", "id": "1"}, "p": {"name": "sh"}}
    assert expand_dotted(first) == {"c": {"image": {"name": "x"}, "id": "1"}, "p": {"name": "sh"}}
    # Same top-level keys, same holder, but one more dotted key deeper down: found as well.
    second = {"c": {"image.name": "y", "id": "2"}, "p": {"parent": {"name.x": "bash"}}}
    assert expand_dotted(second) == {
        "c": {"image": {"name": "y"}, "id": "2"},
        "p": {"parent": {"name": {"x": "bash"}}},
    }
    # The holder is no longer an object: the general walk handles it.
    third = {"c": ["image.name"], "p": {"a.b": 1}}
    assert expand_dotted(third) == {"c": ["image.name"], "p": {"a": {"b": 1}}}
    # A number with a dot next to a key starting with ':' must not hide a dotted key.
    fourth = {"c": {"image.name": "z", "id": 1.5, ":k": {"q.r": 1}}, "p": {}}
    assert expand_dotted(fourth)["c"][":k"] == {"q": {"r": 1}}


def test_an_empty_top_level_key_is_not_taken_for_the_document() -> None:
    document = {"a.b": 1, "": {"c.d": 2}}
    expected = {"a": {"b": 1}, "": {"c": {"d": 2}}}
    assert expand_dotted(document) == expected
    assert expand_dotted(dict(document)) == expected  # the remembered layout gives the same
