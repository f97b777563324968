"""Alert intake against the real API server: Falcosidekick and Elastic Security alerts posted over
HTTP become Alerts for the named pod, with the playbook rule from `?rule=` and stable names.

The intake runs in-process on 127.0.0.1 with the matcher's own parts (server, bearer-token auth,
pod index, workload resolution); the pod index is filled from a LIST instead of a watch."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
import pytest

from localcluster import LocalCluster
from quarantine.ingest.alert_intake import ExternalAlertRecorder, alert_intake_routes
from quarantine.ingest.auth import StaticToken
from quarantine.ingest.server import IntakeServer, ListenAddress, build_app
from quarantine.k8s.pod_index import PodIndex
from quarantine.k8s.targets import TargetResolver
from quarantine.k8s.workloads import WorkloadResolver

TOKEN = "alert-intake-cluster-test"
T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 60.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def get_json(cluster: LocalCluster, *args: str) -> Any:
    return json.loads(cluster.kubectl("get", *args, "-o", "json").stdout)


@pytest.fixture
def playbook_rule(crds_installed: LocalCluster) -> Any:
    name = f"intake-playbook-{uuid.uuid4().hex[:8]}"
    rule = {
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
    crds_installed.kubectl("apply", "-f", "-", input=json.dumps(rule))
    yield rule
    crds_installed.kubectl("delete", "detectionrule", name, "--wait=false", check=False)


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

    return wait_for("the web pod to run with a container id", running)


def run_intake(cluster: LocalCluster, scenario: Callable[[httpx.AsyncClient], Any]) -> None:
    api = cluster.api_client()
    pods = PodIndex()
    pods.replace(get_json(cluster, "pods", "--all-namespaces")["items"])
    recorder = ExternalAlertRecorder(api, TargetResolver(pods, WorkloadResolver(api)))
    routes = alert_intake_routes(recorder, default_rule=None, max_body_bytes=1024 * 1024)

    async def main() -> None:
        server = IntakeServer(build_app(routes, StaticToken(TOKEN)), ListenAddress("127.0.0.1", 0))
        await server.start()
        try:
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{server.port}",
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=30,
            ) as client:
                await scenario(client)
        finally:
            await server.stop()

    asyncio.run(main())


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


def test_a_falco_alert_becomes_an_alert_and_a_resend_raises_its_count(
    cluster: LocalCluster, namespace: str, playbook_rule: Any, web_pod: dict[str, Any]
) -> None:
    rule_name = playbook_rule["metadata"]["name"]
    alert = falcosidekick_alert(namespace, web_pod["metadata"]["name"])
    answers: list[dict[str, Any]] = []

    async def scenario(client: httpx.AsyncClient) -> None:
        for _ in range(2):
            response = await client.post(f"/v1/alerts/falco?rule={rule_name}", json=alert)
            assert response.status_code == 200, response.text
            answers.append(response.json())

    run_intake(cluster, scenario)
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
        "name": rule_name,
        "ruleId": playbook_rule["spec"]["ruleId"],
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


def test_an_elastic_alert_naming_only_the_container_finds_its_pod(
    cluster: LocalCluster, namespace: str, playbook_rule: Any, web_pod: dict[str, Any]
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
    answer: dict[str, Any] = {}

    async def scenario(client: httpx.AsyncClient) -> None:
        rule = playbook_rule["metadata"]["name"]
        response = await client.post(f"/v1/alerts/elastic?rule={rule}", json=[document])
        assert response.status_code == 200, response.text
        answer.update(response.json())

    run_intake(cluster, scenario)
    (reference,) = answer["alerts"]
    assert reference.startswith(f"{namespace}/elastic-sensitive-files-compression")
    stored = get_json(cluster, "-n", namespace, "alert", reference.split("/")[1])
    spec = stored["spec"]
    assert spec["source"] == "elastic"
    assert spec["rule"]["ruleId"] == "475b42f0-61fb-4ef0-8a85-597458bfb0a1"
    assert (spec["rule"]["severity"], spec["rule"]["riskScore"]) == ("high", 73)
    assert spec["target"]["pod"] == web_pod["metadata"]["name"]
    assert spec["target"]["containerId"] == container_id
    assert spec["target"]["containerName"] == "nginx"


def test_a_missing_playbook_rule_or_token_creates_nothing(
    cluster: LocalCluster, namespace: str, crds_installed: LocalCluster, web_pod: dict[str, Any]
) -> None:
    alert = falcosidekick_alert(namespace, web_pod["metadata"]["name"])

    async def scenario(client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/alerts/falco?rule=no-such-rule-anywhere", json=alert)
        assert response.status_code == 422
        assert "no-such-rule-anywhere" in response.json()["error"]
        response = await client.post(
            "/v1/alerts/falco?rule=x", json=alert, headers={"Authorization": "Bearer wrong"}
        )
        assert response.status_code == 401

    run_intake(cluster, scenario)
    assert get_json(cluster, "-n", namespace, "alerts")["items"] == []
