"""Reading fields of a foreign JSON event with a clear error when one has the wrong type."""

from __future__ import annotations

from typing import Any

from quarantine.events.errors import EventFormatError, json_type_name


def required_object(parent: dict[str, Any], key: str, path: str) -> dict[str, Any]:
    """`parent[key]` as an object; missing or of another type is an error naming `path`."""
    value = parent.get(key)
    if value is None:
        raise EventFormatError("is missing", path=path)
    if type(value) is not dict:
        raise EventFormatError(f"must be an object, not {json_type_name(value)}", path=path)
    return value


def optional_object(parent: dict[str, Any], key: str, path: str) -> dict[str, Any] | None:
    """`parent[key]` as an object, or None when absent or null."""
    value = parent.get(key)
    if value is None:
        return None
    if type(value) is not dict:
        raise EventFormatError(f"must be an object, not {json_type_name(value)}", path=path)
    return value


def optional_text(parent: dict[str, Any], key: str, path: str) -> str | None:
    """`parent[key]` as a string, or None when absent or null."""
    value = parent.get(key)
    if value is None:
        return None
    if type(value) is not str:
        raise EventFormatError(f"must be a string, not {json_type_name(value)}", path=path)
    return value


def optional_integer(parent: dict[str, Any], key: str, path: str) -> int | None:
    """`parent[key]` as an integer (a string of digits is accepted), or None when absent."""
    value = parent.get(key)
    if value is None:
        return None
    if type(value) is int:
        return value
    if type(value) is str and value.lstrip("-").isdigit():
        return int(value)
    raise EventFormatError(f"must be an integer, not {json_type_name(value)}", path=path)
