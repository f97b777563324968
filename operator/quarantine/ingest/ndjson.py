"""Splitting an NDJSON body into numbered JSON objects, keeping per-line errors apart."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

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


def parse_ndjson(body: bytes) -> Iterator[ParsedLine | LineError]:
    """Yield each non-blank line as a parsed object or an error; blank lines still count.

    Line numbers match what an editor shows, so a sender can find the line it must fix.
    """
    for number, raw in enumerate(body.split(b"\n"), start=1):
        text = raw.strip()
        if not text:
            continue
        try:
            document = orjson.loads(text)
        except orjson.JSONDecodeError as error:
            yield LineError(number, f"invalid JSON at column {error.colno}: {error.msg}")
            continue
        if not isinstance(document, dict):
            kind = type(document).__name__
            yield LineError(number, f"expected a JSON object, got {kind}")
            continue
        yield ParsedLine(number, document, text)
