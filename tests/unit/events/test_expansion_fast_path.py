"""The fast paths of dotted-key expansion (the caller's JSON text, generated layout recipes)
against the general walk: the same result, key order, shared objects and errors."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quarantine.events import EventFormatError, expand_dotted, normalise
from quarantine.events.dotted_key_scan import dotted_keys_in_json_text
from quarantine.events.dotted_key_walk import expanded_everywhere
from quarantine.events.layout_recipes import KeyLayout, can_have_recipe, compile_recipe

# Keys that nest, conflict (`a` beside `a.b`), hold empty parts, escapes, quotes, non-ASCII,
# and start with `:` or whitespace (what a dot in a number before them could be taken for).
KEYS = st.sampled_from(
    ["a", "b", "a.b", "b.c", "a.b.c", "é.x", 'q.r"s', "a..b", "k\\.m", ":x.y", " :z", "n"]
)
LEAVES = st.one_of(
    st.integers(-2, 3),
    st.sampled_from([1.5, -0.25, 2e20]),
    st.sampled_from(["v", "w.x", 'q.":z', "\\", 'a\\"b.c', "é", "1.5"]),
    st.booleans(),
    st.none(),
)
DOCUMENTS = st.recursive(
    st.dictionaries(KEYS, LEAVES, max_size=3),
    lambda inner: st.dictionaries(
        KEYS, st.one_of(LEAVES, inner, st.lists(st.one_of(LEAVES, inner), max_size=2)), max_size=4
    ),
    max_leaves=12,
)


def general(document: dict[str, Any]) -> Any:
    """The general walk's answer: the expanded document, or the error's (message, path)."""
    try:
        expanded = expanded_everywhere(document)
    except EventFormatError as error:
        return ("error", error.message, error.path)
    return document if expanded is None else expanded


def fast(document: dict[str, Any], text: bytes | None) -> Any:
    try:
        return expand_dotted(document, text=text)
    except EventFormatError as error:
        return ("error", error.message, error.path)


def assert_identical(actual: Any, expected: Any, inputs: set[int]) -> None:
    """Equal values, equal key order at every level, and the same input objects shared."""
    assert type(actual) is type(expected)
    if isinstance(expected, dict | list):
        assert (id(actual) in inputs) == (id(expected) in inputs)
        if id(expected) in inputs:
            assert actual is expected
    if isinstance(expected, dict):
        assert list(actual) == list(expected)
        for key, value in expected.items():
            assert_identical(actual[key], value, inputs)
    elif isinstance(expected, list):
        assert len(actual) == len(expected)
        for actual_item, expected_item in zip(actual, expected, strict=True):
            assert_identical(actual_item, expected_item, inputs)
    else:
        assert actual == expected


def containers_in(node: Any) -> set[int]:
    found: set[int] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            found.add(id(item))
            stack.extend(item.values())
        elif isinstance(item, list):
            found.add(id(item))
            stack.extend(item)
    return found


def with_escaped_dots(node: Any) -> str:
    """JSON in which every dot inside a string is written `\\u002e`."""
    if isinstance(node, dict):
        entries = (
            f"{with_escaped_dots(key)}: {with_escaped_dots(value)}" for key, value in node.items()
        )
        return "{" + ", ".join(entries) + "}"
    if isinstance(node, list):
        return "[" + ", ".join(with_escaped_dots(item) for item in node) + "]"
    if isinstance(node, str):
        return json.dumps(node).replace(".", "\\u002e")  # no JSON escape holds a dot
    return json.dumps(node)


def texts_of(document: dict[str, Any]) -> list[bytes]:
    """The same JSON written the ways producers write it."""
    return [
        orjson.dumps(document),
        json.dumps(document, indent=1, ensure_ascii=False).encode(),
        json.dumps(document, separators=(" , ", " :\t"), ensure_ascii=False).encode(),
        json.dumps(document).encode(),  # non-ASCII as \u escapes
        with_escaped_dots(document).encode(),
    ]


def check_every_way(document: dict[str, Any]) -> None:
    before = orjson.dumps(document)
    snapshot = copy.deepcopy(document)
    expected = general(document)
    inputs = containers_in(document)
    for text in [None, *texts_of(document)]:
        if text is not None:
            assert orjson.loads(text) == document  # the precondition of `text`
        assert_identical(fast(document, text), expected, inputs)
    assert document == snapshot
    assert orjson.dumps(document) == before  # not even the key order changed


@st.composite
def streams(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Documents repeating a few layouts with fresh values (so recipes are made and used),
    now and then interrupted by another document."""
    templates = draw(st.lists(DOCUMENTS, min_size=1, max_size=3))
    stream = []
    for _ in range(draw(st.integers(4, 12))):
        if draw(st.integers(0, 5)) == 0:
            stream.append(draw(DOCUMENTS))
        else:
            stream.append(refilled(draw(st.sampled_from(templates)), draw))
    return stream


def refilled(node: Any, draw: st.DrawFn) -> Any:
    """`node` with the same keys and nesting and new leaf values."""
    if isinstance(node, dict):
        return {key: refilled(value, draw) for key, value in node.items()}
    if isinstance(node, list):
        return [refilled(item, draw) for item in node]
    return draw(LEAVES)


@settings(max_examples=300, deadline=None)
@given(document=DOCUMENTS)
def test_every_text_layout_gives_what_the_general_walk_gives(document: dict[str, Any]) -> None:
    check_every_way(document)


@settings(max_examples=200, deadline=None)
@given(stream=streams())
def test_repeated_layouts_give_what_the_general_walk_gives(stream: list[dict[str, Any]]) -> None:
    for document in stream:
        check_every_way(document)


