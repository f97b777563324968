"""The generated matcher (`eql/codegen.py`) answers exactly as the reference closures.

Random conditions over random events (scalars, arrays, nested arrays, arrays of objects,
typed fields), and every event query and sequence stage of Elasticsearch's spec corpus
over the corpus's own events.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quarantine.eql import EqlSyntaxError, compile_query
from quarantine.eql.query import Query

SPEC = Path(__file__).resolve().parents[3] / ".." / "shared" / "eql-spec"
CATEGORY_FIELD = "event_type"  # as the corpus's events name it

STRINGS = st.sampled_from(
    ["a", "A", "ab", "b*", "x.y", "X.Y", "1.2.3.4:80", "", "Ab?", "abAB", "A:z", "9.9:1"]
)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2, 2), st.floats(-2, 2), STRINGS)
VALUES = st.one_of(SCALARS, st.lists(st.one_of(SCALARS, st.lists(SCALARS, max_size=2)), max_size=3))

FIELDS = ["f", "g", "p.name", "p.args", "p.parent.name"]
LITERALS = ['"a"', '"A"', '"ab"', "1", "1.5", "true", "null", '"x.y"']
PATTERNS = ['"a*"', '"*b"', '"*b*"', '"a?"', '"ab"', '"A"', '"*"', '"?*"', '"x*y"']


@st.composite
def conditions(draw: st.DrawFn, depth: int = 0) -> str:
    """An EQL condition mixing every form the generator inlines and some it does not."""
    field = draw(st.sampled_from(FIELDS))
    literal = draw(st.sampled_from(LITERALS))
    patterns = ", ".join(draw(st.lists(st.sampled_from(PATTERNS), min_size=1, max_size=3)))
    members = ", ".join(draw(st.lists(st.sampled_from(LITERALS), min_size=1, max_size=3)))
    leaves = [
        f"{field} {draw(st.sampled_from(['==', '!=', '<', '<=', '>', '>=']))} {literal}",
        f"{literal} == {field}",
        f"{field} : ({patterns})",
        f"{field} {draw(st.sampled_from(['like', 'like~']))} ({patterns})",
        f"{field} {draw(st.sampled_from(['in', 'in~', 'not in']))} ({members})",
        f'{field} {draw(st.sampled_from(["regex", "regex~"]))} ".*[ab].*"',
        f'{field} regex ("a.", "[0-9]+")',
        # Patterns with required literals, which the generated code checks before the regex.
        f'{field} {draw(st.sampled_from(["regex", "regex~"]))} """.*[0-9]\\.[0-9]:[0-9]+"""',
        f'{field} {draw(st.sampled_from(["regex", "regex~"]))} ("x\\.y", "(Ab)+", "a:.*")',
        field,
        f'startsWith({field}, "a")',
        f"length({field}) > 1",
        f"{field} == null",
        f"{field} != null",
        "true",
        "null",
    ]
    leaf = draw(st.sampled_from(leaves))
    if depth >= 2:
        return leaf
    shape = draw(st.sampled_from(["leaf", "not", "and", "or"]))
    if shape == "leaf":
        return leaf
    if shape == "not":
        return f"not ({draw(conditions(depth + 1))})"
    parts = draw(st.lists(conditions(depth + 1), min_size=2, max_size=4))
    return "(" + f" {shape} ".join(parts) + ")"


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    def value() -> Any:
        return draw(VALUES)

    parent: Any = draw(st.sampled_from(["dict", "list", "scalar", "missing"]))
    process: dict[str, Any] = {"name": value(), "args": value()}
    if parent == "dict":
        process["parent"] = {"name": value()}
    elif parent == "list":  # an array of objects: the generated code defers to the reference
        process["parent"] = [{"name": value()}, {"name": value()}]
    elif parent == "scalar":
        process["parent"] = value()
    categories = ["process", ["process", "file"], ["file"], None, [["process"]]]
    category = draw(st.sampled_from(categories))
    event: dict[str, Any] = {"f": value(), "g": value(), "event": {"category": category}}
    event["p"] = draw(st.sampled_from([process, [process], None, "odd"]))
    return event


def _both(query: Query, event: dict[str, Any]) -> tuple[bool, bool]:
    return query.matcher()(event), query.reference_matcher()(event)


@settings(max_examples=400, deadline=None)
@given(condition=conditions(), event=events(), nested_only=st.booleans())
def test_generated_matcher_equals_the_closures(
    condition: str, event: dict[str, Any], nested_only: bool
) -> None:
    try:
        query = compile_query(f"process where {condition}", nested_only=nested_only)
    except EqlSyntaxError:
        return  # e.g. a comparison the language refuses; nothing to generate
    generated, reference = _both(query, event)
    assert generated == reference, query.matcher().source  # type: ignore[attr-defined]
    negated = compile_query(f"any where not ({condition})", nested_only=nested_only)
    assert _both(negated, event)[0] == _both(negated, event)[1]


TOP_LEVEL_STRING_TESTS = [
    'f == "a"',
    '"a" == f',
    'f in ("a", "x.y")',
    'f == "a" and p.name in ("b", "x.y")',
]
ARRAY_SHAPES: list[Any] = [
    "a", "b", None, 1, True, [], [None], ["a"], ["b", "a"], [["a"]], ["b", ["a"]],
    [None, ["b"]], [["b"], "a"], [1, "a"], [[]], [{"a": "a"}], {"a": "a"}, ["x.y"], [["x.y"]],
]  # fmt: skip


@pytest.mark.parametrize("condition", TOP_LEVEL_STRING_TESTS)
@pytest.mark.parametrize("nested_only", [True, False])
def test_top_level_string_tests_read_arrays_and_nested_arrays_as_the_closures_do(
    condition: str, nested_only: bool
) -> None:
    # A conjunct of the top-level `and` is one boolean expression: `in` finds a string in a
    # flat array, and a nested array still takes the walk.
    query = compile_query(f"process where {condition}", nested_only=nested_only)
    assert "return False" in query.matcher().source  # type: ignore[attr-defined]
    matched = 0
    for f in ARRAY_SHAPES:
        for name in ARRAY_SHAPES:
            event = {"event": {"category": "process"}, "f": f, "p": {"name": name}}
            generated, reference = _both(query, event)
            assert generated == reference, (condition, f, name)
            matched += generated
    assert matched > 0


GUARDS = [
    'p.name == "a"',
    'p.name in ("ab", "A")',
    'p.name : "x.y"',
    'p.name like~ ("AB", "b*")',
    'p.name in~ ("1.2.3.4:80")',
    '"abAB" == p.name',
]


@st.composite
def switched_ors(draw: st.DrawFn) -> str:
    """A top-level `or` most of whose branches require p.name to hold some strings (what the
    generator turns into a set lookup choosing the branches to evaluate)."""
    branches = []
    for _ in range(draw(st.integers(3, 6))):
        guard = draw(st.sampled_from(GUARDS))
        rest = draw(conditions(depth=2))
        shape = draw(st.sampled_from(["guard", "guard and", "and guard", "free"]))
        branches.append(
            {
                "guard": guard,
                "guard and": f"{guard} and {rest}",
                "and guard": f"{rest} and {guard}",
            }.get(shape, rest)
        )
    other = draw(conditions(depth=2))
    return f"({' or '.join(branches)}) and {other}"


@settings(max_examples=300, deadline=None)
@given(condition=switched_ors(), event=events(), nested_only=st.booleans())
def test_or_switched_on_a_field_equals_the_closures(
    condition: str, event: dict[str, Any], nested_only: bool
) -> None:
    try:
        query = compile_query(f"process where {condition}", nested_only=nested_only)
    except EqlSyntaxError:
        return
    generated, reference = _both(query, event)
    assert generated == reference, query.matcher().source  # type: ignore[attr-defined]


def test_an_or_of_name_tests_is_switched_on_the_name() -> None:
    query = compile_query(
        'process where (process.name == "ssh" and process.args == "-L") or '
        'process.name in ("iodine", "dnscat") or (process.name : "socat" and process.args : "x") '
        'or process.args == "-s"',
        nested_only=True,
    )
    source: str = query.matcher().source  # type: ignore[attr-defined]
    assert ".lower() not in" in source
    event = {"event": {"category": "process"}, "process": {"name": "bash", "args": ["-s"]}}
    assert query.matches(event)  # through the branch without a name test
    event["process"]["args"] = ["-L"]
    assert not query.matches(event)
    event["process"]["name"] = "SSH"  # not "ssh": only the lookup is case-insensitive
    assert not query.matches(event)
    event["process"]["name"] = "ssh"
    assert query.matches(event)
    for name in ("iodine", "dnscat"):  # every name of every branch opens its branch
        event["process"]["name"] = name
        assert query.matches(event), name


@settings(max_examples=200, deadline=None)
@given(
    version=st.sampled_from(["1.2.3", "1.10.0", "2", "x", None]),
    moment=st.sampled_from(["2024-01-01T00:00:00Z", 1_700_000_000_000, "nope", None]),
    op=st.sampled_from(["==", "!=", "<", ">="]),
)
def test_typed_fields_keep_the_reference_tests(version: Any, moment: Any, op: str) -> None:
    schema = {"v": "version", "d": "date"}
    text = f'any where v {op} "1.9.0" or d {op} "2023-06-01T00:00:00Z" or v in ("2", "1.2.3")'
    query = compile_query(text, schema=schema)
    event = {"v": version, "d": moment}
    generated, reference = _both(query, event)
    assert generated == reference


def test_fields_are_read_once_per_rule() -> None:
    query = compile_query(
        'process where process.name == "a" and (process.name : "b*" or process.args == "c")',
        nested_only=True,
    )
    source: str = query.matcher().source  # type: ignore[attr-defined]
    assert source.count(".get('name')") == 1
    assert source.count(".get('process')") == 1
    assert query.matches({"event": {"category": "process"}, "process": {"name": "a", "args": "c"}})


def _spec_events() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for name in ("endgame-140.data", "extra.data", "missing-events.data"):
        lines = (SPEC / "data" / name).read_text().splitlines()
        text = "\n".join(line for line in lines if not line.strip().startswith("//"))
        found.extend(json.loads(text))
    return found


def _spec_queries() -> list[str]:
    texts: list[str] = []
    for path in sorted(SPEC.glob("*.toml")):
        # Some join_keys lines hold a bare null, which TOML refuses: quote it there.
        text = re.sub(
            r"^join_keys\s*=.*$",
            lambda line: re.sub(r'(?<![\w"])null(?![\w"])', '"null"', line.group(0)),
            path.read_text(),
            flags=re.MULTILINE,
        )
        texts.extend(entry["query"] for entry in tomllib.loads(text)["queries"])
    return texts


def test_spec_corpus_queries_agree_event_by_event() -> None:
    if not SPEC.is_dir():
        pytest.skip(f"the EQL spec corpus is not at {SPEC}")
    corpus_events = _spec_events()
    compared = 0
    for text in _spec_queries():
        try:
            query = compile_query(text)
        except EqlSyntaxError:
            continue
        filters = [query._filter] if query._filter else [s.filter for s in query._stages]
        for compiled in filters:
            assert compiled is not None
            generated = compiled.matcher(CATEGORY_FIELD)
            in_category = query._in_category(CATEGORY_FIELD, compiled.category or "")
            for event in corpus_events:
                reference = compiled.matches(event, in_category)
                assert generated(event) == reference, (text, event)
                compared += 1
    assert compared > 50_000  # hundreds of queries over hundreds of events
