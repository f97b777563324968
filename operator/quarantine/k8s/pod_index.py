"""An in-memory index of pods by container id and by name, fed by a pod watch.

Only what target resolution needs is kept (names, node, labels, owner, container ids), not
whole pod bodies, so a cluster-wide index stays small.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# Runtimes prefix the id in containerStatuses ("containerd://<64 hex>"); event sources mostly don't.
_RUNTIME_SEPARATOR = "://"
# Docker, Falco and others print the first 12 hex digits of an id.
SHORT_ID_LENGTH = 12


@dataclass(frozen=True)
class OwnerRef:
    api_version: str
    kind: str
    name: str


@dataclass(frozen=True)
class PodRecord:
    namespace: str
    name: str
    uid: str
    node: str | None
    labels: Mapping[str, str]
    controller: OwnerRef | None
    containers: Mapping[str, str]
    """Container id (no runtime prefix, lower case) -> container name."""


@dataclass(frozen=True)
class ContainerMatch:
    pod: PodRecord
    container_id: str
    """The full id, without runtime prefix."""
    container_name: str


def bare_container_id(container_id: str) -> str:
    """`containerd://ABC…` -> `abc…`: the id as event sources report it."""
    _, sep, rest = container_id.partition(_RUNTIME_SEPARATOR)
    return (rest if sep else container_id).strip().lower()


def pod_record(pod: Mapping[str, Any]) -> PodRecord:
    metadata = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    containers: dict[str, str] = {}
    for field in ("initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses"):
        for container in status.get(field) or ():
            name = container.get("name") or ""
            terminated = ((container.get("lastState") or {}).get("terminated")) or {}
            # The previous instance's id too: its events may arrive after a restart.
            for raw_id in (container.get("containerID"), terminated.get("containerID")):
                if raw_id:
                    containers[bare_container_id(raw_id)] = name
    controller = None
    for owner in metadata.get("ownerReferences") or ():
        if owner.get("controller"):
            controller = OwnerRef(owner.get("apiVersion", ""), owner.get("kind", ""), owner["name"])
            break
    return PodRecord(
        namespace=metadata.get("namespace", ""),
        name=metadata.get("name", ""),
        uid=metadata.get("uid", ""),
        node=spec.get("nodeName"),
        labels=dict(metadata.get("labels") or {}),
        controller=controller,
        containers=containers,
    )


class PodIndex:
    """Thread-safe: the watch thread writes, request handlers read."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pods: dict[tuple[str, str], PodRecord] = {}
        self._by_container: dict[str, tuple[str, str]] = {}
        self._by_short_id: dict[str, set[str]] = {}

    def __len__(self) -> int:
        with self._lock:
            return len(self._pods)

    def replace(self, pods: Iterable[Mapping[str, Any]]) -> None:
        records = [pod_record(pod) for pod in pods]
        with self._lock:
            self._pods.clear()
            self._by_container.clear()
            self._by_short_id.clear()
            for record in records:
                self._add(record)

    def apply(self, event_type: str, pod: Mapping[str, Any]) -> None:
        record = pod_record(pod)
        with self._lock:
            self._remove((record.namespace, record.name))
            if event_type != "DELETED":
                self._add(record)

    def by_name(self, namespace: str, name: str) -> PodRecord | None:
        with self._lock:
            return self._pods.get((namespace, name))

    def by_container_id(self, container_id: str) -> ContainerMatch | None:
        """The pod and container name for a full id, a runtime-prefixed id, or an id prefix of
        at least 12 characters."""
        wanted = bare_container_id(container_id)
        if len(wanted) < SHORT_ID_LENGTH:
            return None
        with self._lock:
            full_id = wanted if wanted in self._by_container else None
            if full_id is None:
                candidates = [
                    cid
                    for cid in self._by_short_id.get(wanted[:SHORT_ID_LENGTH], ())
                    if cid.startswith(wanted)
                ]
                # An ambiguous prefix names no container: better unresolved than the wrong pod.
                if len(candidates) != 1:
                    return None
                full_id = candidates[0]
            record = self._pods[self._by_container[full_id]]
            return ContainerMatch(record, full_id, record.containers[full_id])

    def _add(self, record: PodRecord) -> None:
        key = (record.namespace, record.name)
        self._pods[key] = record
        for container_id in record.containers:
            self._by_container[container_id] = key
            self._by_short_id.setdefault(container_id[:SHORT_ID_LENGTH], set()).add(container_id)

    def _remove(self, key: tuple[str, str]) -> None:
        old = self._pods.pop(key, None)
        if old is None:
            return
        for container_id in old.containers:
            if self._by_container.get(container_id) == key:
                del self._by_container[container_id]
            short = self._by_short_id.get(container_id[:SHORT_ID_LENGTH])
            if short is not None:
                short.discard(container_id)
                if not short:
                    del self._by_short_id[container_id[:SHORT_ID_LENGTH]]
