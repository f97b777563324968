"""`quarantine matcher` against the real local control plane: rules in, events in, Alerts out.

The matcher runs as a subprocess of the real CLI on a free loopback port. Pods run on kwok
nodes, whose containerStatuses carry `containerd://<64 hex>` ids as a kubelet would report.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import subprocess
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from chart_identity import install_chart_identity, remove_chart_identity
from helpers import QUARANTINE, REPO_ROOT, free_port, get_json, wait_for

from localcluster import LocalCluster

FOUNDING_RULE = REPO_ROOT / "crds" / "examples" / "sensitive-files-compression.yaml"
RULE_NAME = "sensitive-files-compression"
MAX_BODY = 256 * 1024


@dataclass
class RunningMatcher:
    url: str
    token: str
    process: subprocess.Popen[str]

    def post(self, body: bytes, *, token: str | None = "default", **headers: str) -> httpx.Response:
        sent = dict(headers)
        if token is not None:
            sent["Authorization"] = f"Bearer {self.token if token == 'default' else token}"
        return httpx.post(
            f"{self.url}/v1/events?format=ecs", content=body, headers=sent, timeout=30
        )


@contextlib.contextmanager
def run_matcher(
    cluster: LocalCluster,
    workdir: Path,
    token_args: list[str],
    token: str,
    extra_args: Sequence[str] = (),
    *,
    kubeconfig: Path | None = None,
) -> Iterator[RunningMatcher]:
    """`quarantine matcher` as a subprocess on a free port, until it answers /readyz; as the
    cluster admin unless `kubeconfig` names another identity."""
    log_file = workdir / "matcher.log"
    port = free_port()
    with log_file.open("w") as log:
        process = subprocess.Popen(
            [
                str(QUARANTINE),
                "matcher",
                f"--kubeconfig={kubeconfig or cluster.kubeconfig}",
                f"--listen=127.0.0.1:{port}",
                *token_args,
                f"--max-body-bytes={MAX_BODY}",
                *extra_args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    running = RunningMatcher(f"http://127.0.0.1:{port}", token, process)

    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"matcher exited early:\n{log_file.read_text()}")
        try:
            return httpx.get(f"{running.url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for("the matcher to become ready", ready)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        assert process.returncode == 0, log_file.read_text()


@pytest.fixture(scope="module")
def matcher(
    cluster: LocalCluster, crds_installed: LocalCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningMatcher]:
    """The matcher as the chart's matcher ServiceAccount: a missing RBAC rule fails these tests."""
    token = uuid.uuid4().hex
    workdir = tmp_path_factory.mktemp("matcher")
    (workdir / "token").write_text(token + "\n")
    identity = install_chart_identity(cluster, workdir, component="matcher")
    try:
        with run_matcher(
            cluster,
            workdir,
            [f"--token-file={workdir / 'token'}"],
            token,
            kubeconfig=identity.identity.kubeconfig,
        ) as running:
            yield running
    finally:
        remove_chart_identity(cluster, identity)


@pytest.fixture(scope="module")
def founding_rule(cluster: LocalCluster, crds_installed: LocalCluster) -> dict[str, Any]:
    cluster.kubectl("apply", "-f", str(FOUNDING_RULE))
    rule: dict[str, Any] = yaml.safe_load(FOUNDING_RULE.read_text())
    return rule


def rule_ready(cluster: LocalCluster, name: str) -> dict[str, Any] | None:
    rule = get_json(cluster, "detectionrule", name)
    for condition in (rule.get("status") or {}).get("conditions") or []:
        if (
            condition["type"] == "Ready"
            and condition.get("observedGeneration") == rule["metadata"]["generation"]
        ):
            return {"rule": rule, "ready": condition}
    return None


def running_pods(
    cluster: LocalCluster, namespace: str, app: str, count: int
) -> list[dict[str, Any]]:
    def probe() -> list[dict[str, Any]] | None:
        pods = get_json(cluster, "pods", "-n", namespace, "-l", f"app={app}")["items"]
        ready = [
            pod
            for pod in pods
            if pod["status"].get("phase") == "Running"
            and all(cs.get("containerID") for cs in pod["status"].get("containerStatuses") or [{}])
        ]
        return ready if len(ready) == count else None

    return wait_for(f"{count} running pods of {app}", probe, timeout=60)


def create_deployment(
    cluster: LocalCluster, namespace: str, name: str, replicas: int
) -> list[dict[str, Any]]:
    cluster.kubectl(
        "create",
        "deployment",
        name,
        "-n",
        namespace,
        "--image=registry.local/shop:1",
        f"--replicas={replicas}",
    )
    return running_pods(cluster, namespace, name, replicas)


def container_id(pod: dict[str, Any]) -> str:
    raw: str = pod["status"]["containerStatuses"][0]["containerID"]
    return raw.split("://", 1)[1]


