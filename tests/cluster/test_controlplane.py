"""Proof that the local control plane is a real Kubernetes: scheduling, GC, policy, validation."""

from __future__ import annotations

import json
import re
from typing import Any

from helpers import wait_for

from localcluster import LocalCluster


def deployment(name: str, replicas: int) -> str:
    return json.dumps(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "app", "image": "registry.invalid/app:1"}]},
                },
            },
        }
    )


def pods(cluster: LocalCluster, namespace: str, selector: str) -> list[dict[str, Any]]:
    out = cluster.kubectl("get", "pods", "-n", namespace, "-l", selector, "-o", "json").stdout
    items: list[dict[str, Any]] = json.loads(out)["items"]
    return items


def test_deployment_pods_are_scheduled_on_kwok_nodes_and_run(
    cluster: LocalCluster, namespace: str
) -> None:
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=deployment("web", 2))

    def running() -> list[dict[str, Any]] | None:
        items = pods(cluster, namespace, "app=web")
        ready = [p for p in items if p["status"].get("phase") == "Running"]
        return ready if len(ready) == 2 else None

    ready = wait_for("2 Running pods", running)
    node_names = {
        n["metadata"]["name"]
        for n in json.loads(cluster.kubectl("get", "nodes", "-o", "json").stdout)["items"]
    }
    for pod in ready:
        assert pod["spec"]["nodeName"] in node_names
        assert re.fullmatch(r"10\.244\.\d+\.\d+", pod["status"]["podIP"])
        # The project's kwok stage reports a containerID, as a kubelet would.
        (status,) = pod["status"]["containerStatuses"]
        assert re.fullmatch(r"containerd://[0-9a-f]{64}", status["containerID"])


def test_deleting_a_deployment_garbage_collects_its_pods(
    cluster: LocalCluster, namespace: str
) -> None:
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=deployment("gc", 2))
    wait_for("2 pods", lambda: len(pods(cluster, namespace, "app=gc")) == 2)
    cluster.kubectl("delete", "deployment", "gc", "-n", namespace, "--wait=false")
    wait_for(
        "pods removed by the garbage collector", lambda: not pods(cluster, namespace, "app=gc")
    )
    replicasets = cluster.kubectl("get", "rs", "-n", namespace, "-o", "name").stdout
    assert replicasets.strip() == ""


def test_network_policy_round_trips(cluster: LocalCluster, namespace: str) -> None:
    policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "deny-all"},
        "spec": {
            "podSelector": {"matchLabels": {"app": "x"}},
            "policyTypes": ["Ingress", "Egress"],
        },
    }
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(policy))
    read = json.loads(
        cluster.kubectl("get", "networkpolicy", "deny-all", "-n", namespace, "-o", "json").stdout
    )
    assert read["spec"]["podSelector"] == {"matchLabels": {"app": "x"}}
    assert read["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in read["spec"] and "egress" not in read["spec"]


def test_server_side_dry_run_refuses_an_invalid_object(
    cluster: LocalCluster, namespace: str
) -> None:
    bad = json.loads(deployment("bad", 1))
    bad["spec"]["replicas"] = -3
    result = cluster.kubectl(
        "apply", "--dry-run=server", "-n", namespace, "-f", "-", input=json.dumps(bad), check=False
    )
    assert result.returncode != 0
    assert "spec.replicas" in result.stderr
    # A dry run persists nothing.
    assert cluster.kubectl("get", "deployment", "bad", "-n", namespace, check=False).returncode != 0


def test_built_versions_are_reported(cluster: LocalCluster) -> None:
    versions = json.loads(cluster.kubectl("version", "-o", "json").stdout)
    server = versions["serverVersion"]["gitVersion"]
    client = versions["clientVersion"]["gitVersion"]
    assert re.fullmatch(r"v1\.(3[6-9]|[4-9]\d)\.\d+", server), server
    assert client == server
    helm = cluster.helm("version", "--short").stdout.strip()
    assert re.match(r"v(3\.2\d|4\.\d+)\.\d+", helm), helm
    # The linked binaries are the ones in use.
    assert (cluster.linked_bin / "kubectl").resolve() == (cluster.bin_dir / "kubectl").resolve()
