"""Event timestamps as Elasticsearch reads a date field: RFC 3339 text or epoch milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def parse_timestamp(value: Any) -> float | None:
    """Seconds since the epoch, or None when `value` is absent or not a date.

    Text is ISO 8601 / RFC 3339 (``Z`` or an offset; no offset means UTC, as in Elasticsearch;
    digits beyond microseconds are dropped). A number is epoch milliseconds, Elasticsearch's
    other default date format. An array uses its first element.
    """
    if type(value) is list:
        value = value[0] if value else None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) / 1000.0
    return None


def to_datetime(seconds: float) -> datetime:
    """The aware UTC datetime of an epoch-seconds value."""
    return datetime.fromtimestamp(seconds, tz=UTC)


def to_rfc3339(seconds: float) -> str:
    """`seconds` as RFC 3339 text in UTC with a ``Z``, as Kubernetes and ECS write it."""
    return to_datetime(seconds).isoformat().replace("+00:00", "Z")
