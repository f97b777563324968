"""`quarantine test-rule`: the founding rule over recorded events, offline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from quarantine.cli import main

REPO = Path(__file__).resolve().parents[2]
FOUNDING_RULE = REPO / "crds" / "examples" / "sensitive-files-compression.yaml"
CONTAINER = "9f" * 32

# Used only when the example is missing: the same query as the founding rule, shortened.
FALLBACK_RULE = """\
apiVersion: quarantine.io/v1alpha1
kind: DetectionRule
metadata:
  name: sensitive-files-compression
spec:
  ruleId: 475b42f0-61fb-4ef0-8a85-597458bfb0a1
  severity: medium
  riskScore: 47
  timestampField: event.ingested
  query: |
    process where container.id: "*" and event.type == "start" and
    (process.name: ("zip", "tar", "gzip", "hdiutil", "7z") or
     process.args: ("zip", "tar", "gzip", "hdiutil", "7z"))
    and process.args: ("/root/.ssh/id_rsa", "/etc/shadow")
  exceptions:
    - name: nightly-config-backup
      condition: process.parent.executable == "/usr/local/bin/nightly-config-backup"
  response:
    actions:
      - isolate: {}
"""


@pytest.fixture
def founding_rule(tmp_path: Path) -> Path:
    if FOUNDING_RULE.exists():
        return FOUNDING_RULE
    path = tmp_path / "founding.yaml"
    path.write_text(FALLBACK_RULE)
    return path


def _exec(*args: str, event_id: str | None = None, **extra: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "@timestamp": "2023-03-01T10:00:00Z",
        "event": {"category": ["process"], "type": ["start"], "action": "exec"},
        "process": {
            "name": args[0],
            "args": list(args),
            "executable": f"/usr/bin/{args[0]}",
            "parent": {"executable": "/bin/bash"},
        },
        "container": {"id": CONTAINER},
        "orchestrator": {"namespace": "shop", "resource": {"name": "web-1", "type": "pod"}},
    }
    if event_id is not None:
        event["event"]["id"] = event_id
    event.update(extra)
    return event


def _write_events(path: Path, *events: Any) -> Path:
    path.write_bytes(b"".join(orjson.dumps(event) + b"\n" for event in events))
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[dict[str, Any]], str]:
    code = main(["test-rule", *argv])
    captured = capsys.readouterr()
    alerts = [json.loads(line) for line in captured.out.splitlines() if line.strip()]
    return code, alerts, captured.err


def test_attack_alerts_with_the_planned_response_and_benign_does_not(
    tmp_path: Path, founding_rule: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = _write_events(
        tmp_path / "events.ndjson",
        _exec("tar", "xzf", "/tmp/release.tgz", "-C", "/app", event_id="benign-1"),
        _exec("tar", "czf", "/tmp/k.tgz", "/root/.ssh/id_rsa", event_id="attack-1"),
    )
    code, alerts, _ = _run(capsys, str(founding_rule), "--events", str(events))
    assert code == 0
    (alert,) = alerts
    assert alert["rule"] == "sensitive-files-compression"
    assert alert["ruleId"] == "475b42f0-61fb-4ef0-8a85-597458bfb0a1"
    assert (alert["severity"], alert["riskScore"]) == ("medium", 47)
    assert alert["eventIds"] == ["attack-1"]
    assert alert["target"] == {
        "namespace": "shop",
        "pod": "web-1",
        "containerId": CONTAINER,
        "containerName": None,
    }
    assert alert["mode"] == "Enforce"
    assert list(alert["actions"][0]) == ["isolate"]
    assert alert["actions"][0]["isolate"]["whenBypassed"] == "Detach"
    assert alert["alertName"].startswith("sensitive-files-compression-")
    # A recording from 2023 alerts: time offline is the recording's own.
    assert alert["timestamp"] == "2023-03-01T10:00:00Z"


def test_benign_only_prints_nothing_and_exits_zero(
    tmp_path: Path, founding_rule: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = _write_events(tmp_path / "e.ndjson", _exec("tar", "xzf", "/tmp/r.tgz"))
    assert _run(capsys, str(founding_rule), "--events", str(events))[:2] == (0, [])


def test_exception_and_positions_as_ids(
    tmp_path: Path, founding_rule: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backup = _exec("tar", "czf", "/b.tgz", "/etc/shadow")
    backup["process"]["parent"]["executable"] = "/usr/local/bin/nightly-config-backup"
    attack = _exec("tar", "czf", "/b.tgz", "/etc/shadow")
    events = _write_events(tmp_path / "e.ndjson", backup, attack)
    code, alerts, _ = _run(capsys, str(founding_rule), "--events", str(events))
    assert code == 0
    assert [alert["eventIds"] for alert in alerts] == [[1]]  # no event.id: 0-based position


def test_tetragon_recording_detected_automatically(
    tmp_path: Path, founding_rule: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = {
        "process_exec": {
            "process": {
                "binary": "/usr/bin/tar",
                "arguments": "czf /tmp/k.tgz /root/.ssh/id_rsa",
                "pod": {
                    "namespace": "shop",
                    "name": "web-1",
                    "container": {"id": f"containerd://{CONTAINER}", "name": "app"},
                },
            }
        },
        "time": "2023-03-01T10:00:00Z",
    }
    events = _write_events(tmp_path / "t.json", {"process_exit": {}}, raw)
    code, alerts, _ = _run(capsys, str(founding_rule), "--events", str(events))
    assert code == 0
    (alert,) = alerts
    assert alert["eventIds"] == [1]
    assert alert["target"]["containerId"] == CONTAINER
    assert alert["target"]["containerName"] == "app"


def test_folder_of_rules(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "a.yaml").write_text(FALLBACK_RULE)
    (folder / "b.yml").write_text(
        FALLBACK_RULE.replace("name: sensitive-files-compression", "name: second-copy", 1)
        + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"
    )
    events = _write_events(tmp_path / "e.ndjson", _exec("zip", "k.zip", "/etc/shadow"))
    code, alerts, err = _run(capsys, str(folder), "--events", str(events))
    assert code == 0
    assert sorted(alert["rule"] for alert in alerts) == [
        "second-copy",
        "sensitive-files-compression",
    ]
    assert "kind ConfigMap is not DetectionRule" in err


def test_cap_and_lateness_follow_event_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rule = tmp_path / "r.yaml"
    rule.write_text(
        FALLBACK_RULE.replace("  riskScore: 47\n", "  riskScore: 47\n  maxSignals: 1\n")
    )
    second_pod = _exec("tar", "czf", "/k.tgz", "/etc/shadow")
    second_pod["orchestrator"]["resource"]["name"] = "web-2"
    late = _exec("tar", "czf", "/k.tgz", "/etc/shadow", **{"@timestamp": "2023-03-01T09:00:00Z"})
    late["orchestrator"]["resource"]["name"] = "web-3"
    events = _write_events(
        tmp_path / "e.ndjson", _exec("tar", "czf", "/k.tgz", "/etc/shadow"), second_pod, late
    )
    code, alerts, err = _run(capsys, str(rule), "--events", str(events), "--summary")
    assert code == 0
    assert [alert["target"]["pod"] for alert in alerts] == ["web-1"]
    assert "'capped': 1" in err
    assert "'late': 1" in err


def test_bad_query_names_file_field_line_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rule = tmp_path / "bad.yaml"
    rule.write_text(
        FALLBACK_RULE.replace('event.type == "start" and', 'event.type == "start" andd')
    )
    events = _write_events(tmp_path / "e.ndjson", _exec("tar"))
    code, alerts, err = _run(capsys, str(rule), "--events", str(events))
    assert (code, alerts) == (2, [])
    assert str(rule) in err
    assert "spec.query line 1, column" in err


def test_bad_field_names_its_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rule = tmp_path / "bad.yaml"
    rule.write_text(FALLBACK_RULE.replace("riskScore: 47", "riskScore: 470"))
    events = _write_events(tmp_path / "e.ndjson", _exec("tar"))
    code, _, err = _run(capsys, str(rule), "--events", str(events))
    assert code == 2
    assert "spec.riskScore" in err and str(rule) in err


def test_bad_exception_names_its_condition(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rule = tmp_path / "bad.yaml"
    rule.write_text(FALLBACK_RULE.replace('== "/usr/local/bin/nightly-config-backup"', "== =="))
    events = _write_events(tmp_path / "e.ndjson", _exec("tar"))
    code, _, err = _run(capsys, str(rule), "--events", str(events))
    assert code == 2
    assert "spec.exceptions[0].condition line 1, column" in err


def test_bad_event_line_is_named(
    tmp_path: Path, founding_rule: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "e.ndjson"
    events.write_bytes(orjson.dumps(_exec("tar")) + b"\n{not json\n")
    code, alerts, err = _run(capsys, str(founding_rule), "--events", str(events))
    assert (code, alerts) == (2, [])
    assert f"{events}:2: not valid JSON" in err


def test_wrong_shape_for_the_chosen_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = _write_events(tmp_path / "e.ndjson", {"process_exec": {"process": {"pid": "x"}}})
    code, _, err = _run(capsys, str(FOUNDING_RULE), "--events", str(events), "--format", "tetragon")
    assert code == 2
    assert f"{events}:1: process_exec.process.binary: is missing" in err


def test_help_explains_offline_time(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["test-rule", "--help"])
    text = capsys.readouterr().out
    assert "latest event time" in text
    assert "never the" in text and "wall clock" in text