@settings(max_examples=300, deadline=None)
@given(document=DOCUMENTS)
def test_the_text_scan_never_counts_fewer_dotted_keys_than_there_are(
    document: dict[str, Any],
) -> None:
    def dotted_keys(node: Any) -> int:
        if isinstance(node, dict):
            return sum(("." in key) + dotted_keys(value) for key, value in node.items())
        if isinstance(node, list):
            return sum(dotted_keys(item) for item in node)
        return 0

    real = dotted_keys(document)
    for text in texts_of(document)[:3]:
        counted = dotted_keys_in_json_text(text)
        assert counted is not None
        assert counted >= real


def test_the_text_scan_reads_whitespace_and_escapes_exactly() -> None:
    assert dotted_keys_in_json_text(b'{"a.b" : 1, "c" :\n{"d.e"\t: "f.g"}}') == 2
    assert dotted_keys_in_json_text(b'{"x": "a.b", "y": ["c.d"]}') == 0
    assert dotted_keys_in_json_text(b'{"a.\\"b": 1, "c\\\\": "d.\\\\"}') == 1
    assert dotted_keys_in_json_text(b'{"q\\".r": {"s": "t.\\": u"}}') == 1


def test_text_that_may_write_a_dot_as_an_escape_is_not_scanned() -> None:
    assert dotted_keys_in_json_text(b'{"a\\u002eb": 1}') is None
    assert dotted_keys_in_json_text(b'{"a\\u002Eb": 1}') is None
    # Other \u escapes cannot hide a dot: the scan still reads the text.
    assert dotted_keys_in_json_text(b'{"\\u00e9.x": "\\u003c"}') == 1
    document = {"a.b": {"c": 1}}
    assert expand_dotted(document, text=b'{"a\\u002eb": {"c": 1}}') == {"a": {"b": {"c": 1}}}


def test_a_recipe_expands_like_the_general_walk_and_shares_untouched_values() -> None:
    image_tag = ["1"]
    document = {
        "event": {"kind": "event"},
        "container": {"id": "c1", "image.name": "nginx", "image.tag": image_tag},
        "orchestrator": {"resource.name": "web", "namespace": "shop", "resource.type": "pod"},
    }
    layout = KeyLayout(
        (
            ("container", tuple(document["container"])),
            ("orchestrator", tuple(document["orchestrator"])),
        ),
        None,
    )
    assert can_have_recipe(layout)
    assert layout.dotted_keys() == 4
    recipe = compile_recipe([layout])
    expanded = recipe(document)
    assert_identical(expanded, general(document), containers_in(document))
    assert expanded is not None
    assert expanded["event"] is document["event"]
    assert expanded["container"]["image"]["tag"] is image_tag
    # Another key order is another layout: the recipe declines rather than reorder.
    reordered = {**document, "container": {"image.name": "x", "id": "c2", "image.tag": []}}
    assert recipe(reordered) is None


def test_a_recipe_for_dotted_top_level_keys_checks_every_top_level_key() -> None:
    document = {"process.name": "sh", "x": {"p.q": 1}, "process.pid": 7}
    layout = KeyLayout((("x", ("p.q",)),), tuple(document))
    recipe = compile_recipe([layout])
    assert_identical(recipe(document), general(document), containers_in(document))
    assert recipe({"process.name": "sh", "x": {"p.q": 1}, "process.ppid": 7}) is None
    assert recipe({"process.name": "sh", "x": ["p.q"], "process.pid": 7}) is None


@pytest.mark.parametrize(
    "keys",
    [("a", "a.b"), ("a.b", "a"), ("a.b", "a.b.c"), ("a..b",), (".a",), ("a.",)],
)
def test_layouts_whose_result_depends_on_the_values_get_no_recipe(keys: tuple[str, ...]) -> None:
    assert not can_have_recipe(KeyLayout((("h", keys),), None))
    assert not can_have_recipe(KeyLayout((), keys))


def test_a_recurring_layout_with_a_conflict_keeps_refusing_it() -> None:
    for _ in range(6):
        with pytest.raises(EventFormatError) as refused:
            expand_dotted({"c": {"a": 1, "a.b": 2}}, text=b'{"c": {"a": 1, "a.b": 2}}')
        assert refused.value.path == "c.a"
        # Same keys, other values: merged, not refused.
        merged = expand_dotted(
            {"c": {"a": {"x": 1}, "a.b": 2}}, text=b'{"c":{"a":{"x":1},"a.b":2}}'
        )
        assert merged == {"c": {"a": {"x": 1, "b": 2}}}


def test_shared_sample_events_normalise_alike_with_and_without_text(shared_dir: Path) -> None:
    files = sorted(
        path
        for path in (shared_dir / "events").rglob("*")
        if path.suffix in {".json", ".ndjson", ".jsonl"}
    )
    assert files, "no sample events found"
    checked = 0
    for path in files:
        raw = path.read_bytes()
        lines = [raw] if path.suffix == ".json" else [line for line in raw.splitlines() if line]
        for line in lines:
            try:
                document = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # not one JSON document per line: the reader's tests cover those
            if type(document) is not dict:
                continue
            for _ in range(4):  # past the point where its layout gets a recipe
                try:
                    expected = normalise(document)
                except EventFormatError as error:
                    with pytest.raises(EventFormatError, match=re.escape(str(error))):
                        normalise(document, text=line)
                    continue
                assert_identical(normalise(document, text=line), expected, containers_in(document))
            checked += 1
    assert checked >= 3
