"""NDJSON splitting: editor line numbers, per-line errors, the good lines kept."""

from __future__ import annotations

import pytest

from quarantine.ingest.ndjson import (
    LineDecodeError,
    LineError,
    ParsedLine,
    RawLine,
    decode_object,
    parse_ndjson,
    split_ndjson,
)


def test_lines_are_numbered_as_an_editor_shows_them() -> None:
    body = b'{"a": 1}\n\n  \n{"b": 2}\r\n'
    items = list(parse_ndjson(body))
    assert items == [ParsedLine(1, {"a": 1}), ParsedLine(4, {"b": 2})]


def test_bad_lines_become_errors_and_good_lines_survive() -> None:
    body = b'{"a": 1}\n{"a": \n[1, 2]\n"text"\n{"c": 3}'
    items = list(parse_ndjson(body))
    assert items[0] == ParsedLine(1, {"a": 1})
    assert isinstance(items[1], LineError) and items[1].line == 2
    assert items[1].error.startswith("invalid JSON at column")
    assert items[2] == LineError(3, "expected a JSON object, got list")
    assert items[3] == LineError(4, "expected a JSON object, got str")
    assert items[4] == ParsedLine(5, {"c": 3})


def test_invalid_utf8_is_a_line_error_not_a_crash() -> None:
    items = list(parse_ndjson(b'{"a": "\xff"}\n{"ok": true}'))
    assert isinstance(items[0], LineError) and items[0].line == 1
    assert items[1] == ParsedLine(2, {"ok": True})


def test_empty_body_has_no_lines() -> None:
    assert list(parse_ndjson(b"")) == []


def test_each_line_keeps_the_text_it_was_decoded_from() -> None:
    # The ECS normaliser scans this text for dotted keys instead of serialising again.
    body = b'{"container": {"image.name": "x"}}\r\n  {"b" : 2}  \n'
    first, second = list(parse_ndjson(body))
    assert isinstance(first, ParsedLine) and isinstance(second, ParsedLine)
    assert first.text == b'{"container": {"image.name": "x"}}'
    assert second.text == b'{"b" : 2}'


def test_split_lines_keep_editor_numbers_and_their_text_undecoded() -> None:
    body = b'{"a": 1}\n\n  {not json  \r\n[1]'
    assert list(split_ndjson(body)) == [
        RawLine(1, b'{"a": 1}'),
        RawLine(3, b"{not json"),
        RawLine(4, b"[1]"),
    ]


def test_decode_object_names_the_column_or_the_type() -> None:
    assert decode_object(b'{"a": [1]}') == {"a": [1]}
    with pytest.raises(LineDecodeError, match=r"^invalid JSON at column 7: "):
        decode_object(b'{"a": }')
    with pytest.raises(LineDecodeError, match=r"^expected a JSON object, got int$"):
        decode_object(b"42")
