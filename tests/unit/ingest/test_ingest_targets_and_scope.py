"""Target resolution order and the rule scope verdicts."""

from __future__ import annotations

from ingest_helpers import kwok_container_id, pod

from quarantine.api import LabelSelector, LabelSelectorRequirement
from quarantine.detect import ScopeCheck, TargetHint
from quarantine.k8s.pod_index import PodIndex, PodRecord
from quarantine.k8s.scope import ScopeVerdict, scope_verdict
from quarantine.k8s.targets import ResolvedTarget, TargetResolver
from quarantine.k8s.workloads import Workload


class ControllerAsWorkload:
    """The resolver's workload lookup without the API hop (ReplicaSet -> Deployment is covered
    by the cluster test)."""

    def workload_of(self, record: PodRecord) -> Workload | None:
        owner = record.controller
        return Workload(owner.api_version, owner.kind, owner.name) if owner else None


def resolver() -> TargetResolver:
    index = PodIndex()
    owner = {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db", "controller": True}
    index.replace(
        [
            pod("db-0", namespace="data", owner=owner, node="node-2"),
            pod("web", containers=("a", "b")),
        ]
    )
    return TargetResolver(index, ControllerAsWorkload())


def test_container_id_wins_over_what_the_event_names() -> None:
    cid = kwok_container_id("uid-db-0", "app").removeprefix("containerd://")
    target = resolver().resolve(TargetHint(namespace="shop", pod="forged", container_id=cid))
    assert target.resolved
    assert (target.namespace, target.pod, target.container_name, target.node) == (
        "data",
        "db-0",
        "app",
        "node-2",
    )
    assert target.workload == Workload("apps/v1", "StatefulSet", "db")
    assert target.as_json()["workload"] == {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "name": "db",
    }


def test_namespace_and_pod_name_resolve_when_the_container_is_unknown() -> None:
    target = resolver().resolve(TargetHint(namespace="data", pod="db-0", container_id="f" * 64))
    assert target.resolved and target.node == "node-2"
    assert target.container_name == "app"  # the pod's only container
    assert target.container_id == "f" * 64
    two = resolver().resolve(TargetHint(namespace="shop", pod="web"))
    assert two.resolved and two.container_name is None  # two containers: no guess


def test_unknown_pod_keeps_what_the_event_said() -> None:
    target = resolver().resolve(
        TargetHint(namespace="gone", pod="p", container_id="C" * 64, container_name="x")
    )
    assert not target.resolved
    assert target.as_json() == {
        "namespace": "gone",
        "pod": "p",
        "containerId": "c" * 64,
        "containerName": "x",
    }


def target(namespace: str | None, labels: dict[str, str] | None) -> ResolvedTarget:
    return ResolvedTarget(namespace, "p", None, None, pod_labels=labels)


def test_scope_verdicts() -> None:
    prod = LabelSelector(match_labels={"env": "prod"})
    web = LabelSelector(
        match_expressions=[LabelSelectorRequirement(key="tier", operator="In", values=["web"])]
    )
    scope = ScopeCheck(namespaces=frozenset({"shop"}), namespace_selector=prod, pod_selector=web)
    env_prod = {"env": "prod"}
    assert scope_verdict(scope, target("shop", {"tier": "web"}), env_prod) is ScopeVerdict.IN
    assert scope_verdict(scope, target("other", {"tier": "web"}), env_prod) is ScopeVerdict.OUT
    assert scope_verdict(scope, target("shop", {"tier": "db"}), env_prod) is ScopeVerdict.OUT
    assert scope_verdict(scope, target("shop", {"tier": "web"}), {"env": "dev"}) is ScopeVerdict.OUT
    assert scope_verdict(scope, target("shop", None), env_prod) is ScopeVerdict.UNKNOWN
    assert scope_verdict(scope, target("shop", {"tier": "web"}), None) is ScopeVerdict.UNKNOWN
    assert scope_verdict(ScopeCheck(), target(None, None), None) is ScopeVerdict.IN