def attack_event(cid: str, **extra: Any) -> dict[str, Any]:
    """`tar` archiving root's SSH key inside a container, as Defend for Containers reports it."""
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    event = {
        "@timestamp": now,
        "event": {
            "category": ["process"],
            "type": ["start"],
            "action": "exec",
            "ingested": now,
            "kind": "event",
        },
        "host": {"os": {"type": "linux"}},
        "process": {
            "name": "tar",
            "executable": "/usr/bin/tar",
            "args": ["tar", "-czf", "/tmp/k.tgz", "/root/.ssh/id_rsa"],
            "pid": 4242,
        },
        "container": {"id": cid},
    }
    event.update(extra)
    return event


def benign_event(cid: str) -> dict[str, Any]:
    event = attack_event(cid)
    event["process"] = {"name": "ls", "args": ["ls", "-l", "/tmp"], "executable": "/bin/ls"}
    return event


def ndjson(*events: dict[str, Any]) -> bytes:
    return b"".join(json.dumps(e).encode() + b"\n" for e in events)


def alerts(cluster: LocalCluster, namespace: str) -> list[dict[str, Any]]:
    """The founding rule's Alerts; other tests may apply more rules to the shared cluster."""
    selector = f"quarantine.io/rule={RULE_NAME}"
    items: list[dict[str, Any]] = get_json(cluster, "alerts", "-n", namespace, "-l", selector)[
        "items"
    ]
    return items


def test_attack_event_creates_one_alert_with_the_full_target_and_repeat_counts(
    cluster: LocalCluster, namespace: str, matcher: RunningMatcher, founding_rule: dict[str, Any]
) -> None:
    wait_for("the founding rule to be Ready", lambda: rule_ready(cluster, RULE_NAME))
    pod = create_deployment(cluster, namespace, "shop", replicas=1)[0]
    cid = container_id(pod)
    time.sleep(1)  # the matcher's pod watch trails the API by a moment

    first = matcher.post(ndjson(attack_event(cid)))
    assert first.status_code == 200, first.text
    answer = first.json()
    assert answer["accepted"] == 1 and answer["errors"] == []
    assert all(name.startswith(f"{namespace}/") for name in answer["alerts"])

    [alert] = alerts(cluster, namespace)
    spec = alert["spec"]
    alert_ref = f"{namespace}/{alert['metadata']['name']}"
    assert alert_ref in answer["alerts"]
    assert spec["rule"] == {
        "name": RULE_NAME,
        "ruleId": "475b42f0-61fb-4ef0-8a85-597458bfb0a1",
        "severity": "medium",
        "riskScore": 47,
    }
    assert spec["source"] == "matcher" and spec["count"] == 1
    assert spec["target"] == {
        "namespace": namespace,
        "pod": pod["metadata"]["name"],
        "containerId": cid,
        "containerName": "shop",
        "node": pod["spec"]["nodeName"],
        "workload": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "shop"},
    }
    assert spec["events"][0]["process"]["name"] == "tar"

    again = matcher.post(gzip.compress(ndjson(attack_event(cid))), **{"Content-Encoding": "gzip"})
    assert again.status_code == 200, again.text
    assert alert_ref in again.json()["alerts"]
    [alert] = alerts(cluster, namespace)
    assert alert["spec"]["count"] == 2
    assert alert["spec"]["lastSeen"] >= alert["spec"]["firstSeen"]

    def counted() -> dict[str, Any] | None:
        status = get_json(cluster, "detectionrule", RULE_NAME).get("status") or {}
        return status if status.get("alertCount", 0) >= 2 and status.get("lastAlertTime") else None

    wait_for("the rule's alertCount to be raised", counted, timeout=30)
    metrics = httpx.get(f"{matcher.url}/metrics", timeout=5).text
    assert 'quarantine_matcher_alerts_created_total{rule="sensitive-files-compression"}' in metrics


def test_a_repeat_after_release_opens_a_new_alert(
    cluster: LocalCluster, namespace: str, matcher: RunningMatcher, founding_rule: dict[str, Any]
) -> None:
    wait_for("the founding rule to be Ready", lambda: rule_ready(cluster, RULE_NAME))
    pod = create_deployment(cluster, namespace, "cart", replicas=1)[0]
    cid = container_id(pod)
    time.sleep(1)  # the matcher's pod watch trails the API by a moment
    assert matcher.post(ndjson(attack_event(cid))).status_code == 200
    [first] = alerts(cluster, namespace)
    first_name = first["metadata"]["name"]
    cluster.kubectl(
        "patch", "alert", first_name, "-n", namespace, "--type=merge",
        "-p", '{"spec":{"release":true}}',
    )  # fmt: skip

    repeat = matcher.post(ndjson(attack_event(cid)))
    assert repeat.status_code == 200, repeat.text
    assert repeat.json()["alerts"] == [f"{namespace}/{first_name}-r2"]
    by_name = {a["metadata"]["name"]: a for a in alerts(cluster, namespace)}
    assert set(by_name) == {first_name, f"{first_name}-r2"}
    # The released record is left as it was; the new Alert carries the repeat.
    assert by_name[first_name]["spec"]["count"] == 1
    assert by_name[f"{first_name}-r2"]["spec"]["count"] == 1


