"""ECS documents: nested and dotted keys end up in one canonical nested layout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from quarantine.events import (
    EventFormatError,
    detect_format,
    expand_dotted,
    field_strings,
    get_field,
    normalise,
    read_event_file,
)


def test_cloud_defend_samples_with_dotted_keys_inside_objects(shared_dir: Path) -> None:
    folder = shared_dir / "events/cloud_defend/data_stream/alerts"
    for name in ("sample_event.json", "sample_event.4899dabf.json"):
        (record,) = read_event_file(folder / name)
        assert detect_format(record.document) == "ecs"
        event = normalise(record.document)
        assert event is not None
        assert event["container"]["image"]["name"] == "nginx"
        assert event["container"]["image"]["tag"] == ["latest"]
        assert event["orchestrator"]["resource"] == {"name": "nginx-pod", "type": "pod"}
        assert event["orchestrator"]["cluster"]["name"] == "my_cluster"
        assert get_field(event, "process.name") == "nginx"
        assert get_field(event, "event.category") == ["process"]
    # The two versions differ in how the agent id is written; both end up nested.
    assert get_field(normalise(record.document) or {}, "agent.id") is not None


def test_documents_without_dotted_keys_are_not_copied() -> None:
    document = {"process": {"name": "sh", "args": ["sh", "-c", "id"]}, "event": {"id": "1"}}
    assert expand_dotted(document) is document


def test_top_level_and_nested_dotted_keys_merge() -> None:
    document = {
        "process.name": "tar",
        "process": {"args": ["tar"], "parent.name": "sh"},
        "items": [{"a.b": 1}, 2],
    }
    assert expand_dotted(document) == {
        "process": {"name": "tar", "args": ["tar"], "parent": {"name": "sh"}},
        "items": [{"a": {"b": 1}}, 2],
    }


def test_expansion_shares_untouched_objects_and_never_writes_into_the_input() -> None:
    process = {"name": "tar", "parent": {"name": "sh"}}
    document = {"process": process, "a": {"b": {"x": 1}}, "a.b.c": 2, "d": [{"e.f": 1}]}
    expanded = expand_dotted(document)
    assert expanded == {
        "process": {"name": "tar", "parent": {"name": "sh"}},
        "a": {"b": {"x": 1, "c": 2}},
        "d": [{"e": {"f": 1}}],
    }
    assert expanded["process"] is process  # no dotted key below: not copied
    assert document["a"] == {"b": {"x": 1}}  # the input is left as it was
    assert document["d"] == [{"e.f": 1}]


def test_field_access() -> None:
    event: dict[str, Any] = {"process": {"args": ["a", 1, None, True]}, "x": 5}
    assert field_strings(event, "process.args") == ["a", "1", "true"]
    assert field_strings(event, "x") == ["5"]
    assert get_field(event, "x.y") is None
    assert get_field(event, "process.missing") is None


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"a": 1, "a.b": 2}, "a: is both a value and an object"),
        ({"a": {"b": 1}, "a.b": 2}, "a.b: is given twice"),
        ({"x": {"a..b": 1}}, "x.a..b: field name has an empty part"),
    ],
)
def test_conflicting_keys_are_refused_by_name(document: dict[str, Any], expected: str) -> None:
    with pytest.raises(EventFormatError) as caught:
        normalise(document, "ecs")
    assert expected in str(caught.value)


def test_non_object_is_refused() -> None:
    with pytest.raises(EventFormatError, match="must be a JSON object, not a string"):
        normalise("process", "ecs")


def test_unknown_format_is_refused() -> None:
    with pytest.raises(EventFormatError, match="unknown event format 'syslog'"):
        normalise({}, "syslog")  # type: ignore[arg-type]
