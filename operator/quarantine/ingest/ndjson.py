"""Splitting an NDJSON body into numbered lines, and decoding each into a JSON object or a
per-line error."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson


@dataclass(frozen=True)
class LineError:
    """A line that could not be used, with its 1-based number in the body."""

    line: int
    error: str

    def as_json(self) -> dict[str, Any]:
        return {"line": self.line, "error": self.error}


@dataclass(frozen=True)
class ParsedLine:
    """A JSON object read from line `line` (1-based) of the body."""

    line: int
    document: dict[str, Any]
    text: bytes | None = field(default=None, compare=False, repr=False)
    """The JSON text the document was decoded from (normalisers use it to work faster)."""


class RawLine(NamedTuple):
    """A non-blank line (1-based number) of the body, as sent: decoded where it is used, so
    that each event is decoded, normalised and evaluated in one pass while it is in cache."""

    line: int
    text: bytes


class LineDecodeError(ValueError):
    """A line that is not a JSON object; the message names the column or the type."""


def split_ndjson(body: bytes) -> Iterator[RawLine]:
    """Each non-blank line, stripped; blank lines still count.

    Line numbers match what an editor shows, so a sender can find the line it must fix.
    """
    for number, text in _numbered_lines(body):
        yield RawLine(number, text)


def decode_object(text: bytes) -> dict[str, Any]:
    """The JSON object `text` holds (LineDecodeError otherwise)."""
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise LineDecodeError(f"invalid JSON at column {error.colno}: {error.msg}") from None
    if type(document) is not dict:
        raise LineDecodeError(f"expected a JSON object, got {type(document).__name__}")
    return document


def parse_ndjson(body: bytes) -> Iterator[ParsedLine | LineError]:
    """Each non-blank line decoded: a parsed object or an error (see `split_ndjson`)."""
    for number, text in _numbered_lines(body):
        try:
            yield ParsedLine(number, decode_object(text), text)
        except LineDecodeError as error:
            yield LineError(number, str(error))


def _numbered_lines(body: bytes) -> Iterator[tuple[int, bytes]]:
    for number, raw in enumerate(body.split(b"\n"), start=1):
        text = raw.strip()
        if text:
            yield number, text
