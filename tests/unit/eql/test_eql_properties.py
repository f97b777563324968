"""Property-based checks of the wildcard, `in~`, null and prefilter rules."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from quarantine.eql import compile_query

TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8)
ASCII = st.text(alphabet="abcAB*?\\. -", max_size=8)


def reference_wildcard(pattern: str, value: str, *, insensitive: bool) -> bool:
    """Independent model: translate char by char, no escapes, whole-string match."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    if insensitive:
        return re.fullmatch(regex, value, re.DOTALL | re.IGNORECASE) is not None or (
            re.fullmatch(regex.lower(), value.lower(), re.DOTALL) is not None
        )
    return re.fullmatch(regex, value, re.DOTALL) is not None


@settings(max_examples=300)
@given(pattern=ASCII, value=ASCII)
def test_like_matches_the_reference_wildcard_model(pattern: str, value: str) -> None:
    query = compile_query(f"any where f like {json.dumps(pattern)}")
    assert query.matches({"f": value}) == reference_wildcard(pattern, value, insensitive=False)


@settings(max_examples=300)
@given(pattern=ASCII, value=ASCII)
def test_colon_is_insensitive_like(pattern: str, value: str) -> None:
    colon = compile_query(f"any where f : {json.dumps(pattern)}")
    like = compile_query(f"any where f like~ {json.dumps(pattern)}")
    assert colon.matches({"f": value}) == like.matches({"f": value})
    assert colon.matches({"f": value}) == colon.matches({"f": value.upper()})


@settings(max_examples=300)
@given(members=st.lists(ASCII, min_size=1, max_size=4), value=ASCII)
def test_in_insensitive_is_verbatim_lowercase_equality(members: list[str], value: str) -> None:
    listed = ", ".join(json.dumps(m) for m in members)
    query = compile_query(f"any where f in~ ({listed})")
    assert query.matches({"f": value}) == (value.lower() in {m.lower() for m in members})


VALUES = st.one_of(st.none(), st.integers(-3, 3), st.booleans(), st.sampled_from(["a", "b"]))


@settings(max_examples=300)
@given(value=VALUES, other=VALUES)
def test_null_never_matches_and_not_keeps_it_null(value: Any, other: Any) -> None:
    event = {} if value is None else {"x": value}
    positive = compile_query("any where x > 0").matches(event)
    negative = compile_query("any where not (x > 0)").matches(event)
    if value is None:
        assert not positive and not negative
        assert compile_query("any where x == null").matches(event)
    if isinstance(value, int) and not isinstance(value, bool):
        assert positive != negative
    del other


FIELD_VALUE = st.one_of(TEXT, st.lists(TEXT, max_size=3), st.none(), st.integers(0, 3))
CONDITIONS = [
    'f == "{a}"',
    'f : "{a}"',
    'f : ("{a}", "{b}")',
    'f in ("{a}", "{b}")',
    'f in~ ("{a}", "{b}")',
    'f like "{a}"',
    'f == "{a}" and g : "{b}"',
    '(f == "{a}" or f in~ ("{b}")) and g != "{a}"',
]


@settings(max_examples=500)
@given(
    template=st.sampled_from(CONDITIONS),
    a=TEXT,
    b=TEXT,
    f=FIELD_VALUE,
    g=FIELD_VALUE,
)
def test_required_values_never_exclude_a_matching_event(
    template: str, a: str, b: str, f: Any, g: Any
) -> None:
    condition = template.format(a=_escape(a), b=_escape(b))
    query = compile_query(f"any where {condition}")
    event = {"f": f, "g": g}
    if not query.matches(event):
        return
    for path, allowed in query.required_values.items():
        raw = event[path]
        values = raw if isinstance(raw, list) else [raw]
        assert any(isinstance(v, str) and v.casefold() in allowed for v in values), (
            condition,
            event,
        )


def _escape(text: str) -> str:
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif char == "\t":
            out.append("\\t")
        elif ord(char) < 32:
            out.append(f"\\u{{{ord(char):04x}}}")
        else:
            out.append(char)
    return "".join(out)
