"""The engine's fast paths give the same answers as the plain forms they stand in for."""

from __future__ import annotations

import gc
import json
import random
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from quarantine.eql import compile_condition, compile_query
from quarantine.eql import values as eql_values
from quarantine.eql.fields import getter, nested_getter
from quarantine.eql.held_events import hold, release
from quarantine.eql.lucene_regex import LuceneRegexError, compile_lucene, compile_lucene_test
from quarantine.eql.stages import composite_keys

# --- regex: `.*X.*` as a search --------------------------------------------------------------

LUCENE_PARTS = st.sampled_from(
    [".*", ".", "a", "b", "[ab]", "(a|b)", "a+", "x?", "|", '"."', "\\."]
)


@settings(max_examples=400)
@given(parts=st.lists(LUCENE_PARTS, max_size=6), value=st.text(alphabet="ab.x\n", max_size=8))
def test_regex_test_equals_a_full_match(parts: list[str], value: str) -> None:
    pattern = "".join(parts)
    try:
        full = compile_lucene(pattern, insensitive=False)
    except (LuceneRegexError, re.error):
        assume(False)
    fast = compile_lucene_test(pattern, insensitive=False)
    assert fast(value) == (full.fullmatch(value) is not None), pattern


def test_port_forwarding_regex_finds_the_address_anywhere() -> None:
    address = r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}"
    test = compile_lucene_test(f".*{address}:[0-9]{{1,5}}.*", insensitive=False)
    assert test("-L 10.0.0.1:8080")
    assert test("10.0.0.1:80")
    assert not test("-L localhost:8080")


# --- wildcards: several patterns of several shapes ------------------------------------------

WILD = st.text(alphabet="ab*?.", max_size=5)


@settings(max_examples=300)
@given(patterns=st.lists(WILD, min_size=1, max_size=5), value=st.text(alphabet="abAB.", max_size=6))
def test_a_list_of_wildcards_matches_when_any_pattern_does(patterns: list[str], value: str) -> None:
    def one(pattern: str, text: str) -> bool:
        regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
        return re.fullmatch(regex, text, re.DOTALL) is not None

    listed = ", ".join(json.dumps(p) for p in patterns)
    like = compile_query(f"any where f like ({listed})")
    like_insensitive = compile_query(f"any where f like~ ({listed})")
    assert like.matches({"f": value}) == any(one(p, value) for p in patterns)
    lowered = [p.lower() for p in patterns]
    expected = any(one(p, value.lower()) for p in lowered)
    assert like_insensitive.matches({"f": value}) == expected


# --- `or` over branches guarded by one field (evaluated like a switch) -----------------------

BRANCHES = [
    'name == "ssh" and args == "-R"',
    'name in ("nc", "ncat") and args : "-l*"',
    'name : "SOCAT" and args like~ "tcp*"',
    'name like~ "Chisel" and not args == "x"',
    'args == "-s" and args == "-d"',  # unguarded
    'name == "gost" and missing > 1',  # guard true, rest null
    'name : "nc*"',  # a wildcard is no guard
]
NAMES = st.one_of(
    st.none(),
    st.sampled_from(["ssh", "SSH", "nc", "ncat", "socat", "SoCaT", "chisel", "gost", "x", ""]),
    st.integers(0, 2),
    st.lists(st.sampled_from(["ssh", "nc", None]), max_size=3),
)
ARGS = st.lists(
    st.sampled_from(["-R", "-l", "-lvp", "TCP4:1", "tcp", "-s", "-d", "x", None]), max_size=3
)


def kleene_or(results: list[bool | None]) -> bool | None:
    if True in results:
        return True
    return None if None in results else False


def kleene_and(results: list[bool | None]) -> bool | None:
    if False in results:
        return False
    return None if None in results else True


def _event(name: Any, args: list[Any], extra: dict[str, Any]) -> dict[str, Any]:
    event: dict[str, Any] = {"args": args, **extra}
    if name is not None:
        event["name"] = name
    return event


@settings(max_examples=400)
@given(
    chosen=st.lists(st.sampled_from(BRANCHES), min_size=3, max_size=7, unique=True),
    name=NAMES,
    args=ARGS,
    missing=st.one_of(st.none(), st.integers(0, 3)),
)
def test_switched_or_is_the_three_valued_or_of_its_branches(
    chosen: list[str], name: Any, args: list[Any], missing: int | None
) -> None:
    event = _event(name, args, {} if missing is None else {"missing": missing})
    whole = compile_condition(" or ".join(f"({branch})" for branch in chosen))
    parts = [compile_condition(branch)(event) for branch in chosen]
    assert whole(event) == kleene_or(parts)


