"""The responder against the real local control plane, running as the chart's ServiceAccount.

The chart's RBAC (templates/rbac.yaml with the ServiceAccounts) is rendered with `helm template`
and applied; `quarantine operator` then runs as a subprocess with a TokenRequest token for that
ServiceAccount, so a missing RBAC rule fails these tests. Each test starts its own operator
(with the flags it needs), watching only the namespaces the test uses, and can SIGKILL it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from chart_identity import Identity, install_chart_identity, remove_chart_identity
from helpers import QUARANTINE, apply, free_port, get_json, wait_for

from localcluster import LocalCluster
from quarantine.respond.isolation import assess_isolation
from quarantine.respond.selectors import selector_matches

FINAL = ("Contained", "Partial", "DryRun", "Skipped", "Failed")


@pytest.fixture(scope="module")
def identity(
    cluster: LocalCluster, crds_installed: LocalCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Identity]:
    installed = install_chart_identity(cluster, tmp_path_factory.mktemp("identity"))
    yield installed.identity
    remove_chart_identity(cluster, installed)


def test_operator_identity_has_no_more_than_it_needs(
    cluster: LocalCluster, identity: Identity
) -> None:
    """The chart's RBAC, as the operator sees it: no secrets outside its namespace, no RBAC or
    webhook writes, no pod creation."""

    def can(*args: str) -> bool:
        result = cluster.kubectl(
            "auth",
            "can-i",
            *args,
            f"--as=system:serviceaccount:{identity.namespace}:{identity.service_account}",
            check=False,
        )
        return result.stdout.strip() == "yes"

    assert can("patch", "pods", "-n", "default")
    assert can("create", "networkpolicies", "-n", "default")
    assert can("patch", "deployments/scale", "-n", "default")
    assert can("get", "secrets", "-n", identity.namespace)
    assert not can("get", "secrets", "-n", "default")
    assert not can("create", "pods", "-n", "default")
    assert not can("update", "networkpolicies", "-n", "default")
    assert not can("create", "clusterroles")
    assert not can("create", "validatingwebhookconfigurations")


# --- the operator subprocess ----------------------------------------------------------------------


@dataclass
class RunningOperator:
    process: subprocess.Popen[str]
    log_file: Path
    metrics_port: int

    def log(self) -> str:
        return self.log_file.read_text()

    def kill(self) -> None:
        """SIGKILL: no cleanup handlers, no graceful anything."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def metric(self, name: str, **labels: str) -> float:
        text = httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text
        wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
        for line in text.splitlines():
            if line.startswith(f"{name}{{") or line.startswith(f"{name} "):
                metric, _, value = line.rpartition(" ")
                found = metric[len(name) :].strip("{}")
                if ",".join(sorted(found.split(","))) == wanted or (not labels and not found):
                    return float(value)
        return 0.0


@dataclass
class Operators:
    cluster: LocalCluster
    identity: Identity
    workdir: Path
    started: list[RunningOperator] = field(default_factory=list)
    watched: set[str] = field(default_factory=set)

    def start(
        self, *namespaces: str, flags: tuple[str, ...] = (), env: Mapping[str, str] | None = None
    ) -> RunningOperator:
        self.watched.update(namespaces)
        port = free_port()
        log_file = self.workdir / f"operator-{len(self.started)}.log"
        command = [
            str(QUARANTINE),
            "operator",
            f"--kubeconfig={self.identity.kubeconfig}",
            f"--namespace={self.identity.namespace}",
            "--admission=off",
            f"--metrics-port={port}",
            *(f"--watch-namespace={ns}" for ns in namespaces),
            *flags,
        ]
        with log_file.open("w") as log:
            process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
                env={**os.environ, **(env or {})},
            )
        running = RunningOperator(process, log_file, port)
        self.started.append(running)

        def ready() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"operator exited early:\n{running.log()}")
            return "Initial authentication has finished" in running.log()

        wait_for("the operator to start", ready)
        return running

    def stop_all(self) -> None:
        for running in self.started:
            running.stop()
            if os.environ.get("QUARANTINE_SHOW_OPERATOR_LOGS"):
                print(running.log(), file=sys.stderr)
        # Without an operator nobody removes our finalizer; let the namespaces go.
        for namespace in self.watched:
            names = self.cluster.kubectl(
                "get", "alerts", "-n", namespace, "-o", "name", check=False
            ).stdout.split()
            for name in names:
                self.cluster.kubectl(
                    "patch",
                    name,
                    "-n",
                    namespace,
                    "--type=merge",
                    "-p",
                    '{"metadata":{"finalizers":null}}',
                    check=False,
                )


