"""API paths of the objects the responder reads and writes."""

from __future__ import annotations


def pod_path(namespace: str, name: str = "") -> str:
    return f"/api/v1/namespaces/{namespace}/pods" + (f"/{name}" if name else "")


def policy_path(namespace: str, name: str = "") -> str:
    return f"/apis/networking.k8s.io/v1/namespaces/{namespace}/networkpolicies" + (
        f"/{name}" if name else ""
    )


def alert_path(namespace: str, name: str = "", *, status: bool = False) -> str:
    base = f"/apis/quarantine.io/v1alpha1/namespaces/{namespace}/alerts"
    if name:
        base += f"/{name}"
    return base + ("/status" if status else "")


def rule_path(name: str) -> str:
    return f"/apis/quarantine.io/v1alpha1/detectionrules/{name}"
