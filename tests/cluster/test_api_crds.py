"""The generated CRDs on a real API server: converted Elastic rules and the examples are accepted,
`kubectl explain` shows the model descriptions, and the schema refuses invalid objects."""

from __future__ import annotations

import copy
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from helpers import REPO_ROOT, unique

from localcluster import LocalCluster
from quarantine.api import dump_yaml_stream, to_manifest
from quarantine.elastic_import import load_elastic_rule

EXAMPLES = sorted((REPO_ROOT / "crds" / "examples").glob("*.yaml"))

VALID_RULE: dict[str, Any] = {
    "apiVersion": "quarantine.io/v1alpha1",
    "kind": "DetectionRule",
    "metadata": {"name": "placeholder"},
    "spec": {
        "query": 'process where process.name == "nc"',
        "ruleId": "cluster-test",
        "severity": "high",
        "riskScore": 73,
        "response": {"actions": [{"isolate": {"allowDNS": True}}]},
    },
}


def rule_named(name: str, **spec_changes: Any) -> dict[str, Any]:
    rule = copy.deepcopy(VALID_RULE)
    rule["metadata"]["name"] = name
    rule["spec"].update(spec_changes)
    return rule


def server_dry_run(cluster: LocalCluster, manifest: str, *extra: str) -> Any:
    return cluster.kubectl(
        "apply", "--dry-run=server", *extra, "-f", "-", input=manifest, check=False
    )


def test_every_converted_elastic_rule_is_accepted(
    crds_installed: LocalCluster, shared_dir: Path
) -> None:
    files = [
        path
        for path in sorted((shared_dir / "elastic-rules").rglob("*.toml"))
        if tomllib.loads(path.read_text())["rule"]["type"] == "eql"
    ]
    manifests = [to_manifest(load_elastic_rule(path), only_set=True) for path in files]
    assert len(manifests) == 85
    result = server_dry_run(crds_installed, dump_yaml_stream(manifests))
    assert result.returncode == 0, result.stderr
    accepted = [line for line in result.stdout.splitlines() if "(server dry run)" in line]
    assert len(accepted) == 85, result.stdout


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_are_accepted(crds_installed: LocalCluster, path: Path) -> None:
    result = server_dry_run(crds_installed, path.read_text())
    assert result.returncode == 0, result.stderr
    assert f"detectionrule.quarantine.io/{path.stem}" in result.stdout


def test_explain_shows_the_model_descriptions(crds_installed: LocalCluster) -> None:
    response = crds_installed.kubectl("explain", "detectionrule.spec.response").stdout
    assert "What to do to the offending pod; absent means alert only." in response
    assert "Enforce runs the actions; DryRun records" in response
    bypass = crds_installed.kubectl(
        "explain", "detectionrule.spec.response.actions.isolate.whenBypassed"
    ).stdout
    assert "another NetworkPolicy selecting the pod allows traffic" in bypass
    assert "Detach" in bypass and "Report" in bypass
    target = crds_installed.kubectl("explain", "alert.spec.target").stdout
    assert "Container id without the runtime prefix" in target


@pytest.mark.parametrize(
    ("spec_changes", "validate", "expected"),
    [
        ({"riskScore": 101}, "strict", "spec.riskScore: Invalid value: 101"),
        ({"severity": "urgent"}, "strict", 'spec.severity: Unsupported value: "urgent"'),
        ({"interval": "5 minutes"}, "strict", "spec.interval: Invalid value"),
        # Action items keep unknown keys (so the webhook can name them); the schema's CEL rule
        # refuses an unknown action itself, with or without kubectl's field validation.
        ({"response": {"actions": [{"explode": {}}]}}, "strict", "needs one of: isolate"),
        ({"response": {"actions": [{"explode": {}}]}}, "false", "needs one of: isolate"),
        (
            {"response": {"actions": [{"isolate": {}, "deletePod": {}}]}},
            "strict",
            "spec.response.actions[0]: Too many: 2",
        ),
        (
            {"response": {"actions": [{"isolate": {"whenBypassed": "Ignore"}}]}},
            "strict",
            "whenBypassed: Unsupported value",
        ),
    ],
)
def test_invalid_rules_are_refused(
    crds_installed: LocalCluster, spec_changes: dict[str, Any], validate: str, expected: str
) -> None:
    manifest = json.dumps(rule_named(unique("invalid"), **spec_changes))
    result = server_dry_run(crds_installed, manifest, f"--validate={validate}")
    assert result.returncode != 0, result.stdout
    assert expected in result.stderr, result.stderr


def test_rule_defaults_and_printer_columns(crds_installed: LocalCluster) -> None:
    name = unique("defaults")
    crds_installed.kubectl("create", "-f", "-", input=json.dumps(rule_named(name)))
    try:
        stored = json.loads(crds_installed.kubectl("get", "qdr", name, "-o", "json").stdout)
        spec = stored["spec"]
        assert (spec["interval"], spec["lookback"], spec["maxSignals"]) == ("5m", "6m", 100)
        assert (spec["language"], spec["enabled"]) == ("eql", True)
        assert spec["response"]["mode"] == "Enforce"
        assert spec["response"]["actions"][0]["isolate"]["whenBypassed"] == "Detach"
        table = crds_installed.kubectl("get", "quarantine", "-o", "wide").stdout
        assert f"detectionrule.quarantine.io/{name}" in table
        header = crds_installed.kubectl("get", "detectionrules", name).stdout.splitlines()[0]
        assert header.split() == ["NAME", "SEVERITY", "RISK", "READY", "ALERTS", "AGE"]
    finally:
        crds_installed.kubectl("delete", "qdr", name, "--wait=false", check=False)


def test_alert_keeps_free_form_events_and_status(
    crds_installed: LocalCluster, namespace: str
) -> None:
    events = [{"process": {"name": "tar", "args": ["tar", "/etc/shadow"]}, "x": {"y": [1, 2]}}]
    alert = {
        "apiVersion": "quarantine.io/v1alpha1",
        "kind": "Alert",
        "metadata": {"name": "a1", "namespace": namespace},
        "spec": {
            "rule": {"name": "r", "ruleId": "id", "severity": "medium", "riskScore": 47},
            "target": {"namespace": namespace, "pod": "web-1"},
            "source": "matcher",
            "firstSeen": "2026-01-02T03:04:05Z",
            "lastSeen": "2026-01-02T03:04:05Z",
            "events": events,
        },
    }
    crds_installed.kubectl("create", "-f", "-", input=json.dumps(alert))
    undo = {"createdObjects": [{"kind": "NetworkPolicy", "name": "q"}], "replicas": 3}
    status = {"status": {"phase": "Contained", "undo": undo}}
    crds_installed.kubectl(
        "patch",
        "alert",
        "a1",
        "-n",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps(status),
    )
    stored = json.loads(
        crds_installed.kubectl("get", "qal", "a1", "-n", namespace, "-o", "json").stdout
    )
    assert stored["spec"]["events"] == events
    assert stored["spec"]["count"] == 1 and stored["spec"]["release"] is False
    assert stored["status"] == {"phase": "Contained", "undo": undo}
    row = crds_installed.kubectl("get", "alerts", "-n", namespace).stdout.splitlines()
    assert row[0].split() == ["NAME", "RULE", "SEVERITY", "POD", "PHASE", "COUNT", "AGE"]
    assert row[1].split()[:6] == ["a1", "r", "medium", "web-1", "Contained", "1"]
