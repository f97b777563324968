"""An event's time for each rule: its timestamp override, else `@timestamp`."""

from __future__ import annotations

from quarantine.detect.event_time import EventTimes

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
