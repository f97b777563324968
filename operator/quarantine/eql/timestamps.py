"""Event ordering: the timestamp (as epoch nanoseconds), tiebreaker and arrival order."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from quarantine.eql.fields import doc_value, field_getter, getter
from quarantine.eql.values import to_epoch_nanos

Event = Mapping[str, Any]


def timestamp_reader(field: str, *, nested_only: bool = False) -> Callable[[Event], int | None]:
    """Reads an event's timestamp as epoch nanoseconds (numbers are epoch millis)."""
    get = field_getter(field, nested_only=nested_only)

    def read(event: Event) -> int | None:
        return to_epoch_nanos(doc_value(get(event)))

    return read


def tiebreaker_reader(field: str | None) -> Callable[[Event], tuple[int, Any]]:
    """A sortable tiebreaker key; events without one sort after those with one."""
    if field is None:
        return lambda event: (0, 0)
    get = getter(field)

    def read(event: Event) -> tuple[int, Any]:
        value = doc_value(get(event))
        if value is None:
            return (2, 0)
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            return (1, str(value))
        return (0, value) if isinstance(value, int | float) else (1, value)

    return read


def sort_events(
    events: list[Event], *, timestamp_field: str, tiebreaker_field: str | None
) -> list[tuple[int | None, Event]]:
    """Events in Elasticsearch order (timestamp, tiebreaker, input order), with timestamps.

    Events without a readable timestamp keep their input order after all the others.
    """
    read_time = timestamp_reader(timestamp_field)
    read_tiebreaker = tiebreaker_reader(tiebreaker_field)
    keyed = []
    for index, event in enumerate(events):
        timestamp = read_time(event)
        missing = timestamp is None
        keyed.append(((missing, timestamp or 0, read_tiebreaker(event), index), timestamp, event))
    keyed.sort(key=lambda item: item[0])
    return [(timestamp, event) for _, timestamp, event in keyed]
