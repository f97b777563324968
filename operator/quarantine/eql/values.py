"""Scalar semantics shared by the compiler: equality, ordering and typed field values.

Booleans are not numbers here (unlike Python's `True == 1`), strings compare by code point
and case-sensitively, and a comparison between incompatible types is simply not true.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

NUMBER_TYPES = (int, float)

ORDERING: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def is_number(value: Any) -> bool:
    return type(value) in NUMBER_TYPES


def same_kind(left: Any, right: Any) -> bool:
    """Whether two non-null values can be compared: both numbers, both strings, or both bools."""
    left_type, right_type = type(left), type(right)
    if left_type is right_type:
        return left_type in (str, int, float, bool)
    return left_type in NUMBER_TYPES and right_type in NUMBER_TYPES


def scalar_compare(op: str, left: Any, right: Any) -> bool | None:
    """Three-valued comparison of two evaluated scalars (null in, null out)."""
    if left is None or right is None:
        return None
    if op == "==":
        return same_kind(left, right) and left == right
    if op == "!=":
        return not (same_kind(left, right) and left == right)
    if not same_kind(left, right):
        return None
    return ORDERING[op](left, right)


def to_text(value: Any) -> str:
    """How Elasticsearch renders a scalar as a string (`string()`, `concat()`)."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e7:
            return f"{value:.1f}"
        return repr(value)
    return str(value)


# --- typed fields (from an optional schema) ---------------------------------------------

_ISO_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?"
    r"(Z|[+-]\d{2}:?\d{2})?"
)
_EPOCH_RE = re.compile(r"-?\d+(?:\.\d+)?")
_NANOS_PER_MILLI = 1_000_000


def to_epoch_nanos(value: Any) -> int | None:
    """A date value as nanoseconds since the epoch; numbers and numeric strings are millis."""
    if type(value) is str:  # the usual case first
        fast = utc_iso_nanos(value)
        if fast is not None:
            return fast
    elif type(value) is int:
        return value * _NANOS_PER_MILLI
    elif type(value) is float:
        return int(Decimal(repr(value)) * _NANOS_PER_MILLI)
    else:
        return None
    if _EPOCH_RE.fullmatch(value):
        try:
            return int(Decimal(value) * _NANOS_PER_MILLI)
        except InvalidOperation:
            return None
    match = _ISO_RE.fullmatch(value.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            tzinfo=UTC,
        )
    except ValueError:
        return None
    nanos = int(moment.timestamp()) * 1_000_000_000
    if fraction:
        nanos += int(fraction.ljust(9, "0"))
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        nanos -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60) * 1_000_000_000
    return nanos


_DIGITS = frozenset("0123456789")
_DATE_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_day_starts: dict[str, int | None] = {}
# `YYYY-MM-DDTHH:MM:SS` -> epoch seconds (None: not a valid time); events of one second share it.
_second_starts: dict[str, int | None] = {}
_MEMO_LIMIT = 4096
# Nanoseconds per unit of the last digit of a fraction of a second, by its number of digits.
_FRACTION_SCALES: dict[int, int] = {digits: 10 ** (9 - digits) for digits in range(1, 10)}


def utc_iso_nanos(value: str) -> int | None:
    """The usual shape, `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, without regex or datetime (this
    runs for every event a sequence looks at); None for any other shape."""
    if len(value) == 24 and value[23] == "Z" and value[19] == ".":
        # Milliseconds, as ECS writes them, in a second met before: the usual case first.
        seconds = _second_starts.get(value[:19])
        fraction = value[20:23]
        if seconds is not None and _DIGITS.issuperset(fraction):
            return seconds * 1_000_000_000 + int(fraction) * 1_000_000
    return _utc_iso_nanos_generally(value)


def _utc_iso_nanos_generally(value: str) -> int | None:
    length = len(value)
    if 22 <= length <= 30 and value[19] == "." and value[-1] == "Z":
        fraction = value[20:-1]  # 1 to 9 digits
        scale = _FRACTION_SCALES[len(fraction)]
    elif length == 20 and value[19] == "Z":
        fraction, scale = "0", 0
    else:
        return None
    if not _DIGITS.issuperset(fraction):
        return None
    prefix = value[:19]
    seconds = _second_starts.get(prefix, -1)
    if seconds == -1:
        seconds = _remember_second_start(prefix)
    if seconds is None:
        return None
    return seconds * 1_000_000_000 + int(fraction) * scale


def _remember_second_start(prefix: str) -> int | None:
    if len(_second_starts) >= _MEMO_LIMIT:
        _second_starts.clear()
    seconds: int | None = _second_start(prefix)
    _second_starts[prefix] = seconds
    return seconds


def _second_start(prefix: str) -> int | None:
    """Epoch seconds of `YYYY-MM-DDTHH:MM:SS`, or None when it is not a valid UTC time."""
    if prefix[10] != "T" or prefix[13] != ":" or prefix[16] != ":":
        return None
    clock = prefix[11:13] + prefix[14:16] + prefix[17:19]
    if not _DIGITS.issuperset(clock):
        return None
    day = _day_start(prefix[:10])
    hour, minute, second = int(clock[0:2]), int(clock[2:4]), int(clock[4:6])
    if day is None or hour > 23 or minute > 59 or second > 59:
        return None
    return day + hour * 3600 + minute * 60 + second


def _day_start(date: str) -> int | None:
    """Epoch seconds at the start of a `YYYY-MM-DD` day (remembered: events share days)."""
    if date in _day_starts:
        return _day_starts[date]
    start: int | None = None
    match = _DATE_RE.fullmatch(date)
    if match is not None:
        year, month, day = (int(part) for part in match.groups())
        try:
            start = int(datetime(year, month, day, tzinfo=UTC).timestamp())
        except ValueError:
            start = None
    if len(_day_starts) >= _MEMO_LIMIT:
        _day_starts.clear()
    _day_starts[date] = start
    return start


_VERSION_RE = re.compile(r"(\d+(?:\.\d+)*)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?")


def version_key(value: Any) -> tuple[Any, ...] | None:
    """Sort key of Elasticsearch's `version` type: semver order, invalid versions last."""
    if type(value) is not str:
        return None
    match = _VERSION_RE.fullmatch(value)
    if match is None:
        return (1, value)
    numbers = tuple(int(part) for part in match.group(1).split("."))
    prerelease = match.group(2)
    if prerelease is None:
        return (0, numbers, 1, ())
    identifiers = tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part) for part in prerelease.split(".")
    )
    return (0, numbers, 0, identifiers)


Converter = Callable[[Any], Any]

_CONVERTERS: dict[str, Converter] = {
    "date": to_epoch_nanos,
    "date_nanos": to_epoch_nanos,
    "version": version_key,
}


def converter_for(field_type: str | None) -> Converter | None:
    """How values of a mapped field type are compared, or None for plain JSON values."""
    if field_type is None:
        return None
    return _CONVERTERS.get(field_type)
