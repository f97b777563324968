"""Falco alerts on exec become ECS process starts; other alerts are not process events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from quarantine.events import EventFormatError, detect_format, normalise, read_event_file


def _falco_samples(shared_dir: Path, name: str) -> list[Any]:
    return [record.document for record in read_event_file(shared_dir / "events/falco" / name)]


def test_only_exec_alerts_become_events(shared_dir: Path) -> None:
    raw_alerts = _falco_samples(shared_dir, "test-falco.log")
    assert {detect_format(raw) for raw in raw_alerts} == {"falco"}
    kept = [index + 1 for index, raw in enumerate(raw_alerts) if normalise(raw) is not None]
    # Lines 2, 4, 5, 6, 7 and 18 are execve alerts; the rest are openat or carry no syscall.
    assert kept == [2, 4, 5, 6, 7, 18]


def test_terminal_shell_in_kubernetes_pod(shared_dir: Path) -> None:
    raw = _falco_samples(shared_dir, "test-falco.log")[17]
    event = normalise(raw, "falco")
    assert event is not None
    assert event["@timestamp"] == "2024-08-28T21:35:04.518808525Z"
    assert event["event"]["category"] == ["process"]
    assert event["event"]["type"] == ["start"]
    assert event["event"]["id"] == raw["uuid"]
    assert event["process"]["name"] == "sh"
    assert event["process"]["executable"] == "/bin/sh"
    assert event["process"]["args"] == ["sh"]
    assert event["process"]["interactive"] is True  # proc.tty is non-zero
    assert event["process"]["parent"]["name"] == "containerd-shim"
    assert event["container"]["id"] == "8645a7a530c3"
    assert event["container"]["name"] == "debug"
    assert event["container"]["image"] == {"name": "docker.io/library/busybox", "tag": ["latest"]}
    assert event["orchestrator"]["namespace"] == "default"
    assert event["orchestrator"]["resource"] == {"name": "debug", "type": "pod"}
    assert event["user"] == {"name": "root", "id": "0"}
    assert event["falco"]["rule"] == "Terminal shell in container"


def test_shell_command_line_is_split_and_parent_kept(shared_dir: Path) -> None:
    raw = _falco_samples(shared_dir, "test-falco.log")[3]
    event = normalise(raw)
    assert event is not None
    assert event["process"]["args"] == ["bash", "-c", "ls", ">", "/dev/null"]
    assert event["process"]["command_line"] == "bash -c ls > /dev/null"
    assert event["process"]["parent"]["executable"] == "/bin/event-generator"
    assert event["process"]["interactive"] is False
    assert "orchestrator" not in event


def _alert(**fields: Any) -> dict[str, Any]:
    return {
        "rule": "r",
        "priority": "Warning",
        "time": "2024-01-01T00:00:00.5Z",
        "output": "x",
        "output_fields": {"evt.type": "execve", **fields},
    }


FULL_ID = "9656db3bb3588e7b23da7d48fe889434573036c27ae5a74837233de441c3601e"


def test_args_field_gives_arguments_and_full_container_id_wins() -> None:
    event = normalise(
        _alert(
            **{
                "proc.name": "tar",
                "proc.exe": "tar",
                "proc.args": "czf out.tgz /root/.ssh/id_rsa",
                "proc.cmdline": "tar czf out.tgz /root/.ssh/id_rsa",
                "container.id": "9656db3bb358",
                "container.full_id": FULL_ID,
                "k8s.ns.name": "<NA>",
            }
        )
    )
    assert event is not None
    assert event["process"]["args"] == ["tar", "czf", "out.tgz", "/root/.ssh/id_rsa"]
    assert event["container"]["id"] == FULL_ID
    assert "orchestrator" not in event  # <NA> means Falco did not know


def test_host_processes_have_no_container() -> None:
    event = normalise(_alert(**{"proc.name": "sh", "container.id": "host"}), "falco")
    assert event is not None
    assert "container" not in event


def test_epoch_nanoseconds_used_when_time_is_missing() -> None:
    raw = _alert(**{"proc.name": "sh", "evt.time": 1715108060008519431})
    del raw["time"]
    event = normalise(raw, "falco")
    assert event is not None
    assert event["@timestamp"].startswith("2024-05-07T18:54:20.008519")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"rule": "r"}, "output_fields: is missing"),
        ({"rule": "r", "output_fields": "x"}, "output_fields: must be an object, not a string"),
        (
            _alert(**{"proc.name": 7}),
            "output_fields.proc.name: must be a string, not a number",
        ),
        (_alert(**{"proc.pid": "many"}), "output_fields.proc.pid: must be an integer"),
    ],
)
def test_bad_falco_input_names_the_field(raw: Any, expected: str) -> None:
    with pytest.raises(EventFormatError) as caught:
        normalise(raw, "falco")
    assert expected in str(caught.value)
