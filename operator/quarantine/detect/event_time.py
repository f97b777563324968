"""The time of an event for one rule: its timestamp override, else `@timestamp`.

A date is read as Elasticsearch reads a date field, and exactly as a rule's sequence orders
its events (`quarantine.eql.timestamps`): RFC 3339 text or epoch milliseconds, the smallest
value of an array, in nanoseconds. The detector reads each field once per event, and hands
a sequence the reading it would make itself (`for_stream`), so nothing is parsed twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from quarantine.eql.fields import doc_value, nested_getter
from quarantine.eql.values import to_epoch_nanos, utc_iso_nanos

DEFAULT_TIMESTAMP_FIELD = "@timestamp"
_NANOS_PER_SECOND = 1_000_000_000
_UNREAD: Any = object()
_ABSENT: tuple[bool, int | None] = (False, None)  # a field the event does not hold
_getters: dict[str, Callable[[Mapping[str, Any]], Any]] = {}


def _getter(path: str) -> Callable[[Mapping[str, Any]], Any]:
    found = _getters.get(path)
    if found is None:
        found = _getters[path] = nested_getter(path)
    return found


class EventTimes:
    """Reads each timestamp field of one canonical event at most once, however many rules ask.

    One is made for every event a rule takes, and most rules have no override: `@timestamp`
    is read without the bookkeeping other fields get."""

    __slots__ = ("_default", "_event", "_others", "_path", "_reading")

    def __init__(self, event: dict[str, Any]) -> None:
        self._event = event
        self._default: Any = _UNREAD  # `@timestamp` in nanoseconds, once read
        # Other fields, once read: whether the event holds a value there, and the time in it.
        # The first one (a rule's override, usually the only one) is kept without a dict.
        self._path: str | None = None
        self._reading: tuple[bool, int | None] = _ABSENT
        self._others: dict[str, tuple[bool, int | None]] | None = None

    def field(self, path: str) -> float | None:
        """Seconds since the epoch held in `path`, or None when absent or not a date."""
        return _seconds(self._read(path)[1])

    def has(self, path: str) -> bool:
        """Whether the event holds a (non-null) value at `path`, a date or not."""
        return self._read(path)[0]

    def for_rule(self, timestamp_field: str | None) -> float | None:
        """The rule's event time in seconds: `timestamp_field` when the event has a date
        there, else `@timestamp` (Elastic's timestamp_override falls back the same way)."""
        if timestamp_field:
            nanos = self._read(timestamp_field)[1]
            if nanos is not None:
                return nanos / _NANOS_PER_SECOND
        nanos = self._nanos_at_timestamp()
        return None if nanos is None else nanos / _NANOS_PER_SECOND

    def for_stream(self, timestamp_field: str | None) -> int | None:
        """What a stream ordering by `timestamp_field` (else `@timestamp`) reads from the event
        the detector feeds it: the field when the event holds it, else `@timestamp`, which the
        detector's copy carries under the field (`detector._with_rule_timestamp`)."""
        if timestamp_field:
            present, nanos = self._read(timestamp_field)
            if present:
                return nanos
        return self._nanos_at_timestamp()

    def _nanos_at_timestamp(self) -> int | None:
        nanos: int | None = self._default
        if nanos is _UNREAD:
            nanos = self._default = _nanos_in(self._event.get(DEFAULT_TIMESTAMP_FIELD))
        return nanos

    def _read(self, path: str) -> tuple[bool, int | None]:
        if path == self._path:
            return self._reading
        if self._path is None:
            self._path = path
            reading = self._reading = self._read_afresh(path)
            return reading
        others = self._others
        if others is None:
            others = self._others = {}
        found = others.get(path)
        if found is None:
            found = others[path] = self._read_afresh(path)
        return found

    def _read_afresh(self, path: str) -> tuple[bool, int | None]:
        raw = (_getters.get(path) or _getter(path))(self._event)
        return _ABSENT if raw is None else (True, _nanos_in(raw))


def time_field_getter(timestamp_field: str | None) -> Callable[[Mapping[str, Any]], Any]:
    """The raw value a rule's sequence orders its events by (`EventTimes.for_stream`): its
    timestamp override when it has one, else `@timestamp`. An event lacking the override
    reads None here; `EventTimes` then falls back to `@timestamp`."""
    return _getter(timestamp_field or DEFAULT_TIMESTAMP_FIELD)


def _nanos_in(raw: Any) -> int | None:
    """A date field's raw value in nanoseconds; the usual RFC 3339 text (its own doc value)
    without the general conversion's calls."""
    nanos = utc_iso_nanos(raw) if type(raw) is str else None
    return to_epoch_nanos(doc_value(raw)) if nanos is None else nanos


def _seconds(nanos: int | None) -> float | None:
    return None if nanos is None else nanos / _NANOS_PER_SECOND
