"""Reading recorded events from a file: NDJSON, one JSON array, or one (pretty-printed) object."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson


class EventFileError(ValueError):
    """A file of events that cannot be read; names the file and the 1-based line."""

    def __init__(self, source: str, line: int, message: str) -> None:
        self.source = source
        self.line = line
        self.message = message
        super().__init__(f"{source}:{line}: {message}")


@dataclass(frozen=True)
class RecordedEvent:
    """One event as read: its 0-based position in the file, its first line, its JSON value."""

    position: int
    line: int
    document: Any


def read_event_file(path: Path) -> list[RecordedEvent]:
    """Every event in `path`, in file order."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise EventFileError(str(path), 0, f"cannot read: {error.strerror or error}") from error
    return list(parse_event_bytes(data, source=str(path)))


def parse_event_bytes(data: bytes, *, source: str = "<events>") -> Iterator[RecordedEvent]:
    """The events in `data`.

    NDJSON when the first non-blank line is a JSON value by itself; otherwise the whole text
    is one JSON document (an array of events, or one event spread over many lines).
    """
    lines = data.split(b"\n")
    first = next((number for number, text in enumerate(lines) if text.strip()), None)
    if first is None:
        return
    try:
        orjson.loads(lines[first])
    except orjson.JSONDecodeError:
        yield from _whole_document(data, source)
        return
    yield from _ndjson(lines, source)


def _ndjson(lines: list[bytes], source: str) -> Iterator[RecordedEvent]:
    position = 0
    for index, text in enumerate(lines):
        if not text.strip():
            continue
        try:
            document = orjson.loads(text)
        except orjson.JSONDecodeError as error:
            raise EventFileError(source, index + 1, f"not valid JSON: {error.msg}") from error
        yield RecordedEvent(position=position, line=index + 1, document=document)
        position += 1


def _whole_document(data: bytes, source: str) -> Iterator[RecordedEvent]:
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        message = f"not valid JSON (column {error.colno}): {error.msg}"
        raise EventFileError(source, error.lineno, message) from error
    if isinstance(document, list):
        # The line of each array element is not kept by the parser; position identifies it.
        for position, item in enumerate(document):
            yield RecordedEvent(position=position, line=1, document=item)
    else:
        yield RecordedEvent(position=0, line=1, document=document)
