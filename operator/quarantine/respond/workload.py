"""Owning workloads (pure): which controller owns a pod, whether it can be scaled to zero, and
which tools may undo a scale-down behind our back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Workload:
    api_version: str
    kind: str
    name: str

    def describe(self) -> str:
        return f"{self.kind} {self.name}"

    def as_dict(self) -> dict[str, str]:
        return {"apiVersion": self.api_version, "kind": self.kind, "name": self.name}


# Kinds with a `scale` subresource, and their REST collection.
SCALABLE: Mapping[tuple[str, str], str] = {
    ("apps/v1", "Deployment"): "/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
    ("apps/v1", "StatefulSet"): "/apis/apps/v1/namespaces/{namespace}/statefulsets/{name}",
    ("apps/v1", "ReplicaSet"): "/apis/apps/v1/namespaces/{namespace}/replicasets/{name}",
    ("v1", "ReplicationController"): "/api/v1/namespaces/{namespace}/replicationcontrollers/{name}",
}

_WHY_NOT_SCALABLE: Mapping[str, str] = {
    "DaemonSet": "a DaemonSet runs one pod per node and has no replica count to scale",
    "Job": "a Job runs to completion and has no replica count to scale",
}

# Label/annotation key fragments of tools that reconcile replicas back.
_SELF_HEALERS: tuple[tuple[str, str], ...] = (
    ("keda.sh", "KEDA may scale it back up"),
    ("argocd.argoproj.io", "Argo CD self-heal may restore the replica count"),
    ("toolkit.fluxcd.io", "Flux may restore the replica count on its next reconciliation"),
)


def controller_of(metadata: Mapping[str, Any]) -> Workload | None:
    """The ownerReference marked controller, if any."""
    for ref in metadata.get("ownerReferences") or []:
        if ref.get("controller"):
            return Workload(str(ref["apiVersion"]), str(ref["kind"]), str(ref["name"]))
    return None


def workload_path(workload: Workload, namespace: str) -> str | None:
    """REST path of a scalable workload, or None when the kind has no scale subresource."""
    template = SCALABLE.get((workload.api_version, workload.kind))
    return template.format(namespace=namespace, name=workload.name) if template else None


def why_not_scalable(workload: Workload | None) -> str:
    """The reason, for the Alert, that no workload can be scaled down for this pod."""
    if workload is None:
        return "the pod has no owning controller (a bare pod)"
    return _WHY_NOT_SCALABLE.get(
        workload.kind, f"{workload.describe()} ({workload.api_version}) has no scale subresource"
    )


def self_heal_warnings(metadata: Mapping[str, Any]) -> list[str]:
    """Warnings for tools whose labels or annotations the workload carries."""
    keys = [*(metadata.get("labels") or {}), *(metadata.get("annotations") or {})]
    return [warning for fragment, warning in _SELF_HEALERS if any(fragment in key for key in keys)]
