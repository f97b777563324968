"""Tetragon process_exec events become ECS process starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from quarantine.events import EventFormatError, detect_format, normalise, read_event_file


def _tetragon_samples(shared_dir: Path, name: str) -> list[Any]:
    return [record.document for record in read_event_file(shared_dir / "events/tetragon" / name)]


def test_ndjson_samples_map_pod_container_and_arguments(shared_dir: Path) -> None:
    raw_events = _tetragon_samples(shared_dir, "events.json")
    assert [detect_format(raw) for raw in raw_events] == ["tetragon"] * 3
    first, second, _third = (normalise(raw) for raw in raw_events)
    assert first is not None and second is not None

    assert first["process"]["name"] == "netserver"
    assert first["process"]["executable"] == "/usr/bin/netserver"
    assert first["process"]["args"] == ["/usr/bin/netserver", "-D"]
    assert first["process"]["args_count"] == 2
    assert first["container"]["id"] == (
        "19a02291e106ce6227b684197be232ea57c4e1a5ab2604a12608c325d701c7f4"
    )
    assert first["container"]["runtime"] == "containerd"
    assert first["container"]["name"] == "spaceship"
    assert first["orchestrator"]["namespace"] == "default"
    assert first["orchestrator"]["resource"] == {"name": "tiefighter", "type": "pod"}
    assert first["event"]["category"] == ["process"]
    assert first["event"]["type"] == ["start"]
    assert first["event"]["action"] == "exec"
    assert first["host"]["os"]["type"] == "linux"
    assert first["host"]["name"] == "my-node"
    # The first line has no top-level time: the process start time stands in.
    assert first["@timestamp"] == "2022-10-18T03:16:18.273546829Z"
    assert first["process"]["parent"]["name"] == "containerd-shim-runc-v2"

    assert second["process"]["args"] == [
        "/starwars-docker",
        "--port",
        "80",
        "--host",
        "0.0.0.0",
    ]
    assert second["orchestrator"]["resource"]["name"] == "deathstar-6f87496b94-qdlh8"


def test_pretty_printed_sample_with_docker_runtime(shared_dir: Path) -> None:
    (raw,) = _tetragon_samples(shared_dir, "privileged-pod-nsenter.json")
    event = normalise(raw, "tetragon")
    assert event is not None
    assert event["process"]["name"] == "nsenter"
    assert event["process"]["args"][1:] == ["-t", "1", "-m", "-u", "-n", "-i", "-p", "bash"]
    assert event["container"]["id"] == (
        "85f791fd8dfa740a3b1c177e8f68e8fdb4803a7c8fa0e957a5ec38460ce047ef"
    )
    assert event["container"]["runtime"] == "docker"
    assert event["user"]["id"] == "0"
    assert event["@timestamp"] == "2022-01-19T11:16:29.378Z"  # no top-level time either


def test_curl_sample_uses_top_level_time_and_pod(shared_dir: Path) -> None:
    (raw,) = _tetragon_samples(shared_dir, "process_exec.json")
    event = normalise(raw)
    assert event is not None
    assert event["@timestamp"] == "2022-01-19T16:29:01.861Z"
    assert event["process"]["command_line"] == "/usr/bin/curl www.google.com"
    assert event["process"]["working_directory"] == "/usr/share/elasticsearch/"
    assert event["orchestrator"]["namespace"] == "tenant-jobs"


def _exec(arguments: str, **process: Any) -> dict[str, Any]:
    return {
        "process_exec": {
            "process": {"binary": "/bin/tar", "arguments": arguments, **process},
        },
        "time": "2024-01-01T00:00:00Z",
    }


def test_arguments_are_split_as_a_shell_would() -> None:
    event = normalise(_exec("czf '/tmp/my keys.tgz' \"/root/.ssh/id_rsa\" a\\ b"), "tetragon")
    assert event is not None
    assert event["process"]["args"] == [
        "/bin/tar",
        "czf",
        "/tmp/my keys.tgz",
        "/root/.ssh/id_rsa",
        "a b",
    ]


def test_unbalanced_quote_falls_back_to_whitespace_split() -> None:
    event = normalise(_exec("czf 'x.tgz /root/.ssh/id_rsa"), "tetragon")
    assert event is not None
    assert event["process"]["args"] == ["/bin/tar", "czf", "'x.tgz", "/root/.ssh/id_rsa"]


def test_non_exec_events_are_not_process_starts() -> None:
    exit_event = {
        "process_exit": {"process": {"binary": "/bin/sh"}},
        "time": "2024-01-01T00:00:00Z",
    }
    assert detect_format(exit_event) == "tetragon"
    assert normalise(exit_event) is None
    assert normalise({"process_kprobe": {}}, "tetragon") is None


def test_host_process_has_no_container_or_pod() -> None:
    event = normalise(_exec("-x"), "tetragon")
    assert event is not None
    assert "container" not in event
    assert "orchestrator" not in event


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"something": 1}, "no top-level key among"),
        ({"process_exec": []}, "process_exec: must be an object, not an array"),
        ({"process_exec": {}}, "process_exec.process: is missing"),
        (
            {"process_exec": {"process": {"arguments": "x"}}},
            "process_exec.process.binary: is missing",
        ),
        (
            {"process_exec": {"process": {"binary": "/bin/sh", "pid": "abc"}}},
            "process_exec.process.pid: must be an integer, not a string",
        ),
        (
            {"process_exec": {"process": {"binary": "/bin/sh", "pod": {"container": {"id": 5}}}}},
            "process_exec.process.pod.container.id: must be a string, not a number",
        ),
        ([1, 2], "must be a JSON object, not an array"),
    ],
)
def test_bad_tetragon_input_names_the_problem(raw: Any, expected: str) -> None:
    with pytest.raises(EventFormatError) as caught:
        normalise(raw, "tetragon")
    assert expected in str(caught.value)