@pytest.fixture
def operators(cluster: LocalCluster, identity: Identity, tmp_path: Path) -> Iterator[Operators]:
    running = Operators(cluster, identity, tmp_path)
    try:
        yield running
    finally:
        running.stop_all()


@pytest.fixture
def rules(cluster: LocalCluster, crds_installed: LocalCluster) -> Iterator[Callable[..., str]]:
    made: list[str] = []

    def make(actions: list[dict[str, Any]], mode: str = "Enforce") -> str:
        name = f"r-{uuid.uuid4().hex[:8]}"
        apply(
            cluster,
            {
                "apiVersion": "quarantine.io/v1alpha1",
                "kind": "DetectionRule",
                "metadata": {"name": name},
                "spec": {
                    "query": 'process where process.name == "tar"',
                    "ruleId": name,
                    "severity": "medium",
                    "riskScore": 47,
                    "response": {"mode": mode, "actions": actions},
                },
            },
        )
        made.append(name)
        return name

    yield make
    for name in made:
        cluster.kubectl("delete", "detectionrule", name, "--wait=false", check=False)


# --- workloads, alerts ----------------------------------------------------------------------------

CONTAINERS = [{"name": "app", "image": "registry.example/app:1"}]


def deployment(name: str, namespace: str, replicas: int, **annotations: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "annotations": annotations},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name, "tier": "web"}},
                "spec": {"containers": CONTAINERS},
            },
        },
    }


def bare_pod(name: str, namespace: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"containers": CONTAINERS},
    }


def running_pods(
    cluster: LocalCluster, namespace: str, selector: str, count: int
) -> list[dict[str, Any]]:
    def probe() -> list[dict[str, Any]] | None:
        items = get_json(cluster, "pods", "-n", namespace, "-l", selector)["items"]
        live = [
            p
            for p in items
            if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")
        ]
        return live if len(live) == count else None

    return wait_for(f"{count} running pods {selector} in {namespace}", probe)


