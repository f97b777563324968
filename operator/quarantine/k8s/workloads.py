"""The workload that owns a pod: its controller, and a ReplicaSet's Deployment above that."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from kubernetes import client

from quarantine.k8s.pod_index import OwnerRef, PodRecord
from quarantine.k8s.raw import ApiError, get_json

log = logging.getLogger(__name__)

# A ReplicaSet's owner practically never changes; a short cache keeps lookups off the hot path.
_CACHE_SECONDS = 300.0


@dataclass(frozen=True)
class Workload:
    api_version: str
    kind: str
    name: str

    def as_json(self) -> dict[str, str]:
        return {"apiVersion": self.api_version, "kind": self.kind, "name": self.name}


class WorkloadResolver:
    """Pod -> owning workload. ReplicaSets are followed up to their Deployment, if any."""

    def __init__(self, api_client: client.ApiClient) -> None:
        self._api = api_client
        self._lock = threading.Lock()
        self._replica_set_owners: dict[tuple[str, str], tuple[float, Workload]] = {}

    def workload_of(self, pod: PodRecord) -> Workload | None:
        owner = pod.controller
        if owner is None:
            return None
        if owner.kind == "ReplicaSet" and owner.api_version.startswith("apps/"):
            return self._replica_set_controller(pod.namespace, owner)
        return Workload(owner.api_version, owner.kind, owner.name)

    def _replica_set_controller(self, namespace: str, replica_set: OwnerRef) -> Workload:
        key = (namespace, replica_set.name)
        now = time.monotonic()
        with self._lock:
            cached = self._replica_set_owners.get(key)
        if cached and now - cached[0] < _CACHE_SECONDS:
            return cached[1]
        workload = Workload(replica_set.api_version, replica_set.kind, replica_set.name)
        try:
            body = get_json(
                self._api, f"/apis/apps/v1/namespaces/{namespace}/replicasets/{replica_set.name}"
            )
        except ApiError as error:
            # The ReplicaSet is still a true owner; report it rather than nothing.
            log.warning("cannot read ReplicaSet %s/%s: %s", namespace, replica_set.name, error)
            return workload
        for owner in (body.get("metadata") or {}).get("ownerReferences") or ():
            if owner.get("controller"):
                workload = Workload(
                    owner.get("apiVersion", ""), owner.get("kind", ""), owner["name"]
                )
                break
        with self._lock:
            self._replica_set_owners[key] = (now, workload)
        return workload
