"""Sequences, samples and pipes: batch `run` against the streaming form."""

from __future__ import annotations

import random
from typing import Any

import pytest

from quarantine.eql import compile_query


def ev(ident: int, ts: int, cat: str = "process", **fields: Any) -> dict[str, Any]:
    return {"id": ident, "@timestamp": ts, "event": {"category": cat}, **fields}


def ids(results: list[Any]) -> list[list[int | None]]:
    return [[None if e is None else e["id"] for e in result] for result in results]


def streamed(query_text: str, events: list[dict[str, Any]]) -> list[list[int | None]]:
    stream = compile_query(query_text).stream()
    out = []
    for event in events:
        out.extend(stream.feed(event))
    out.extend(stream.flush())
    return ids(out)


QUERIES = [
    "sequence by host [process where true] [file where true]",
    "sequence by host with maxspan=5ms [process where n < 5] [file where true] [any where true]",
    "sequence [process where true] by host [file where true] by h2 until [network where n<3] by h2",
    "sequence by host with maxspan=10ms [process where true] ![file where true] [any where true]",
    "sequence by host with maxspan=10ms [process where true] ![network where true]",
    "sequence by host with maxspan=10ms ![network where true] [process where true]",
    "sequence by host [process where true] with runs=2 [file where true] | tail 3",
    "process where n > 3 | head 4 | tail 2",
]


def random_events(seed: int, count: int = 300) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    events = []
    for index in range(count):
        host = rng.choice(["a", "b", "c"])
        events.append(
            ev(
                index,
                index * 2,
                rng.choice(["process", "file", "network"]),
                host=host,
                h2=host,
                n=rng.randrange(10),
            )
        )
    return events


@pytest.mark.parametrize("text", QUERIES)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_stream_gives_the_same_results_as_run_on_ordered_input(text: str, seed: int) -> None:
    events = random_events(seed)
    batch = ids(list(compile_query(text).run(events)))
    assert sorted(streamed(text, events), key=str) == sorted(batch, key=str)
    assert batch  # each query finds something in this data, so the comparison is not vacuous


def test_state_machine_keeps_one_partial_per_stage_and_key() -> None:
    events = [ev(i, i, host="a") for i in range(1, 5)] + [ev(5, 5, "file", host="a")]
    results = list(
        compile_query("sequence by host [process where true] [file where true]").run(events)
    )
    assert ids(results) == [[4, 5]]
    assert results[0].join_keys == ("a",)


def test_until_kills_pending_partials_of_its_key() -> None:
    text = "sequence by host [process where true] [file where true] until [network where true]"
    events = [
        ev(1, 1, host="a"),
        ev(2, 2, "network", host="a"),
        ev(3, 3, "file", host="a"),
        ev(4, 4, host="b"),
        ev(5, 5, "network", host="a"),
        ev(6, 6, "file", host="b"),
    ]
    assert ids(list(compile_query(text).run(events))) == [[4, 6]]


def test_maxspan_expires_partials_and_bounds_state() -> None:
    query = compile_query("sequence by host with maxspan=1s [process where true] [file where true]")
    stream = query.stream()
    for index in range(20_000):
        stream.feed(ev(index, index * 1000, host=f"h{index}"))
    assert stream.matcher is not None
    assert stream.matcher.pending_count() < 5000  # old partials were swept
    late = stream.feed(ev(99_999, 20_000 * 1000 + 2000, "file", host="h19999"))
    assert late == []  # beyond maxspan of its start


def test_key_cap_bounds_state_without_maxspan() -> None:
    query = compile_query("sequence by host [process where true] [file where true]")
    stream = query.stream(max_keys=100)
    for index in range(1000):
        stream.feed(ev(index, index, host=f"h{index}"))
    assert stream.matcher is not None
    assert len(stream.matcher.partials) == 100
    assert ids(stream.feed(ev(5000, 5000, "file", host="h999"))) == [[999, 5000]]
    assert stream.feed(ev(5001, 5001, "file", host="h0")) == []  # evicted first


def test_trailing_missing_event_waits_for_maxspan_or_flush() -> None:
    query = compile_query("sequence with maxspan=10ms [process where true] ![file where true]")
    stream = query.stream()
    assert stream.feed(ev(1, 1)) == []
    assert stream.feed(ev(2, 5, "file")) == []  # drops match 1 (file within 10ms)
    assert stream.feed(ev(3, 20)) == []
    assert ids(stream.feed(ev(4, 40, "network"))) == [[3, None]]  # 40 > 20 + 10
    assert ids(stream.flush()) == []


def test_sample_groups_by_key_sorted_with_nulls_first() -> None:
    text = "sample by ?host [process where true] [file where true]"
    events = [
        ev(1, 0, host="b"),
        ev(2, 0, "file", host="b"),
        ev(3, 0),
        ev(4, 0, "file"),
        ev(5, 0, host="a"),
        ev(6, 0, "file", host="a"),
    ]
    results = list(compile_query(text).run(events))
    assert ids(results) == [[3, 4], [5, 6], [1, 2]]
    assert [r.join_keys for r in results] == [(None,), ("a",), ("b",)]
    assert streamed(text, events) == [[3, 4], [5, 6], [1, 2]]


def test_size_caps_results_and_tail_keeps_ascending_order() -> None:
    events = [ev(i, i) for i in range(10)]
    query = compile_query("process where true | tail 3")
    assert ids(list(query.run(events))) == [[7], [8], [9]]
    assert ids(list(query.run(events, size=2))) == [[7], [8]]
    assert ids(list(compile_query("process where true").run(events, size=1))) == [[0]]


def test_run_orders_by_timestamp_then_tiebreaker_then_input() -> None:
    events = [ev(1, 5, seq=2), ev(2, 5, seq=1), ev(3, 1, seq=9), ev(4, 5, seq=1)]
    query = compile_query("process where true")
    assert ids(list(query.run(events, tiebreaker_field="seq"))) == [[3], [2], [4], [1]]
    iso = [ev(1, 0), ev(2, 0)]
    iso[0]["@timestamp"] = "2024-01-01T00:00:01Z"
    iso[1]["@timestamp"] = "2024-01-01T00:00:00.5Z"
    assert ids(list(query.run(iso))) == [[2], [1]]
