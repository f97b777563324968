"""An event's time for each rule: its timestamp override, else `@timestamp`."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from quarantine.detect.detector import _with_rule_timestamp
from quarantine.detect.event_time import EventTimes
from quarantine.eql import compile_query

STAMP = "2026-11-28T14:00:10.500Z"
STAMP_SECONDS = 1_795_874_410.5
INGESTED = "2026-11-28T14:00:11Z"


def test_without_an_override_the_time_is_at_timestamp() -> None:
    times = EventTimes({"@timestamp": STAMP})
    assert times.for_rule(None) == STAMP_SECONDS
    assert times.for_rule("") == STAMP_SECONDS


def test_an_override_the_event_holds_wins_and_one_it_lacks_falls_back() -> None:
    times = EventTimes({"@timestamp": STAMP, "event": {"ingested": INGESTED}})
    assert times.for_rule("event.ingested") == STAMP_SECONDS + 0.5
    assert times.for_rule("event.created") == STAMP_SECONDS
    assert times.has("event.ingested") and not times.has("event.created")


def test_an_override_that_is_not_a_date_is_present_but_falls_back() -> None:
    times = EventTimes({"@timestamp": STAMP, "event": {"ingested": "yesterday"}})
    assert times.has("event.ingested")
    assert times.field("event.ingested") is None
    assert times.for_rule("event.ingested") == STAMP_SECONDS


def test_an_event_without_any_time_has_none() -> None:
    times = EventTimes({"event": {"ingested": None}})
    assert times.for_rule(None) is None
    assert times.for_rule("event.ingested") is None
    assert not times.has("event.ingested")


DATES = st.one_of(
    st.sampled_from([STAMP, INGESTED, "2026-11-28T14:00:11+02:00", "2026-11-28", "yesterday"]),
    st.sampled_from([1_795_874_410_500, "1795874410500", 1.5e12, True, None]),
)
VALUES = st.one_of(DATES, st.lists(DATES, max_size=3))
HOLDERS = st.one_of(
    st.fixed_dictionaries({}, optional={"ingested": VALUES}),
    st.lists(st.fixed_dictionaries({}, optional={"ingested": VALUES}), max_size=2),
    st.sampled_from([None, "event", 3]),
)


@settings(max_examples=300, deadline=None)
@given(
    stamp=VALUES,
    holder=HOLDERS,
    override=st.sampled_from([None, "event.ingested", "event.created"]),
)
def test_a_stream_is_handed_the_time_it_would_read_itself(
    stamp: Any, holder: Any, override: str | None
) -> None:
    """The detector passes a sequence the event time it read (`for_stream`) instead of
    letting the stream parse it again: it must be what the stream reads from the event the
    detector feeds it (the event, or its retimed copy)."""
    event: dict[str, Any] = {"@timestamp": stamp, "event": holder}
    times = EventTimes(event)
    stream = compile_query(
        "sequence [process where true] [process where true]", nested_only=True
    ).stream(timestamp_field=override or "@timestamp")
    assert stream.matcher is not None
    fed = _with_rule_timestamp(event, override, times)
    assert times.for_stream(override) == stream.matcher.read_timestamp(fed)
    # The look-back's time is the same reading, in seconds, with the fallback to @timestamp.
    seconds = times.for_rule(override)
    own = times.field(override) if override else None
    fallback = times.field("@timestamp")
    assert seconds == (own if own is not None else fallback)
