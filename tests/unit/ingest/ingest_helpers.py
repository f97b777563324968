"""Builders shared by the ingest tests: pods as the API server (and kwok) report them."""

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
