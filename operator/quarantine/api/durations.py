"""Durations written the way Elastic writes rule schedules: a positive whole number and a unit."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator, Field

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
DURATION_PATTERN = r"^[0-9]+[smhd]$"
POSITIVE_DURATION_PATTERN = r"^0*[1-9][0-9]*[smhd]$"
_DURATION_RE = re.compile(DURATION_PATTERN)


def parse_duration(text: str) -> timedelta:
    """Turn "30s", "5m", "1h" or "2d" into a timedelta; anything else raises ValueError."""
    if not isinstance(text, str) or not _DURATION_RE.match(text):
        raise ValueError(
            f"invalid duration {text!r}: expected a whole number and a unit s, m, h or d "
            '(e.g. "5m")'
        )
    return timedelta(seconds=int(text[:-1]) * _UNIT_SECONDS[text[-1]])


def _positive_duration(text: str) -> str:
    if parse_duration(text) <= timedelta(0):
        raise ValueError(f"duration {text!r} must be greater than zero")
    return text


# The pattern only goes to the CRD schema (so the API server enforces it too); in Python the
# validator checks it and explains the expected form better than a bare regex mismatch would.
Duration = Annotated[
    str,
    AfterValidator(_positive_duration),
    Field(json_schema_extra={"pattern": POSITIVE_DURATION_PATTERN}),
]
"""A positive duration string such as "5m"; see `parse_duration`."""