def alert_manifest(namespace: str, rule: str, pod: str, name: str) -> dict[str, Any]:
    """An Alert as the matcher writes it, for `pod` and the DetectionRule `rule`."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "quarantine.io/v1alpha1",
        "kind": "Alert",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "rule": {"name": rule, "ruleId": rule, "severity": "medium", "riskScore": 47},
            "target": {"namespace": namespace, "pod": pod},
            "source": "matcher",
            "firstSeen": now,
            "lastSeen": now,
            "count": 1,
        },
    }


def create_alert(
    cluster: LocalCluster, namespace: str, rule: str, pod: str, name: str | None = None
) -> str:
    name = name or f"a-{uuid.uuid4().hex[:10]}"
    apply(cluster, alert_manifest(namespace, rule, pod, name))
    return name


def alert(cluster: LocalCluster, namespace: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = get_json(cluster, "alert", name, "-n", namespace)
    return found


def wait_phase(
    cluster: LocalCluster, namespace: str, name: str, phases: tuple[str, ...] = FINAL
) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        body = alert(cluster, namespace, name)
        return body if (body.get("status") or {}).get("phase") in phases else None

    return wait_for(f"Alert {namespace}/{name} in {phases}", probe)


def results(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(a["action"], a["result"]) for a in body["status"].get("actions") or []]


def policies(cluster: LocalCluster, namespace: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = get_json(cluster, "networkpolicies", "-n", namespace)["items"]
    return items


def pod(cluster: LocalCluster, namespace: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = get_json(cluster, "pod", name, "-n", namespace)
    return found


def pod_history(
    cluster: LocalCluster, namespace: str, name: str, *, since: str
) -> list[dict[str, Any]]:
    """The watch events of one pod after resourceVersion `since` (a deletion included)."""
    query = (
        f"watch=true&resourceVersion={since}&fieldSelector=metadata.name%3D{name}&timeoutSeconds=2"
    )
    raw = cluster.kubectl("get", "--raw", f"/api/v1/namespaces/{namespace}/pods?{query}")
    return [json.loads(line) for line in raw.stdout.splitlines() if line.strip()]


def events_about(cluster: LocalCluster, namespace: str, name: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = get_json(
        cluster, "events", "-n", namespace, "--field-selector", f"involvedObject.name={name}"
    )["items"]
    return items


def release(cluster: LocalCluster, namespace: str, name: str) -> dict[str, Any]:
    cluster.kubectl(
        "patch", "alert", name, "-n", namespace, "--type=merge", "-p", '{"spec":{"release":true}}'
    )
    return wait_phase(cluster, namespace, name, ("Released",))


# Lets anything reach pods of tier web: it would defeat a deny-all on such a pod.
ALLOW_WEB = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {"name": "allow-web"},
    "spec": {"podSelector": {"matchLabels": {"tier": "web"}}, "ingress": [{}]},
}


def in_namespace(obj: dict[str, Any], namespace: str) -> dict[str, Any]:
    return {**obj, "metadata": {**obj["metadata"], "namespace": namespace}}


# --- 2. isolate -----------------------------------------------------------------------------------


def test_isolate_detaches_from_an_allowing_policy_and_release_restores(
    cluster: LocalCluster, namespace: str, operators: Operators, rules: Callable[..., str]
) -> None:
    allow_app = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "allow-web", "namespace": namespace},
        "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [{}]},
    }
    apply(cluster, deployment("web", namespace, 1), allow_app)
    (target,) = running_pods(cluster, namespace, "app=web", 1)
    target_name = target["metadata"]["name"]
    rule = rules([{"isolate": {"allowDNS": True, "allowEgressCIDRs": ["10.99.0.0/24"]}}])
    running = operators.start(namespace)
    name = create_alert(cluster, namespace, rule, target_name)

    body = wait_phase(cluster, namespace, name)
    assert body["status"]["phase"] == "Contained", body["status"]
    assert results(body) == [("isolate", "Succeeded")]

    quarantined = pod(cluster, namespace, target_name)
    labels = quarantined["metadata"]["labels"]
    label_key = f"isolated.quarantine.io/{name}"
    assert labels[label_key] == "true"
    assert labels["quarantine.io/isolated"] == "true"
    # The allowing policy selects on app, which the ReplicaSet selects on too: both let go.
    assert "app" not in labels and labels["tier"] == "web"
    detached = json.loads(quarantined["metadata"]["annotations"]["quarantine.io/detached-labels"])
    assert detached == {"app": "web"}

    (deny,) = [p for p in policies(cluster, namespace) if p["metadata"]["name"] != "allow-web"]
    assert deny["metadata"]["name"] == f"quarantine-{name}"
    assert deny["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in deny["spec"]
    egress_ports = [r.get("ports") for r in deny["spec"]["egress"]]
    assert [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}] in egress_ports
    assert {"to": [{"ipBlock": {"cidr": "10.99.0.0/24"}}]} in deny["spec"]["egress"]
    (owner,) = deny["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"]) == ("Alert", name, body["metadata"]["uid"])
    # The deny-all selects exactly the quarantined pod, and no other policy lets traffic through.
    all_pods = get_json(cluster, "pods", "-n", namespace)["items"]
    selected = [
        p["metadata"]["name"]
        for p in all_pods
        if selector_matches(deny["spec"]["podSelector"], p["metadata"].get("labels") or {})
    ]
    assert selected == [target_name]
    assert assess_isolation(labels, policies(cluster, namespace)).isolated

    # The ReplicaSet let go of the pod and started a clean replacement.
    replacements = running_pods(cluster, namespace, "app=web", 1)
    assert replacements[0]["metadata"]["name"] != target_name

    reasons = {
        (e["involvedObject"]["kind"], e["reason"])
        for e in events_about(cluster, namespace, target_name)
    }
    assert ("Pod", "Contained") in reasons
    assert ("Alert", "Contained") in {
        (e["involvedObject"]["kind"], e["reason"]) for e in events_about(cluster, namespace, name)
    }
    assert running.metric("quarantine_alerts_handled_total", phase="Contained") == 1
    assert running.metric("quarantine_actions_total", action="isolate", result="Succeeded") == 1
    assert (
        running.metric("quarantine_containment_latency_seconds_count", since="alert_created") == 1
    )

    before_release = pod(cluster, namespace, target_name)["metadata"]["resourceVersion"]
    released = release(cluster, namespace, name)
    assert released["status"]["releasedAt"]
    # Restored, the pod rejoins its ReplicaSet, which then has a pod too many and may remove
    # either one at once: read what release made of the pod from the pod's own history.
    history = pod_history(cluster, namespace, target_name, since=before_release)
    assert history, "release changed nothing on the pod"
    restored = history[-1]["object"]["metadata"]
    assert restored["labels"].get("app") == "web"
    assert label_key not in restored["labels"]
    assert "quarantine.io/isolated" not in restored["labels"]
    assert "quarantine.io/detached-labels" not in (restored.get("annotations") or {})
    assert [p["metadata"]["name"] for p in policies(cluster, namespace)] == ["allow-web"]
    # Release is idempotent: deleting the released Alert finds nothing left and goes away.
    cluster.kubectl("delete", "alert", name, "-n", namespace, "--timeout=30s")


def test_isolate_report_mode_leaves_labels_and_says_partial(
    cluster: LocalCluster, namespace: str, operators: Operators, rules: Callable[..., str]
) -> None:
    allow_all = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "allow-everything", "namespace": namespace},
        "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{}]},
    }
    apply(
        cluster,
        bare_pod("victim", namespace, app="victim", tier="web"),
        in_namespace(ALLOW_WEB, namespace),
        allow_all,
    )
    running_pods(cluster, namespace, "app=victim", 1)
    rule = rules([{"isolate": {"whenBypassed": "Report"}}])
    operators.start(namespace)
    name = create_alert(cluster, namespace, rule, "victim")

    body = wait_phase(cluster, namespace, name)
    assert body["status"]["phase"] == "Partial"
    (action,) = body["status"]["actions"]
    assert action["result"] == "Partial"
    assert action["details"]["bypassingPolicies"] == ["allow-everything", "allow-web"]
    assert "allow-everything allows Egress" in action["message"]
    labels = pod(cluster, namespace, "victim")["metadata"]["labels"]
    assert labels["tier"] == "web" and labels["app"] == "victim"
    assert f"quarantine-{name}" in [p["metadata"]["name"] for p in policies(cluster, namespace)]


def test_detach_cannot_escape_a_namespace_wide_policy(
    cluster: LocalCluster, namespace: str, operators: Operators, rules: Callable[..., str]
) -> None:
    allow_all = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "allow-all-ingress", "namespace": namespace},
        "spec": {"podSelector": {}, "ingress": [{}]},
    }
    apply(cluster, bare_pod("victim", namespace, app="victim"), allow_all)
    running_pods(cluster, namespace, "app=victim", 1)
    rule = rules([{"isolate": {}}])
    operators.start(namespace)
    body = wait_phase(cluster, namespace, create_alert(cluster, namespace, rule, "victim"))
    assert body["status"]["phase"] == "Partial"
    assert body["status"]["actions"][0]["details"]["bypassingPolicies"] == ["allow-all-ingress"]


def test_two_alerts_on_one_pod_isolate_and_release_independently(
    cluster: LocalCluster, namespace: str, operators: Operators, rules: Callable[..., str]
) -> None:
    apply(
        cluster,
        bare_pod("victim", namespace, app="victim", tier="web"),
        in_namespace(ALLOW_WEB, namespace),
    )
    running_pods(cluster, namespace, "app=victim", 1)
    rule = rules([{"isolate": {}}])
    operators.start(namespace, flags=("--pod-cooldown=0",))
    first = create_alert(cluster, namespace, rule, "victim")
    second = create_alert(cluster, namespace, rule, "victim")
    assert wait_phase(cluster, namespace, first)["status"]["phase"] == "Contained"
    assert wait_phase(cluster, namespace, second)["status"]["phase"] == "Contained"
    names = {p["metadata"]["name"] for p in policies(cluster, namespace)}
    assert names == {"allow-web", f"quarantine-{first}", f"quarantine-{second}"}

    release(cluster, namespace, first)
    labels = pod(cluster, namespace, "victim")["metadata"]["labels"]
    assert f"isolated.quarantine.io/{first}" not in labels
    assert labels[f"isolated.quarantine.io/{second}"] == "true"
    assert labels["quarantine.io/isolated"] == "true"
    assert "tier" not in labels  # still detached: the second Alert still isolates the pod
    assert assess_isolation(labels, policies(cluster, namespace)).isolated
    assert f"quarantine-{first}" not in {
        p["metadata"]["name"] for p in policies(cluster, namespace)
    }

    release(cluster, namespace, second)
    labels = pod(cluster, namespace, "victim")["metadata"]["labels"]
    assert labels == {"app": "victim", "tier": "web"}
    assert {p["metadata"]["name"] for p in policies(cluster, namespace)} == {"allow-web"}


# --- 3. scaleDown ---------------------------------------------------------------------------------


def test_scale_down_deployment_then_delete_alert_restores_replicas(
    cluster: LocalCluster, namespace: str, operators: Operators, rules: Callable[..., str]
) -> None:
    apply(
        cluster,
        deployment("shop", namespace, 3, **{"argocd.argoproj.io/tracking-id": "shop:apps/x"}),
    )
    pods = running_pods(cluster, namespace, "app=shop", 3)
    rule = rules([{"scaleDown": {}}])
    operators.start(namespace)
    name = create_alert(cluster, namespace, rule, pods[0]["metadata"]["name"])

    body = wait_phase(cluster, namespace, name)
    assert body["status"]["phase"] == "Contained"
    (action,) = body["status"]["actions"]
    assert action["details"]["workload"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "shop",
    }
    assert action["details"]["originalReplicas"] == 3
    assert "Argo CD" in action["message"]
    (undo,) = body["status"]["undo"]["steps"]
    assert undo["replicas"] == 3
    workload = get_json(cluster, "deployment", "shop", "-n", namespace)
    assert workload["spec"]["replicas"] == 0
    assert workload["metadata"]["annotations"]["quarantine.io/original-replicas"] == "3"

    cluster.kubectl("delete", "alert", name, "-n", namespace, "--timeout=30s")
    workload = get_json(cluster, "deployment", "shop", "-n", namespace)
    assert workload["spec"]["replicas"] == 3
    assert "quarantine.io/scaled-down-by" not in workload["metadata"]["annotations"]
    assert cluster.kubectl("get", "alert", name, "-n", namespace, check=False).returncode != 0


def test_scale_down_statefulset(
    cluster: LocalCluster, namespace: str, operators: Operators, rules: Callable[..., str]
) -> None:
    apply(
        cluster,
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "db", "namespace": namespace},
            "spec": {
                "replicas": 2,
                "serviceName": "db",
                "selector": {"matchLabels": {"app": "db"}},
                "template": {
                    "metadata": {"labels": {"app": "db"}},
                    "spec": {"containers": CONTAINERS},
                },
            },
        },
    )
    running_pods(cluster, namespace, "app=db", 2)
    rule = rules([{"scaleDown": {}}])
    operators.start(namespace)
    name = create_alert(cluster, namespace, rule, "db-0")
    assert wait_phase(cluster, namespace, name)["status"]["phase"] == "Contained"
    assert get_json(cluster, "statefulset", "db", "-n", namespace)["spec"]["replicas"] == 0
    release(cluster, namespace, name)
    assert get_json(cluster, "statefulset", "db", "-n", namespace)["spec"]["replicas"] == 2


def test_scale_down_fallbacks_say_what_was_done_instead(
    cluster: LocalCluster, namespace: str, operators: Operators, rules: Callable[..., str]
) -> None:
    apply(
        cluster,
        bare_pod("lonely", namespace, app="lonely"),
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "agent", "namespace": namespace},
            "spec": {
                "selector": {"matchLabels": {"app": "agent"}},
                "template": {
                    "metadata": {"labels": {"app": "agent"}},
                    "spec": {"containers": CONTAINERS},
                },
            },
        },
    )
    running_pods(cluster, namespace, "app=lonely", 1)
    agent = wait_for(
        "a DaemonSet pod",
        lambda: get_json(cluster, "pods", "-n", namespace, "-l", "app=agent")["items"],
    )[0]
    skip_rule = rules([{"scaleDown": {"fallback": "Skip"}}])
    isolate_rule = rules([{"scaleDown": {"fallback": "Isolate"}}])
    operators.start(namespace)
    bare = create_alert(cluster, namespace, skip_rule, "lonely")
    daemon = create_alert(cluster, namespace, isolate_rule, agent["metadata"]["name"])

    skipped = wait_phase(cluster, namespace, bare)
    assert skipped["status"]["phase"] == "Skipped"
    assert results(skipped) == [("scaleDown", "Skipped")]
    assert "bare pod" in skipped["status"]["actions"][0]["message"]

    isolated = wait_phase(cluster, namespace, daemon)
    assert isolated["status"]["phase"] == "Contained"
    (action,) = isolated["status"]["actions"]
    assert action["result"] == "Succeeded"
    assert "DaemonSet" in action["message"] and "fallback Isolate" in action["message"]
    assert f"quarantine-{daemon}" in {p["metadata"]["name"] for p in policies(cluster, namespace)}
    release(cluster, namespace, daemon)
    assert f"quarantine-{daemon}" not in {
        p["metadata"]["name"] for p in policies(cluster, namespace)
    }


# --- 4. label / annotate / deletePod / notify -----------------------------------------------------


class Receiver:
    """A webhook receiver on loopback. `hold` blocks answers until released; `status` is the
    answer."""

    def __init__(self) -> None:
        self.bodies: list[Any] = []
        self.status = 200
        self.secret = ""
        self.hold = threading.Event()
        self.hold.set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                receiver.hold.wait(timeout=30)
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.hold.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(cluster: LocalCluster, identity: Identity) -> Iterator[Receiver]:
    running = Receiver()
    secret = f"hook-{uuid.uuid4().hex[:6]}"
    cluster.kubectl(
        "create",
        "secret",
        "generic",
        secret,
        "-n",
        identity.namespace,
        f"--from-literal=url={running.url}",
    )
    running.secret = secret
    yield running
    running.close()
    cluster.kubectl("delete", "secret", secret, "-n", identity.namespace, check=False)


def test_label_annotate_and_notify_after_containment(
    cluster: LocalCluster,
    namespace: str,
    operators: Operators,
    rules: Callable[..., str],
    receiver: Receiver,
) -> None:
    apply(cluster, bare_pod("victim", namespace, app="victim", team="pay"))
    running_pods(cluster, namespace, "app=victim", 1)
    secret = receiver.secret
    rule = rules(
        [
            {"notify": {"secretRef": {"name": secret}}},  # listed first, still sent last
            {"label": {"labels": {"team": "quarantined", "security.example/case": "yes"}}},
            {"annotate": {"annotations": {"security.example/note": "under investigation"}}},
        ]
    )
    operators.start(namespace, flags=("--notify-timeout=30",))
    receiver.hold.clear()  # the receiver hangs: containment must not wait for it
    name = create_alert(cluster, namespace, rule, "victim")

    body = wait_phase(cluster, namespace, name)
    assert body["status"]["phase"] == "Contained"
    assert results(body) == [("label", "Succeeded"), ("annotate", "Succeeded")]
    metadata = pod(cluster, namespace, "victim")["metadata"]
    assert metadata["labels"]["team"] == "quarantined"
    assert metadata["annotations"]["security.example/note"] == "under investigation"
    wait_for("the notification to arrive", lambda: receiver.bodies)
    receiver.hold.set()

    def notified() -> dict[str, Any] | None:
        rows = alert(cluster, namespace, name)["status"]["actions"]
        return next((r for r in rows if r["action"] == "notify"), None)

    record = wait_for("the notify record", notified)
    assert record["result"] == "Succeeded"
    assert record["details"]["step"] == 0
    (sent,) = receiver.bodies
    assert sent["alert"]["name"] == name and sent["phase"] == "Contained"
    assert [a["action"] for a in sent["actions"]] == ["label", "annotate"]

    release(cluster, namespace, name)
    metadata = pod(cluster, namespace, "victim")["metadata"]
    assert metadata["labels"]["team"] == "pay"
    assert "security.example/case" not in metadata["labels"]
    assert "security.example/note" not in (metadata.get("annotations") or {})


def test_failed_notification_is_recorded_and_containment_stands(
    cluster: LocalCluster,
    namespace: str,
    operators: Operators,
    rules: Callable[..., str],
    receiver: Receiver,
) -> None:
    apply(cluster, bare_pod("victim", namespace, app="victim"))
    running_pods(cluster, namespace, "app=victim", 1)
    receiver.status = 500
    rule = rules(
        [
            {"isolate": {}},
            {"notify": {"secretRef": {"name": receiver.secret}, "format": "slack"}},
        ]
    )
    operators.start(namespace, flags=("--notify-attempts=2",))
    name = create_alert(cluster, namespace, rule, "victim")
    assert wait_phase(cluster, namespace, name)["status"]["phase"] == "Contained"

    def notified() -> dict[str, Any] | None:
        rows = alert(cluster, namespace, name)["status"]["actions"]
        return next((r for r in rows if r["action"] == "notify"), None)

    record = wait_for("the notify record", notified)
    assert record["result"] == "Failed"
    assert "HTTP 500" in record["message"] and record["details"]["attempts"] == 2
    assert len(receiver.bodies) == 2 and list(receiver.bodies[0]) == ["text"]
    assert alert(cluster, namespace, name)["status"]["phase"] == "Contained"
    assert "NotifyFailed" in {e["reason"] for e in events_about(cluster, namespace, name)}


def test_delete_pod(
    cluster: LocalCluster, namespace: str, operators: Operators, rules: Callable[..., str]
) -> None:
    apply(cluster, bare_pod("victim", namespace, app="victim"))
    running_pods(cluster, namespace, "app=victim", 1)
    rule = rules([{"deletePod": {"gracePeriodSeconds": 0}}])
    operators.start(namespace)
    name = create_alert(cluster, namespace, rule, "victim")
    body = wait_phase(cluster, namespace, name)
    assert results(body) == [("deletePod", "Succeeded")]
    wait_for(
        "the pod to go",
        lambda: (
            cluster.kubectl("get", "pod", "victim", "-n", namespace, check=False).returncode != 0
        ),
    )
    released = release(cluster, namespace, name)
    assert "cannot be brought back" in released["status"]["message"]


# --- 6. DryRun ------------------------------------------------------------------------------------


def test_dry_run_changes_nothing_but_records_counts_and_notifies(
    cluster: LocalCluster,
    namespace: str,
    operators: Operators,
    rules: Callable[..., str],
    receiver: Receiver,
) -> None:
    apply(cluster, deployment("web", namespace, 2), in_namespace(ALLOW_WEB, namespace))
    pods = running_pods(cluster, namespace, "app=web", 2)
    target = pods[0]["metadata"]["name"]
    rule = rules(
        [
            {"isolate": {}},
            {"scaleDown": {}},
            {"label": {"labels": {"x": "y"}}},
            {"notify": {"secretRef": {"name": receiver.secret}}},
        ],
        mode="DryRun",
    )
    running = operators.start(namespace)
    name = create_alert(cluster, namespace, rule, target)

    body = wait_phase(cluster, namespace, name)
    assert body["status"]["phase"] == "DryRun"
    assert results(body)[:3] == [
        ("isolate", "DryRun"),
        ("scaleDown", "DryRun"),
        ("label", "DryRun"),
    ]
    isolate, scale, _ = body["status"]["actions"][:3]
    planned = isolate["details"]["plannedNetworkPolicy"]
    assert planned["metadata"]["name"] == f"quarantine-{name}"
    assert planned["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert isolate["details"]["detachedLabels"] == {"tier": "web"}
    assert "would scale Deployment web from 2 to 0" in scale["message"]
    # Nothing changed.
    assert [p["metadata"]["name"] for p in policies(cluster, namespace)] == ["allow-web"]
    assert pod(cluster, namespace, target)["metadata"]["labels"]["app"] == "web"
    assert "x" not in pod(cluster, namespace, target)["metadata"]["labels"]
    assert get_json(cluster, "deployment", "web", "-n", namespace)["spec"]["replicas"] == 2
    # Recorded, counted, announced, notified.
    wait_for("the notification", lambda: receiver.bodies)
    assert receiver.bodies[0]["dryRun"] is True
    assert running.metric("quarantine_actions_total", action="isolate", result="DryRun") == 1
    assert running.metric("quarantine_alerts_handled_total", phase="DryRun") == 1
    assert "DryRun" in {e["reason"] for e in events_about(cluster, namespace, name)}


# --- 7. safety ------------------------------------------------------------------------------------


def test_protected_namespaces_are_never_acted_on(
    cluster: LocalCluster, identity: Identity, operators: Operators, rules: Callable[..., str]
) -> None:
    rule = rules([{"isolate": {}}])
    apply(cluster, bare_pod("quarantine-itself", identity.namespace, app="q"))
    running_pods(cluster, identity.namespace, "app=q", 1)
    operators.start("kube-public", identity.namespace)
    system = create_alert(cluster, "kube-public", rule, "anything")
    own = create_alert(cluster, identity.namespace, rule, "quarantine-itself")
    try:
        for namespace, name in (("kube-public", system), (identity.namespace, own)):
            body = wait_phase(cluster, namespace, name)
            assert body["status"]["phase"] == "Skipped"
            assert body["status"]["actions"][0]["message"] == f"namespace {namespace} is protected"
        assert not policies(cluster, identity.namespace)
    finally:
        cluster.kubectl("delete", "alert", system, "-n", "kube-public", "--wait=false", check=False)


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("namespace", "namespace {ns} is labelled quarantine.io/protected=true"),
        ("pod", "the pod is labelled quarantine.io/protected=true"),
        ("self", "the pod is one of Quarantine's own pods"),
    ],
)
def test_opt_out_and_own_pods_are_skipped(
    cluster: LocalCluster,
    namespace: str,
    operators: Operators,
    rules: Callable[..., str],
    where: str,
    expected: str,
) -> None:
    labels = {"app": "victim"}
    if where == "namespace":
        cluster.kubectl("label", "namespace", namespace, "quarantine.io/protected=true")
    elif where == "pod":
        labels["quarantine.io/protected"] = "true"
    else:
        labels["app.kubernetes.io/name"] = "quarantine"
    apply(cluster, bare_pod("victim", namespace, **labels))
    running_pods(cluster, namespace, "app=victim", 1)
    rule = rules([{"isolate": {}}, {"deletePod": {}}])
    operators.start(namespace)
    body = wait_phase(cluster, namespace, create_alert(cluster, namespace, rule, "victim"))
    assert body["status"]["phase"] == "Skipped"
    message = expected.format(ns=namespace)
    assert [a["message"] for a in body["status"]["actions"]] == [message, message]
    assert pod(cluster, namespace, "victim")["metadata"]["labels"] == labels
    assert not policies(cluster, namespace)


def test_blast_radius_limits_and_pod_cooldown(
    cluster: LocalCluster, namespace: str, operators: Operators, rules: Callable[..., str]
) -> None:
    apply(cluster, *(bare_pod(f"p{i}", namespace, app="fleet") for i in range(4)))
    running_pods(cluster, namespace, "app=fleet", 4)
    first_rule, second_rule = rules([{"isolate": {}}]), rules([{"isolate": {}}])
    operators.start(
        namespace,
        flags=("--max-containments-per-rule=2", "--max-containments=3", "--pod-cooldown=10m"),
    )

    def handled(rule: str, pod_name: str) -> dict[str, Any]:
        return wait_phase(cluster, namespace, create_alert(cluster, namespace, rule, pod_name))

    assert handled(first_rule, "p0")["status"]["phase"] == "Contained"
    cooled = handled(second_rule, "p0")
    assert cooled["status"]["phase"] == "Skipped"
    assert "per-pod cooldown" in cooled["status"]["actions"][0]["message"]
    assert handled(first_rule, "p1")["status"]["phase"] == "Contained"
    per_rule = handled(first_rule, "p2")
    assert per_rule["status"]["phase"] == "Skipped"
    assert f"rule {first_rule} already made 2 containments" in per_rule["status"]["message"]
    assert per_rule["status"]["actions"][0]["result"] == "Skipped"
    assert handled(second_rule, "p2")["status"]["phase"] == "Contained"
    overall = handled(second_rule, "p3")
    assert overall["status"]["phase"] == "Skipped"
    assert "3 containments in the last 0:10:00 across all rules" in overall["status"]["message"]
    # Skipped Alerts are still recorded; only 3 pods got a policy.
    assert len(policies(cluster, namespace)) == 3


# --- 8. exactly once across restarts --------------------------------------------------------------


def test_playbook_runs_after_a_restart_when_the_operator_was_killed_before_it(
    cluster: LocalCluster, namespace: str, operators: Operators, rules: Callable[..., str]
) -> None:
    apply(cluster, bare_pod("victim", namespace, app="victim"))
    running_pods(cluster, namespace, "app=victim", 1)
    rule = rules([{"isolate": {}}, {"label": {"labels": {"case": "1"}}}])
    operators.start(namespace).kill()
    name = create_alert(cluster, namespace, rule, "victim")
    time.sleep(1)
    assert "status" not in alert(cluster, namespace, name)
    operators.start(namespace)
    body = wait_phase(cluster, namespace, name)
    assert results(body) == [("isolate", "Succeeded"), ("label", "Succeeded")]
    assert len(policies(cluster, namespace)) == 1


def test_sigkill_during_playbooks_completes_each_exactly_once(
    cluster: LocalCluster, namespace: str, operators: Operators, rules: Callable[..., str]
) -> None:
    count = 40
    apply(
        cluster,
        *(bare_pod(f"p{i}", namespace, app="fleet", tier="web") for i in range(count)),
        in_namespace(ALLOW_WEB, namespace),
    )
    running_pods(cluster, namespace, "app=fleet", count)
    rule = rules(
        [
            {"label": {"labels": {"case": "open"}}},
            {"isolate": {}},
            {"annotate": {"annotations": {"case": "open"}}},
        ]
    )
    first = operators.start(
        namespace,
        flags=(
            "--pod-cooldown=0",
            "--max-containments=0",
            "--max-containments-per-rule=0",
            "--workers=1",
        ),
    )
    names = [f"a-{i}-{uuid.uuid4().hex[:6]}" for i in range(count)]
    # One request for all of them, so the operator cannot keep pace with the creation.
    apply(
        cluster,
        *(alert_manifest(namespace, rule, f"p{i}", name) for i, name in enumerate(names)),
    )

    def some_progress() -> bool:
        items = get_json(cluster, "alerts", "-n", namespace)["items"]
        return any((a.get("status") or {}).get("actions") for a in items)

    wait_for("the first playbook steps", some_progress)
    first.kill()
    interrupted = [
        a
        for a in get_json(cluster, "alerts", "-n", namespace)["items"]
        if (a.get("status") or {}).get("phase") not in FINAL
    ]
    assert interrupted, "the kill came too late to interrupt any playbook"

    operators.start(
        namespace,
        flags=("--pod-cooldown=0", "--max-containments=0", "--max-containments-per-rule=0"),
    )
    for name in names:
        body = wait_phase(cluster, namespace, name)
        assert body["status"]["phase"] == "Contained", body["status"]
        steps = [a["details"]["step"] for a in body["status"]["actions"]]
        assert steps == [0, 1, 2], (name, body["status"]["actions"])
    ours = [p for p in policies(cluster, namespace) if p["metadata"]["name"] != "allow-web"]
    assert sorted(p["metadata"]["name"] for p in ours) == sorted(f"quarantine-{n}" for n in names)
    for i in range(count):
        labels = pod(cluster, namespace, f"p{i}")["metadata"]["labels"]
        assert labels["case"] == "open" and "tier" not in labels
