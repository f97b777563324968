"""Reading events for offline evaluation: NDJSON or one JSON array, from a file or stdin."""

from __future__ import annotations

import json
from typing import Any, TextIO


class EventFileError(ValueError):
    """The events input is not NDJSON or a JSON array of objects; names the line."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


def read_events(stream: TextIO) -> list[dict[str, Any]]:
    text = stream.read()
    if text.lstrip().startswith("["):
        return _read_array(text)
    events: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            raise EventFileError(f"not valid JSON ({error.msg})", number) from None
        if not isinstance(value, dict):
            raise EventFileError(f"expected a JSON object, found {type(value).__name__}", number)
        events.append(value)
    return events


def _read_array(text: str) -> list[dict[str, Any]]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise EventFileError(f"not valid JSON ({error.msg})", error.lineno) from None
    if not isinstance(value, list):
        raise EventFileError("expected a JSON array of event objects", 1)
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise EventFileError(
                f"array element {index} is a {type(item).__name__}, not an event object",
                _line_of_element(text, index),
            )
    return value


def _line_of_element(text: str, index: int) -> int:
    # Good enough for the message: find where the element starts by re-decoding.
    decoder = json.JSONDecoder()
    position = text.index("[") + 1
    for _ in range(index + 1):
        while text[position] in " \t\r\n,":
            position += 1
        start = position
        _, position = decoder.raw_decode(text, position)
    return text.count("\n", 0, start) + 1
