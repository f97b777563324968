"""The time of an event for one rule: its timestamp override, else `@timestamp`."""

from __future__ import annotations

from typing import Any

from quarantine.events.fields import get_field
from quarantine.events.timestamps import parse_timestamp

DEFAULT_TIMESTAMP_FIELD = "@timestamp"


_UNREAD: Any = object()


class EventTimes:
    """Parses each timestamp field of one event at most once, however many rules ask.

    One is made for every event a rule takes, and most rules have no override: `@timestamp`
    is read without the bookkeeping other fields get."""

    __slots__ = ("_default", "_event", "_fields")

    def __init__(self, event: dict[str, Any]) -> None:
        self._event = event
        self._default: Any = _UNREAD  # `@timestamp` parsed, once read
        # Other fields, once read: whether the event holds a value there, and the time in it.
        self._fields: dict[str, tuple[bool, float | None]] | None = None

    def field(self, path: str) -> float | None:
        """Seconds since the epoch held in `path`, or None when absent or not a date."""
        return self._read(path)[1]

    def has(self, path: str) -> bool:
        """Whether the event holds a (non-null) value at `path`, a date or not."""
        return self._read(path)[0]

    def for_rule(self, timestamp_field: str | None) -> float | None:
        """The rule's event time: `timestamp_field` when the event has it, else `@timestamp`
        (Elastic's timestamp_override falls back the same way)."""
        if timestamp_field:
            value = self._read(timestamp_field)[1]
            if value is not None:
                return value
        default: float | None = self._default
        if default is _UNREAD:
            default = self._default = parse_timestamp(
                get_field(self._event, DEFAULT_TIMESTAMP_FIELD)
            )
        return default

    def _read(self, path: str) -> tuple[bool, float | None]:
        fields = self._fields
        if fields is None:
            fields = self._fields = {}
        found = fields.get(path)
        if found is None:
            raw = get_field(self._event, path)
            found = fields[path] = (raw is not None, parse_timestamp(raw))
        return found
