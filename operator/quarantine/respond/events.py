"""Kubernetes Events on the pod and the Alert, so `kubectl describe` tells the story."""

from __future__ import annotations

import logging
import secrets
import socket
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from quarantine.k8s.raw import ApiError, Kube

log = logging.getLogger(__name__)
COMPONENT = "quarantine-responder"
_INSTANCE = socket.gethostname()

EventType = Literal["Normal", "Warning"]


def object_reference(obj: Mapping[str, Any]) -> dict[str, str]:
    metadata = obj.get("metadata") or {}
    return {
        "apiVersion": str(obj.get("apiVersion", "")),
        "kind": str(obj.get("kind", "")),
        "name": str(metadata.get("name", "")),
        "namespace": str(metadata.get("namespace", "")),
        "uid": str(metadata.get("uid", "")),
    }


def post_event(
    kube: Kube, involved: Mapping[str, str], type_: EventType, reason: str, message: str
) -> None:
    """Create a core/v1 Event. A failure is logged, never raised: Events are a courtesy, the
    Alert status is the record."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    namespace = involved["namespace"]
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": f"{involved['name'][:200]}.{secrets.token_hex(8)}",
            "namespace": namespace,
        },
        "involvedObject": dict(involved),
        "type": type_,
        "reason": reason,
        "message": message[:1024],
        "source": {"component": COMPONENT},
        "reportingComponent": f"quarantine.io/{COMPONENT}",
        "reportingInstance": _INSTANCE,
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }
    try:
        kube.create(f"/api/v1/namespaces/{namespace}/events", event)
    except ApiError as error:
        log.warning("could not post Event %s on %s/%s: %s", reason, namespace, involved, error)