CONJUNCTS = [
    'event.type == "start"',
    'host.os.type : "linux"',
    'container.id like "?*"',
    'name == "ssh"',
    "n > 1",
    'event.action in ("exec", "fork")',
]


@settings(max_examples=300)
@given(
    chosen=st.lists(st.sampled_from(CONJUNCTS), min_size=2, max_size=6, unique=True),
    kind=st.sampled_from([None, "start", ["start", "end"], "end"]),
    name=st.sampled_from([None, "ssh", "nc"]),
    n=st.sampled_from([None, 0, 5]),
    container=st.sampled_from([None, "", "abc"]),
)
def test_and_evaluated_rare_tests_first_is_the_three_valued_and(
    chosen: list[str], kind: Any, name: Any, n: Any, container: Any
) -> None:
    event: dict[str, Any] = {"event": {"type": kind, "action": "exec"}, "host": {"os": {}}}
    event.update({"name": name, "n": n, "container": {"id": container}})
    whole = compile_condition(" and ".join(chosen))
    assert whole(event) == kleene_and([compile_condition(c)(event) for c in chosen])


def test_first_error_reported_is_the_first_in_the_text() -> None:
    # The `event.type` test is evaluated last, but its error is still the one reported.
    with pytest.raises(ValueError, match="unknown function 'nope'"):
        compile_query('process where event.type == nope(1) and other(2) == "x"')


# --- nested-only field access -----------------------------------------------------------------

KEYS = st.sampled_from(["a", "b", "c"])
LEAVES = st.one_of(st.none(), st.integers(0, 3), st.sampled_from(["x", "y"]))
NESTED = st.recursive(
    LEAVES,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=3)),
    max_leaves=12,
)


@settings(max_examples=400)
@given(event=st.dictionaries(KEYS, NESTED, max_size=3), path=st.lists(KEYS, min_size=1, max_size=4))
def test_nested_getter_agrees_with_the_general_one_on_canonical_events(
    event: dict[str, Any], path: list[str]
) -> None:
    dotted = ".".join(path)
    assert nested_getter(dotted)(event) == getter(dotted)(event)


def test_nested_only_queries_answer_as_the_general_ones_on_canonical_events() -> None:
    text = 'process where process.parent.name == "sh" and process.args : "-c"'
    event = {
        "event": {"category": ["process"]},
        "process": {"parent": {"name": "sh"}, "args": ["sh", "-c", "id"]},
    }
    assert compile_query(text, nested_only=True).matches(event)
    assert compile_query(text).matches(event)
    # Dotted keys are the general reader's business: a nested-only query does not look.
    flat = {"event.category": "process", "process.parent.name": "sh", "process.args": "-C"}
    assert compile_query(text).matches(flat)
    assert not compile_query(text, nested_only=True).matches(flat)


# --- timestamps: the ISO 8601 `Z` fast path ---------------------------------------------------

ISO_SAMPLES = [
    "2024-05-01T12:00:00Z",
    "2024-05-01T12:00:00.123Z",
    "2024-05-01T12:00:00.123456789Z",
    "2024-05-01T12:00:00.1234567891Z",
    "2024-02-29T23:59:59.5Z",
    "2023-02-29T00:00:00Z",
    "2024-05-01T24:00:00Z",
    "2024-05-01T12:00:60Z",
    "2024-05-01T12:00:00.Z",
    "2024-05-01T12:00:00+02:00",
    "2024-05-01 12:00:00,5Z",
    "1969-12-31T23:59:59.999Z",
]


def _without_fast_path(value: str, monkeypatch: pytest.MonkeyPatch) -> int | None:
    with monkeypatch.context() as patched:
        patched.setattr(eql_values, "utc_iso_nanos", lambda text: None)
        return eql_values.to_epoch_nanos(value)


@settings(max_examples=500)
@given(
    sample=st.sampled_from(ISO_SAMPLES),
    edits=st.lists(
        st.tuples(st.integers(0, 30), st.sampled_from("0123456789-T:.Z +,٣")), max_size=3
    ),
)
def test_iso_fast_path_reads_timestamps_as_the_general_parser(
    sample: str, edits: list[tuple[int, str]]
) -> None:
    chars = list(sample)
    for position, char in edits:
        chars[position % len(chars)] = char
    value = "".join(chars)
    with pytest.MonkeyPatch.context() as monkeypatch:
        expected = _without_fast_path(value, monkeypatch)
    assert eql_values.to_epoch_nanos(value) == expected, value


def test_iso_fast_path_keeps_nanoseconds() -> None:
    seconds = int(datetime(2024, 5, 1, 12, 0, 1, tzinfo=UTC).timestamp())
    assert eql_values.to_epoch_nanos("2024-05-01T12:00:01.000000007Z") == seconds * 10**9 + 7


