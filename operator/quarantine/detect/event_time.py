"""The time of an event for one rule: its timestamp override, else `@timestamp`."""

from __future__ import annotations

from typing import Any

from quarantine.events.fields import get_field
from quarantine.events.timestamps import parse_timestamp

DEFAULT_TIMESTAMP_FIELD = "@timestamp"


class EventTimes:
    """Parses each timestamp field of one event at most once, however many rules ask."""

    __slots__ = ("_by_rule_field", "_event", "_parsed", "_present")

    def __init__(self, event: dict[str, Any]) -> None:
        self._event = event
        self._parsed: dict[str, float | None] = {}
        self._present: dict[str, bool] = {}
        # Answers of for_rule by timestamp field: every candidate rule asks.
        self._by_rule_field: dict[str | None, float | None] = {}

    def field(self, path: str) -> float | None:
        """Seconds since the epoch held in `path`, or None when absent or not a date."""
        if path in self._parsed:
            return self._parsed[path]
        raw = get_field(self._event, path)
        self._present[path] = raw is not None
        value = parse_timestamp(raw)
        self._parsed[path] = value
        return value

    def has(self, path: str) -> bool:
        """Whether the event holds a (non-null) value at `path`, a date or not."""
        present = self._present.get(path)
        if present is None:
            present = self._present[path] = get_field(self._event, path) is not None
        return present

    def for_rule(self, timestamp_field: str | None) -> float | None:
        """The rule's event time: `timestamp_field` when the event has it, else `@timestamp`
        (Elastic's timestamp_override falls back the same way)."""
        by_rule_field = self._by_rule_field
        if timestamp_field in by_rule_field:
            return by_rule_field[timestamp_field]
        value = by_rule_field[timestamp_field] = self._for_rule(timestamp_field)
        return value

    def _for_rule(self, timestamp_field: str | None) -> float | None:
        if timestamp_field:
            value = self.field(timestamp_field)
            if value is not None:
                return value
        return self.field(DEFAULT_TIMESTAMP_FIELD)
