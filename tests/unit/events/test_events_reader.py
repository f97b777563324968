"""Reading recorded events: NDJSON, JSON arrays and single pretty-printed documents."""

from __future__ import annotations

import pytest

from quarantine.events import EventFileError, parse_event_bytes, parse_timestamp


def test_ndjson_keeps_positions_and_line_numbers() -> None:
    records = list(parse_event_bytes(b'{"a": 1}\n\n{"a": 2}\n'))
    assert [(r.position, r.line, r.document) for r in records] == [
        (0, 1, {"a": 1}),
        (1, 3, {"a": 2}),
    ]


def test_bad_ndjson_line_is_named() -> None:
    with pytest.raises(EventFileError) as caught:
        list(parse_event_bytes(b'{"a": 1}\n{"a": \n', source="events.ndjson"))
    assert caught.value.line == 2
    assert str(caught.value).startswith("events.ndjson:2: not valid JSON")


def test_pretty_printed_object_and_array() -> None:
    (single,) = parse_event_bytes(b'{\n  "a": 1\n}\n')
    assert single.document == {"a": 1}
    records = list(parse_event_bytes(b'[\n {"a": 1},\n {"a": 2}\n]'))
    assert [r.document for r in records] == [{"a": 1}, {"a": 2}]
    assert [r.position for r in records] == [0, 1]


def test_broken_pretty_printed_document_reports_its_line() -> None:
    with pytest.raises(EventFileError) as caught:
        list(parse_event_bytes(b'{\n  "a": 1,\n  "b": \n}\n', source="f.json"))
    assert caught.value.line == 4


def test_empty_input_has_no_events() -> None:
    assert list(parse_event_bytes(b"\n  \n")) == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-01T00:00:00Z", 1704067200.0),
        ("2024-01-01T00:00:00.123456789Z", 1704067200.123456),
        ("2024-01-01T01:00:00+01:00", 1704067200.0),
        ("2024-01-01T00:00:00", 1704067200.0),
        (1704067200000, 1704067200.0),
        (["2024-01-01T00:00:00Z"], 1704067200.0),
        ("yesterday", None),
        (None, None),
        (True, None),
    ],
)
def test_timestamps(value: object, expected: float | None) -> None:
    parsed = parse_timestamp(value)
    if expected is None:
        assert parsed is None
    else:
        assert parsed == pytest.approx(expected)
