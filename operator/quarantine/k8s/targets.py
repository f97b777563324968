"""Resolving a detection's target hint (container id, or namespace + pod) to a cluster pod."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from quarantine.k8s.pod_index import PodIndex, PodRecord, bare_container_id
from quarantine.k8s.workloads import Workload


class TargetHint(Protocol):
    """What an event says about where it happened (`quarantine.detect.TargetHint`)."""

    @property
    def namespace(self) -> str | None: ...

    @property
    def pod(self) -> str | None: ...

    @property
    def container_id(self) -> str | None: ...

    @property
    def container_name(self) -> str | None: ...


class WorkloadLookup(Protocol):
    def workload_of(self, pod: PodRecord) -> Workload | None: ...


@dataclass(frozen=True)
class ResolvedTarget:
    namespace: str | None
    pod: str | None
    container_id: str | None
    container_name: str | None
    node: str | None = None
    workload: Workload | None = None
    pod_labels: Mapping[str, str] | None = field(default=None, compare=False)
    """The pod's labels when the pod was found; None when it was not."""

    @property
    def resolved(self) -> bool:
        return self.pod_labels is not None

    def as_json(self) -> dict[str, Any]:
        """The Alert's `spec.target`, leaving out what is not known."""
        body: dict[str, Any] = {
            "namespace": self.namespace,
            "pod": self.pod,
            "containerId": self.container_id,
            "containerName": self.container_name,
            "node": self.node,
        }
        if self.workload is not None:
            body["workload"] = self.workload.as_json()
        return {key: value for key, value in body.items() if value is not None}


class TargetResolver:
    def __init__(self, pods: PodIndex, workloads: WorkloadLookup) -> None:
        self._pods = pods
        self._workloads = workloads

    def resolve(self, hint: TargetHint) -> ResolvedTarget:
        """Container id first (the runtime's id cannot be forged into another namespace by a
        mislabelled event), then namespace + pod name; otherwise what the event said."""
        container_id = bare_container_id(hint.container_id) if hint.container_id else None
        if container_id:
            match = self._pods.by_container_id(container_id)
            if match is not None:
                return self._from_pod(match.pod, match.container_id, match.container_name)
        if hint.namespace and hint.pod:
            pod = self._pods.by_name(hint.namespace, hint.pod)
            if pod is not None:
                return self._from_pod(
                    pod, container_id, hint.container_name or _only_container(pod, container_id)
                )
        return ResolvedTarget(
            namespace=hint.namespace,
            pod=hint.pod,
            container_id=container_id,
            container_name=hint.container_name,
        )

    def _from_pod(
        self, pod: PodRecord, container_id: str | None, container_name: str | None
    ) -> ResolvedTarget:
        return ResolvedTarget(
            namespace=pod.namespace,
            pod=pod.name,
            container_id=container_id,
            container_name=container_name,
            node=pod.node,
            workload=self._workloads.workload_of(pod),
            pod_labels=pod.labels,
        )


def _only_container(pod: PodRecord, container_id: str | None) -> str | None:
    """The container name when the pod says which one it is without doubt."""
    if container_id and container_id in pod.containers:
        return pod.containers[container_id]
    names = set(pod.containers.values())
    return names.pop() if len(names) == 1 else None