# --- sequences: skipping stages nothing waits for ---------------------------------------------


def _ev(ident: int, ts: int, cat: str, **fields: Any) -> dict[str, Any]:
    return {"id": ident, "@timestamp": ts, "event": {"category": cat}, **fields}


def test_until_kills_a_partial_the_same_event_started() -> None:
    query = compile_query(
        "sequence by h [process where true] [file where true] until [process where x == 1]"
    )
    stream = query.stream()
    assert stream.feed(_ev(1, 1, "process", h="a", x=1)) == []
    assert stream.feed(_ev(2, 2, "file", h="a")) == []
    assert stream.feed(_ev(3, 3, "process", h="a", x=0)) == []
    assert [[e["id"] for e in m] for m in stream.feed(_ev(4, 4, "file", h="a"))] == [[3, 4]]


def test_an_until_event_matching_nothing_else_still_kills() -> None:
    query = compile_query(
        "sequence by h [process where true] [file where true] until [network where true]"
    )
    stream = query.stream()
    stream.feed(_ev(1, 1, "process", h="a"))
    stream.feed(_ev(2, 2, "network", h="a"))
    assert stream.feed(_ev(3, 3, "file", h="a")) == []


def test_a_later_stage_advances_only_partials_of_its_own_key() -> None:
    query = compile_query("sequence by h [process where true] [file where true]")
    stream = query.stream()
    stream.feed(_ev(1, 1, "process", h="a"))
    assert stream.feed(_ev(2, 2, "file", h="b")) == []
    assert len(stream.feed(_ev(3, 3, "file", h="a"))) == 1


@pytest.mark.parametrize("seed", range(6))
def test_pending_counts_follow_the_partials(seed: int) -> None:
    rng = random.Random(seed)
    query = compile_query(
        "sequence by h with maxspan=40ms [process where n < 6] [file where true] "
        "[network where true] until [process where n > 8]"
    )
    stream = query.stream(max_keys=5)
    matcher = stream.matcher
    assert matcher is not None
    for index in range(3000):
        category = rng.choice(["process", "file", "network"])
        stream.feed(
            _ev(index, index * 1_000_000, category, h=rng.randrange(8), n=rng.randrange(10))
        )
        slots = list(matcher.partials.values())
        counts = [sum(s[k] is not None for s in slots) for k in range(len(matcher.pending))]
        assert matcher.pending == counts
        assert matcher.pending_count() == sum(counts)


# --- sequences: join keys, the examined event, held events ------------------------------------

KEY_VALUES = st.one_of(
    st.none(),
    st.sampled_from(["x", "y"]),
    st.integers(0, 2),
    st.lists(st.sampled_from(["x", "y", 1]), max_size=3),
)
KEY_HOLDERS = st.one_of(
    st.none(),
    st.just("odd"),
    st.sampled_from([0, "", [], {}, False]),  # empty or falsy where an object belongs
    st.fixed_dictionaries({"id": KEY_VALUES, "name": KEY_VALUES}),
    st.lists(st.fixed_dictionaries({"id": KEY_VALUES}), max_size=2),
)


@settings(max_examples=400)
@given(
    process=KEY_HOLDERS,
    parent=KEY_HOLDERS,
    host=KEY_VALUES,
    nested_only=st.booleans(),
    count=st.integers(1, 3),
)
def test_generated_join_keys_are_the_general_composite_keys(
    process: Any, parent: Any, host: Any, nested_only: bool, count: int
) -> None:
    paths = ["process.id", "process.parent.id", "host"][:count]
    query = compile_query(
        f"sequence by {', '.join(paths)} [process where true] [process where true]",
        nested_only=nested_only,
    )
    if isinstance(process, dict):
        process = {**process, "parent": parent}
    event = {"event": {"category": "process"}, "process": process, "host": host}
    stage = query._stages[0]
    assert stage.keys(event) == composite_keys(stage.key_parts, event)


SIMPLE_SEQUENCES = [
    "sequence by h with maxspan=30ms [process where n < 4] [file where true]",
    "sequence by h with maxspan=50ms [process where n < 6] [file where n > 2] [network where true]",
    "sequence with maxspan=20ms [process where n == 1] by h [file where true] by n",
]