def test_a_bad_line_is_reported_and_the_good_lines_still_alert(
    cluster: LocalCluster, namespace: str, matcher: RunningMatcher, founding_rule: dict[str, Any]
) -> None:
    wait_for("the founding rule to be Ready", lambda: rule_ready(cluster, RULE_NAME))
    pods = create_deployment(cluster, namespace, "batch", replicas=2)
    time.sleep(1)
    body = (
        ndjson(benign_event(container_id(pods[0])))
        + b'{"process": {"name": "tar"\n'
        + ndjson(attack_event(container_id(pods[1])))
    )
    response = matcher.post(body)
    assert response.status_code == 207, response.text
    answer = response.json()
    assert answer["accepted"] == 2
    assert [error["line"] for error in answer["errors"]] == [2]
    [alert] = alerts(cluster, namespace)
    assert f"{namespace}/{alert['metadata']['name']}" in answer["alerts"]
    assert alert["spec"]["target"]["pod"] == pods[1]["metadata"]["name"]


def test_event_for_an_unknown_pod_is_still_alerted_in_the_named_namespace(
    cluster: LocalCluster, namespace: str, matcher: RunningMatcher, founding_rule: dict[str, Any]
) -> None:
    wait_for("the founding rule to be Ready", lambda: rule_ready(cluster, RULE_NAME))
    event = attack_event(
        "e" * 64,
        orchestrator={"namespace": namespace, "resource": {"name": "gone-pod", "type": "pod"}},
    )
    response = matcher.post(ndjson(event))
    assert response.status_code == 200, response.text
    assert "pod not found" in response.json()["warnings"][0]["warning"]
    [alert] = alerts(cluster, namespace)
    assert alert["spec"]["target"] == {
        "namespace": namespace,
        "pod": "gone-pod",
        "containerId": "e" * 64,
    }


def test_requests_without_the_token_or_over_the_limit_are_refused(matcher: RunningMatcher) -> None:
    assert matcher.post(b"{}\n", token=None).status_code == 401
    assert matcher.post(b"{}\n", token="not-the-token").status_code == 401
    oversized = matcher.post(b'{"pad": "' + b"x" * MAX_BODY + b'"}\n')
    assert oversized.status_code == 413
    bomb = matcher.post(gzip.compress(b" " * (MAX_BODY * 20)), **{"Content-Encoding": "gzip"})
    assert bomb.status_code == 413


def test_bad_query_sets_ready_false_and_fixing_it_recovers(
    cluster: LocalCluster, matcher: RunningMatcher, crds_installed: LocalCluster
) -> None:
    name = f"broken-{uuid.uuid4().hex[:6]}"
    rule: dict[str, Any] = {
        "apiVersion": "quarantine.io/v1alpha1",
        "kind": "DetectionRule",
        "metadata": {"name": name},
        "spec": {
            "query": 'process where\n  process.name == "tar" and and',
            "ruleId": name,
            "displayName": "broken on purpose",
            "severity": "low",
            "riskScore": 10,
        },
    }
    cluster.kubectl("apply", "-f", "-", input=json.dumps(rule))
    try:
        broken = wait_for("the broken rule's Ready=False", lambda: rule_ready(cluster, name))
        assert broken["ready"]["status"] == "False"
        assert broken["ready"]["reason"] == "QueryInvalid"
        error = broken["rule"]["status"]["queryError"]
        assert error["line"] == 2 and error["column"] >= 1
        assert f"line 2, column {error['column']}" in broken["ready"]["message"]

        rule["spec"]["query"] = 'process where process.name == "tar"'
        cluster.kubectl("apply", "-f", "-", input=json.dumps(rule))

        def recovered() -> dict[str, Any] | None:
            state = rule_ready(cluster, name)
            return state if state and state["ready"]["status"] == "True" else None

        fixed = wait_for("the fixed rule's Ready=True", recovered)
        assert "queryError" not in fixed["rule"]["status"]
    finally:
        cluster.kubectl("delete", "detectionrule", name, "--wait=false", check=False)


def test_token_can_come_from_a_secret(
    cluster: LocalCluster, namespace: str, crds_installed: LocalCluster, tmp_path: Path
) -> None:
    token = uuid.uuid4().hex
    cluster.kubectl(
        "create", "secret", "generic", "intake", "-n", namespace, f"--from-literal=token={token}"
    )
    secret_args = [f"--token-secret={namespace}/intake"]
    with run_matcher(cluster, tmp_path, secret_args, token) as secret_matcher:
        assert secret_matcher.post(b"{}\n").status_code == 200
        assert secret_matcher.post(b"{}\n", token="guess").status_code == 401
