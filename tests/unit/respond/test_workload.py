"""Owner resolution, what cannot be scaled, and self-heal warnings."""

from __future__ import annotations

from quarantine.respond.workload import (
    Workload,
    controller_of,
    self_heal_warnings,
    why_not_scalable,
    workload_path,
)


def owned_by(kind: str, api_version: str = "apps/v1", controller: bool = True) -> dict[str, object]:
    return {
        "ownerReferences": [
            {"apiVersion": "v1", "kind": "Node", "name": "n", "uid": "1"},
            {"apiVersion": api_version, "kind": kind, "name": "w", "controller": controller},
        ]
    }


def test_controller_is_the_owner_marked_controller() -> None:
    assert controller_of(owned_by("ReplicaSet")) == Workload("apps/v1", "ReplicaSet", "w")
    assert controller_of(owned_by("ReplicaSet", controller=False)) is None
    assert controller_of({}) is None


def test_scalable_kinds_have_scale_paths() -> None:
    assert workload_path(Workload("apps/v1", "Deployment", "web"), "shop") == (
        "/apis/apps/v1/namespaces/shop/deployments/web"
    )
    assert workload_path(Workload("apps/v1", "StatefulSet", "db"), "shop") == (
        "/apis/apps/v1/namespaces/shop/statefulsets/db"
    )
    assert workload_path(Workload("v1", "ReplicationController", "rc"), "shop") == (
        "/api/v1/namespaces/shop/replicationcontrollers/rc"
    )
    assert workload_path(Workload("apps/v1", "DaemonSet", "agent"), "shop") is None
    assert workload_path(Workload("batch/v1", "Job", "once"), "shop") is None


def test_unscalable_workloads_are_explained() -> None:
    assert "bare pod" in why_not_scalable(None)
    assert "DaemonSet" in why_not_scalable(Workload("apps/v1", "DaemonSet", "agent"))
    assert "Job" in why_not_scalable(Workload("batch/v1", "Job", "once"))
    assert "no scale subresource" in why_not_scalable(Workload("example.io/v1", "Thing", "t"))


def test_self_healing_tools_are_warned_about() -> None:
    metadata = {
        "labels": {"kustomize.toolkit.fluxcd.io/name": "apps"},
        "annotations": {"argocd.argoproj.io/tracking-id": "shop:apps/Deployment:shop/web"},
    }
    warnings = self_heal_warnings(metadata)
    assert any("Argo CD" in w for w in warnings)
    assert any("Flux" in w for w in warnings)
    assert not any("KEDA" in w for w in warnings)
    assert self_heal_warnings({"annotations": {"scaledobject.keda.sh/name": "web"}}) == [
        "KEDA may scale it back up"
    ]
    assert self_heal_warnings({"labels": {"app": "web"}}) == []
