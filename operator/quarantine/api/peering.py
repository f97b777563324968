"""kopf's ClusterKopfPeering CRD (group kopf.dev), which the operator's standby needs.

With `--peering NAME`, every operator replica writes a keep-alive record into the status of the
ClusterKopfPeering NAME and pauses while a live peer has a higher priority, so one replica acts
and the other waits. kopf does not install this CRD itself; Quarantine ships it beside its own.
Its shape is kopf's: cluster-scoped, `kopf.dev/v1`, no status subresource (kopf patches the
object itself, so a status subresource would route its writes elsewhere), and a status keyed by
peer identity.
"""

from __future__ import annotations

from typing import Any

PEERING_GROUP = "kopf.dev"
PEERING_VERSION = "v1"
PEERING_KIND = "ClusterKopfPeering"
PEERING_PLURAL = "clusterkopfpeerings"
PEERING_API_VERSION = f"{PEERING_GROUP}/{PEERING_VERSION}"
PEERING_CRD_NAME = f"{PEERING_PLURAL}.{PEERING_GROUP}"
PEERING_FILE_NAME = f"{PEERING_GROUP}_{PEERING_PLURAL}.yaml"

_PEER_RECORD: dict[str, Any] = {
    "description": "Keep-alive record of one operator replica, keyed by its identity (POD_ID).",
    "type": "object",
    "properties": {
        "priority": {
            "description": "The replica's priority: replicas pause while a live peer's is higher.",
            "type": "integer",
        },
        "lifetime": {
            "description": "Seconds after lastseen at which the record counts as dead.",
            "type": "integer",
        },
        "lastseen": {
            "description": "When the replica last renewed its record (ISO 8601).",
            "type": "string",
        },
    },
    # Later kopf versions may add fields; kopf reads records tolerantly, so keep them.
    "x-kubernetes-preserve-unknown-fields": True,
}


def render_peering_crd() -> dict[str, Any]:
    """The CustomResourceDefinition of kopf's cluster-wide peering objects."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": PEERING_CRD_NAME},
        "spec": {
            "group": PEERING_GROUP,
            "names": {
                "kind": PEERING_KIND,
                "listKind": f"{PEERING_KIND}List",
                "plural": PEERING_PLURAL,
                "singular": PEERING_KIND.lower(),
            },
            "scope": "Cluster",
            "versions": [
                {
                    "name": PEERING_VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "description": "A neighbourhood of kopf operators that elect one "
                            "active replica (kopf peering).",
                            "type": "object",
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "status": {
                                    "description": "One keep-alive record per replica.",
                                    "type": "object",
                                    "additionalProperties": _PEER_RECORD,
                                },
                            },
                        }
                    },
                }
            ],
        },
    }
