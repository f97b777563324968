"""Builders shared by the ingest tests: pods as the API server (and kwok) report them, and
alerts as Elastic Security and Falcosidekick send them."""

from __future__ import annotations

import hashlib
from typing import Any


def kwok_container_id(uid: str, container: str) -> str:
    """What the project's kwok stage reports, as a kubelet would."""
    return "containerd://" + hashlib.sha256(f"{uid}/{container}".encode()).hexdigest()


def pod(
    name: str,
    *,
    namespace: str = "shop",
    uid: str | None = None,
    containers: tuple[str, ...] = ("app",),
    node: str = "node-1",
    owner: dict[str, Any] | None = None,
    extra_status: dict[str, Any] | None = None,
) -> dict[str, Any]:
    uid = uid or f"uid-{name}"
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "uid": uid,
        "labels": {"app": name},
    }
    if owner:
        metadata["ownerReferences"] = [owner]
    status: dict[str, Any] = {
        "containerStatuses": [
            {"name": c, "containerID": kwok_container_id(uid, c)} for c in containers
        ]
    }
    status.update(extra_status or {})
    return {"metadata": metadata, "spec": {"nodeName": node}, "status": status}


def elastic_alert(**overrides: Any) -> dict[str, Any]:
    """An alert document as Elastic Security keeps it: kibana.alert.* keys dotted, ECS nested."""
    document: dict[str, Any] = {
        "@timestamp": "2026-11-28T07:00:05.000Z",
        "kibana.alert.uuid": "7c1e3a0f9b1d4c2e8f6a5b4c3d2e1f00",
        "kibana.alert.rule.name": "Sensitive Files Compression Inside A Container",
        "kibana.alert.rule.rule_id": "475b42f0-61fb-4ef0-8a85-597458bfb0a1",
        "kibana.alert.severity": "medium",
        "kibana.alert.risk_score": 47,
        "kibana.alert.original_time": "2026-11-28T07:00:01.250Z",
        "orchestrator": {"namespace": "shop", "resource": {"name": "web-7d4b9", "type": "pod"}},
        "container": {"id": "a" * 64, "name": "web"},
        "process": {"name": "tar", "args": ["tar", "czf", "/tmp/k.tgz", "/root/.ssh/id_rsa"]},
    }
    document.update(overrides)
    return document


def falco_alert(**overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "uuid": "5d1ec2b0-0a4e-4b8b-9e0c-1f2a3b4c5d6e",
        "output": "Notice A shell was spawned in a container with an attached terminal",
        "priority": "Notice",
        "rule": "Terminal shell in container",
        "time": "2026-11-28T07:00:02.123456789Z",
        "output_fields": {
            "k8s.ns.name": "shop",
            "k8s.pod.name": "web-7d4b9",
            "container.id": "8645a7a530c3",
            "container.name": "web",
            "proc.name": "sh",
        },
        "source": "syscall",
        "tags": ["container", "shell"],
        "hostname": "node-1",
    }
    document.update(overrides)
    return document
