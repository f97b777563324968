"""Alert intake served by the real `quarantine matcher` against the real API server: Falcosidekick
and Elastic Security alerts posted over HTTP become Alerts for the named pod, with the playbook
rule from `?rule=` or `--default-alert-rule`, stable names, and the matcher's token and limits.

The matcher runs as a subprocess of the CLI on a free loopback port (as in test_matcher.py); its
pod index comes from its own watch."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from helpers import get_json, wait_for
from test_matcher import MAX_BODY, RunningMatcher, run_matcher

from localcluster import LocalCluster

DEFAULT_RULE = f"intake-default-{uuid.uuid4().hex[:8]}"
"""The rule the module's matcher is started with as --default-alert-rule."""


def playbook_rule(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "quarantine.io/v1alpha1",
        "kind": "DetectionRule",
        "metadata": {"name": name},
        "spec": {
            "query": 'process where process.name == "never-matches-anything"',
            "ruleId": f"rule-id-of-{name}",
            "severity": "low",
            "riskScore": 10,
            "response": {"mode": "DryRun", "actions": [{"isolate": {}}]},
        },
    }


@contextlib.contextmanager
def applied(cluster: LocalCluster, rule: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """`rule` in the cluster for the duration, deleted afterwards (without waiting)."""
    cluster.kubectl("apply", "-f", "-", input=json.dumps(rule))
    try:
        yield rule
    finally:
        name = rule["metadata"]["name"]
        cluster.kubectl("delete", "detectionrule", name, "--wait=false", check=False)


@pytest.fixture(scope="module")
def default_rule(crds_installed: LocalCluster) -> Iterator[dict[str, Any]]:
    with applied(crds_installed, playbook_rule(DEFAULT_RULE)) as rule:
        yield rule


@pytest.fixture
def named_rule(crds_installed: LocalCluster) -> Iterator[dict[str, Any]]:
    with applied(crds_installed, playbook_rule(f"intake-named-{uuid.uuid4().hex[:8]}")) as rule:
        yield rule


@pytest.fixture(scope="module")
def matcher(
    cluster: LocalCluster, crds_installed: LocalCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningMatcher]:
    token = uuid.uuid4().hex
    workdir = tmp_path_factory.mktemp("alert-intake")
    (workdir / "token").write_text(token + "\n")
    with run_matcher(
        cluster,
        workdir,
        [f"--token-file={workdir / 'token'}"],
        token,
        [f"--default-alert-rule={DEFAULT_RULE}"],
    ) as running:
        yield running


def post_alerts(
    matcher: RunningMatcher, source: str, payload: Any, *, token: str | None = None, **params: str
) -> httpx.Response:
    return httpx.post(
        f"{matcher.url}/v1/alerts/{source}",
        params=params,
        content=json.dumps(payload).encode(),
        headers={"Authorization": f"Bearer {token or matcher.token}"},
        timeout=30,
    )


@pytest.fixture
def web_pod(cluster: LocalCluster, namespace: str) -> dict[str, Any]:
    cluster.kubectl("-n", namespace, "create", "deployment", "web", "--image=nginx", "--replicas=1")

    def running() -> dict[str, Any] | None:
        pods = get_json(cluster, "-n", namespace, "pods", "-l", "app=web")["items"]
        for pod in pods:
            statuses = pod.get("status", {}).get("containerStatuses") or []
            if (
                pod["status"].get("phase") == "Running"
                and statuses
                and statuses[0].get("containerID")
            ):
                return pod
        return None

    pod = wait_for("the web pod to run with a container id", running, timeout=60)
    time.sleep(1)  # the matcher's pod watch trails the API by a moment
    return pod


def falcosidekick_alert(namespace: str, pod: str) -> dict[str, Any]:
    return {
        "uuid": str(uuid.uuid4()),
        "output": "Warning Sensitive file opened for reading (file=/etc/shadow)",
        "priority": "Warning",
        "rule": "Read sensitive file untrusted",
        "time": "2026-11-28T07:10:00.123456789Z",
        "output_fields": {
            "k8s.ns.name": namespace,
            "k8s.pod.name": pod,
            "container.name": "nginx",
            "fd.name": "/etc/shadow",
            "proc.name": "cat",
        },
        "source": "syscall",
        "tags": ["T1555", "container", "filesystem"],
        "hostname": "kwok-node-0",
    }


def metric(matcher: RunningMatcher, line_start: str) -> float:
    text = httpx.get(f"{matcher.url}/metrics", timeout=5).text
    for line in text.splitlines():
        if line.startswith(line_start + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_falco_alert_uses_the_default_rule_and_a_resend_raises_its_count(
    cluster: LocalCluster,
    namespace: str,
    matcher: RunningMatcher,
    default_rule: dict[str, Any],
    web_pod: dict[str, Any],
) -> None:
    received = 'quarantine_matcher_external_alerts_received_total{source="falco"}'
    received_before = metric(matcher, received)
    alert = falcosidekick_alert(namespace, web_pod["metadata"]["name"])
    answers = []
    for _ in range(2):
        response = post_alerts(matcher, "falco", alert)  # no ?rule=: the default applies
        assert response.status_code == 200, response.text
        answers.append(response.json())

    assert answers[0]["alerts"] == answers[1]["alerts"]
    (reference,) = answers[0]["alerts"]
    alert_namespace, alert_name = reference.split("/")
    assert alert_namespace == namespace and alert_name.startswith("falco-read-sensitive-file")
    stored = get_json(cluster, "-n", namespace, "alerts")["items"]
    assert [item["metadata"]["name"] for item in stored] == [alert_name]
    spec = stored[0]["spec"]
    assert spec["source"] == "falco"
    assert spec["count"] == 2
    assert spec["rule"] == {
        "name": DEFAULT_RULE,
        "ruleId": default_rule["spec"]["ruleId"],
        "severity": "medium",
        "riskScore": 47,
    }
    assert spec["target"]["pod"] == web_pod["metadata"]["name"]
    assert spec["target"]["node"] == web_pod["spec"]["nodeName"]
    assert spec["target"]["workload"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "web",
    }
    assert spec["firstSeen"].startswith("2026-11-28T07:10:00.123456")
    assert spec["events"][0]["rule"] == "Read sensitive file untrusted"
    assert metric(matcher, received) == received_before + 2

    def counted() -> bool:
        status = get_json(cluster, "detectionrule", DEFAULT_RULE).get("status") or {}
        return bool(status.get("alertCount", 0) >= 2 and status.get("lastAlertTime"))

    wait_for("the playbook rule's alertCount to be raised", counted, timeout=30)


def test_an_elastic_alert_naming_only_the_container_finds_its_pod(
    cluster: LocalCluster,
    namespace: str,
    matcher: RunningMatcher,
    named_rule: dict[str, Any],
    web_pod: dict[str, Any],
) -> None:
    container_id = web_pod["status"]["containerStatuses"][0]["containerID"].split("://", 1)[1]
    document = {
        "@timestamp": "2026-11-28T07:11:00.000Z",
        "kibana.alert.uuid": uuid.uuid4().hex,
        "kibana.alert.rule.name": "Sensitive Files Compression Inside A Container",
        "kibana.alert.rule.rule_id": "475b42f0-61fb-4ef0-8a85-597458bfb0a1",
        "kibana.alert.severity": "high",
        "kibana.alert.risk_score": 73,
        "container": {"id": container_id},
        "process": {"name": "tar", "args": ["tar", "czf", "/tmp/x", "/root/.ssh/id_rsa"]},
    }
    rule = named_rule["metadata"]["name"]
    response = post_alerts(matcher, "elastic", [document], rule=rule)
    assert response.status_code == 200, response.text
    (reference,) = response.json()["alerts"]
    assert reference.startswith(f"{namespace}/elastic-sensitive-files-compression")
    spec = get_json(cluster, "-n", namespace, "alert", reference.split("/")[1])["spec"]
    assert spec["source"] == "elastic"
    assert spec["rule"]["name"] == rule
    assert spec["rule"]["ruleId"] == "475b42f0-61fb-4ef0-8a85-597458bfb0a1"
    assert (spec["rule"]["severity"], spec["rule"]["riskScore"]) == ("high", 73)
    assert spec["target"]["pod"] == web_pod["metadata"]["name"]
    assert spec["target"]["containerId"] == container_id
    assert spec["target"]["containerName"] == "nginx"


def test_a_missing_playbook_rule_a_wrong_token_or_a_big_body_creates_nothing(
    cluster: LocalCluster, namespace: str, matcher: RunningMatcher, web_pod: dict[str, Any]
) -> None:
    alert = falcosidekick_alert(namespace, web_pod["metadata"]["name"])
    missing = post_alerts(matcher, "falco", alert, rule="no-such-rule-anywhere")
    assert missing.status_code == 422
    assert "no-such-rule-anywhere" in missing.json()["error"]
    refused = (
        'quarantine_matcher_external_alert_requests_rejected_total{source="falco",status="422"}'
    )
    assert metric(matcher, refused) >= 1

    assert post_alerts(matcher, "falco", alert, token="wrong").status_code == 401
    big = {**alert, "output": "x" * MAX_BODY}
    assert post_alerts(matcher, "falco", big).status_code == 413
    assert get_json(cluster, "-n", namespace, "alerts")["items"] == []


@pytest.fixture
def scoped_rule(crds_installed: LocalCluster) -> Iterator[dict[str, Any]]:
    """A playbook rule for pods labelled tier=frontend only."""
    rule = playbook_rule(f"intake-scoped-{uuid.uuid4().hex[:8]}")
    rule["spec"]["scope"] = {"podSelector": {"matchLabels": {"tier": "frontend"}}}
    with applied(crds_installed, rule) as applied_rule:
        yield applied_rule


def test_an_alert_for_a_pod_outside_the_playbook_rules_scope_creates_nothing(
    cluster: LocalCluster,
    namespace: str,
    matcher: RunningMatcher,
    scoped_rule: dict[str, Any],
    web_pod: dict[str, Any],
) -> None:
    """The playbook rule's scope holds for external alerts as for the rule's own matches:
    the pod (app=web, no tier label) is outside it, so no Alert, and the answer says why."""
    rule = scoped_rule["metadata"]["name"]
    pod = web_pod["metadata"]["name"]
    outside = (
        'quarantine_matcher_external_alerts_rejected_total{reason="out_of_scope",source="falco"}'
    )
    before = metric(matcher, outside)
    response = post_alerts(matcher, "falco", falcosidekick_alert(namespace, pod), rule=rule)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["alerts"] == [] and answer["errors"] == []
    (warning,) = answer["warnings"]
    assert warning["line"] == 1
    assert (
        f"pod {namespace}/{pod} is outside the scope of DetectionRule {rule!r}"
        in (warning["warning"])
    )
    assert metric(matcher, outside) == before + 1
    assert get_json(cluster, "-n", namespace, "alerts")["items"] == []

    # Labelled into the scope: once the matcher's pod watch has the new label, it alerts.
    cluster.kubectl("-n", namespace, "label", "pod", pod, "tier=frontend")

    def recorded() -> list[str] | None:
        alert = falcosidekick_alert(namespace, pod)
        found = post_alerts(matcher, "falco", alert, rule=rule).json()["alerts"]
        return found or None

    (reference,) = wait_for("the labelled pod to be in scope", recorded, timeout=30)
    assert reference.startswith(f"{namespace}/falco-read-sensitive-file")


def test_a_change_to_the_playbook_rules_scope_applies_to_the_next_alert(
    cluster: LocalCluster,
    namespace: str,
    matcher: RunningMatcher,
    named_rule: dict[str, Any],
    web_pod: dict[str, Any],
) -> None:
    """The intake reads the playbook rule from the matcher's own watch of DetectionRules, so
    an edit counts from the next alert on, not after a cache expires (30 s)."""
    rule = named_rule["metadata"]["name"]
    pod = web_pod["metadata"]["name"]
    first = post_alerts(matcher, "falco", falcosidekick_alert(namespace, pod), rule=rule)
    assert first.status_code == 200 and len(first.json()["alerts"]) == 1, first.text
    elsewhere = {"spec": {"scope": {"namespaces": ["somewhere-else"]}}}
    cluster.kubectl("patch", "detectionrule", rule, "--type=merge", "-p", json.dumps(elsewhere))

    def refused() -> dict[str, Any] | None:
        answer = post_alerts(matcher, "falco", falcosidekick_alert(namespace, pod), rule=rule)
        body: dict[str, Any] = answer.json()
        return body if body.get("warnings") else None

    answer = wait_for("the new scope to apply", refused, timeout=10)
    assert answer["alerts"] == []
    assert "is outside the scope of DetectionRule" in answer["warnings"][0]["warning"]