@pytest.mark.parametrize("text", SIMPLE_SEQUENCES)
@pytest.mark.parametrize("seed", range(3))
def test_feeding_what_may_take_examined_gives_what_feeding_alone_gives(
    text: str, seed: int
) -> None:
    rng = random.Random(seed)
    events = [
        _ev(
            index,
            index,  # epoch milliseconds: one event a millisecond
            rng.choice(["process", "file", "network"]),
            h=rng.randrange(6),
            n=rng.randrange(8),
        )
        for index in range(2000)
    ]
    query = compile_query(text)
    asked, alone = query.stream(), query.stream()
    completed = 0
    for event in events:
        # Some events are examined and then not fed (a rule's look-back or scope refuses
        # them), some fed without being examined or although may_take refused them: none of
        # that may change the outcome.
        fed, examine = rng.random() < 0.8, rng.random() < 0.8
        examined = asked.may_take(event) if examine else None
        through_may_take = asked.feed(event) if fed else []
        fed_alone = alone.feed(event) if fed else []
        assert through_may_take == fed_alone
        assert examined is not False or not fed_alone, "may_take refused a completing event"
        completed += len(fed_alone)
    assert completed > 0, "the stream must complete some sequences to compare"


@settings(max_examples=300)
@given(
    waiting=st.lists(st.tuples(KEY_VALUES, KEY_VALUES), max_size=4),
    process=KEY_HOLDERS,
    host=KEY_VALUES,
    nested_only=st.booleans(),
    continues=st.booleans(),
)
def test_the_join_key_guard_refuses_only_what_may_take_later_refuses(
    waiting: list[tuple[Any, Any]], process: Any, host: Any, nested_only: bool, continues: bool
) -> None:
    query = compile_query(
        "sequence by process.id, host with maxspan=1s [process where true] [file where true]",
        nested_only=nested_only,
    )
    stream = query.stream()
    matcher = stream.matcher
    assert matcher is not None
    assert matcher.may_take_later != matcher._may_take_later, "the guard must be in place"
    if continues and isinstance(process, dict):  # a partial under the event's own key
        waiting = [*waiting, (process.get("id"), host)]
    for position, (process_id, waiting_host) in enumerate(waiting):  # partials to continue
        stream.feed(_ev(position, 1000, "process", process={"id": process_id}, host=waiting_host))
    event = _ev(99, 1001, "file", process=process, host=host)
    assert matcher.may_take_later(event) == matcher._may_take_later(event)


def test_a_waiting_event_is_held_as_json_the_collector_does_not_walk() -> None:
    event = {"id": 1, "@timestamp": 1, "event": {"category": "process"}, "h": "a", "tags": [1.5]}
    held = hold(event)
    assert type(held) is bytes and not gc.is_tracked(held)
    assert release(held) == event
    query = compile_query("sequence by h [process where true] [file where true]")
    stream = query.stream()
    stream.feed(event)
    (match,) = stream.feed(_ev(2, 2, "file", h="a"))
    assert match[0] == event and match[0] is not event  # decoded again, equal


@pytest.mark.parametrize("feeder", ["simple", "general"])
def test_a_waiting_event_given_with_its_text_is_held_as_that_text(feeder: str) -> None:
    """The caller's line is kept as it is (no second serialisation), at every waiting stage,
    and decoded again when the sequence completes."""
    until = " until [network where true]" if feeder == "general" else ""
    query = compile_query(
        f"sequence by h [process where true] [file where true] [alert where true]{until}"
    )
    stream = query.stream()
    matcher = stream.matcher
    assert matcher is not None and matcher.simple == (feeder == "simple")
    first, second = _ev(1, 1, "process", h="a"), _ev(2, 2, "file", h="a", path="/x")
    first_text, second_text = json.dumps(first).encode(), b" " + json.dumps(second).encode()
    stream.feed(first, 1, first_text)
    assert matcher.partials[("a",)][0].events[0] is first_text
    stream.feed(second, 2, second_text)
    assert matcher.partials[("a",)][1].events == (first_text, second_text)
    (match,) = stream.feed(_ev(3, 3, "alert", h="a"))
    assert match[:2] == [first, second]


class _Marked(dict[str, Any]):
    """A dict subclass: may carry more than its items, so it is held as it is."""


@pytest.mark.parametrize(
    "odd",
    [
        _Marked(_ev(1, 1, "process", h="a")),
        _ev(1, 1, "process", h="a", big=2**70),  # beyond what orjson writes
        {**_ev(1, 1, "process", h="a"), 7: "a key that is not a string"},
    ],
    ids=["dict subclass", "huge integer", "non-string key"],
)
def test_what_json_cannot_keep_is_held_as_it_is(odd: dict[Any, Any]) -> None:
    assert hold(odd) is odd
    stream = compile_query("sequence by h [process where true] [file where true]").stream()
    stream.feed(odd)
    (match,) = stream.feed(_ev(2, 2, "file", h="a"))
    assert match[0] is odd
