"""The Helm chart on the real local control plane: lint, server-side dry run, install, helm test,
upgrade and uninstall. Pods go Running on kwok nodes without any container running, so what is
proven here is that the API server accepts everything the chart makes and that Helm's lifecycle
is clean, not that the image works (there is no Docker engine to build it).
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from helpers import REPO_ROOT, get_json, wait_for

from localcluster import LocalCluster

CHART = str(REPO_ROOT / "charts" / "quarantine")
WAIT = "180s"
# Kinds the chart creates in the release namespace; uninstall must leave none of them behind.
NAMESPACED_KINDS = (
    "deployments,daemonsets,replicasets,services,serviceaccounts,secrets,configmaps,"
    "networkpolicies,poddisruptionbudgets,roles,rolebindings,leases"
)
CLUSTER_KINDS = (
    "clusterroles,clusterrolebindings,validatingwebhookconfigurations,clusterkopfpeerings.kopf.dev"
)


def release_name(namespace: str) -> str:
    return f"q{namespace.removeprefix('t-')[:8]}"


def labelled(cluster: LocalCluster, kinds: str, release: str, namespace: str | None) -> list[str]:
    scope = ["-n", namespace] if namespace else []
    result = cluster.kubectl(
        "get",
        kinds,
        *scope,
        "-l",
        f"app.kubernetes.io/instance={release}",
        "-o",
        "name",
    )
    return result.stdout.split()


def token_of(cluster: LocalCluster, namespace: str, release: str) -> str:
    secret = get_json(cluster, "secret", f"{release}-quarantine-ingest-token", "-n", namespace)
    return base64.b64decode(secret["data"]["token"]).decode()


@pytest.fixture
def release(cluster: LocalCluster, namespace: str) -> Iterator[str]:
    """A release name for this test, uninstalled afterwards even when the test fails."""
    name = release_name(namespace)
    yield name
    cluster.helm("uninstall", name, "-n", namespace, "--wait", "--timeout", WAIT, check=False)


# No operator process answers the admission webhook on kwok. With the default failurePolicy Fail
# every DetectionRule write in the cluster would be refused while a test release is installed,
# breaking tests that share the cluster; Ignore with a short timeout keeps them working.
QUIET_WEBHOOK = ("webhook.failurePolicy=Ignore", "webhook.timeoutSeconds=1")


def install(cluster: LocalCluster, release: str, namespace: str, *sets: str) -> str:
    args = ["install", release, CHART, "-n", namespace, "--wait", "--timeout", WAIT]
    for item in (*QUIET_WEBHOOK, *sets):
        args += ["--set", item]
    result = cluster.helm(*args, check=False)
    if result.returncode != 0:
        describe = cluster.kubectl("describe", "pods", "-n", namespace, check=False).stdout
        pytest.fail(f"helm install failed: {result.stderr}\n--- pods ---\n{describe[-3000:]}")
    return result.stdout


def test_lint_is_clean(cluster: LocalCluster) -> None:
    for strict in ([], ["--strict"]):
        result = cluster.helm("lint", *strict, CHART, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "[WARNING]" not in result.stdout and "[ERROR]" not in result.stdout


def test_rendered_chart_passes_a_server_side_dry_run(
    cluster: LocalCluster, crds_installed: LocalCluster, namespace: str
) -> None:
    """crds_installed: `helm template` leaves out crds/, and two replicas make a peering object."""
    version = cluster.kubectl("version", "-o", "json").stdout
    server = json.loads(version)["serverVersion"]["gitVersion"]
    for sets in ([], ["--set", "operator.replicas=2", "--set", "matcher.enabled=false"]):
        rendered = cluster.helm(
            "template", "dry", CHART, "-n", namespace, "--kube-version", server, *sets
        ).stdout
        kinds = {doc["kind"] for doc in yaml.safe_load_all(rendered) if doc}
        assert {"Deployment", "NetworkPolicy", "PodDisruptionBudget"} <= kinds
        assert ("ClusterKopfPeering" in kinds) == ("operator.replicas=2" in sets)
        assert ("DaemonSet" in kinds) == ("matcher.enabled=false" not in sets)
        result = cluster.kubectl(
            "apply", "--dry-run=server", "-n", namespace, "-f", "-", input=rendered, check=False
        )
        assert result.returncode == 0, result.stderr
        assert "created (server dry run)" in result.stdout


def test_install_runs_everything_on_kwok_nodes(
    cluster: LocalCluster, namespace: str, release: str
) -> None:
    notes = install(cluster, release, namespace)
    matcher_url = f"http://{release}-quarantine-matcher.{namespace}.svc:8080"
    assert f"{matcher_url}/v1/events" in notes
    assert f"{matcher_url}/v1/alerts/elastic?rule=" in notes
    assert f"{matcher_url}/v1/alerts/falco?rule=" in notes
    assert "kubectl get alerts" in notes

    deployment = get_json(cluster, "deployment", f"{release}-quarantine-operator", "-n", namespace)
    assert deployment["status"].get("availableReplicas") == 1
    daemonset = get_json(cluster, "daemonset", f"{release}-quarantine-matcher", "-n", namespace)
    nodes = get_json(cluster, "nodes")["items"]
    assert daemonset["status"]["numberReady"] == len(nodes), "one matcher per node"

    pods = get_json(cluster, "pods", "-n", namespace, "-l", f"app.kubernetes.io/instance={release}")
    assert pods["items"], "the release made no pods"
    for pod in pods["items"]:
        assert pod["status"]["phase"] == "Running", pod["metadata"]["name"]
        assert pod["spec"]["securityContext"]["runAsNonRoot"] is True

    service = get_json(cluster, "service", f"{release}-quarantine-matcher", "-n", namespace)
    assert service["spec"]["internalTrafficPolicy"] == "Local"
    for kind, name in [
        ("networkpolicy", f"{release}-quarantine-operator"),
        ("networkpolicy", f"{release}-quarantine-matcher"),
        ("poddisruptionbudget", f"{release}-quarantine-operator"),
        ("serviceaccount", f"{release}-quarantine-operator"),
        ("serviceaccount", f"{release}-quarantine-matcher"),
    ]:
        cluster.kubectl("get", kind, name, "-n", namespace)
    assert len(token_of(cluster, namespace, release)) == 48


def test_helm_test_waits_for_the_check_pod(
    cluster: LocalCluster, namespace: str, release: str
) -> None:
    install(cluster, release, namespace)
    pod_name = f"{release}-quarantine-test-intake"
    outcome: dict[str, Any] = {}

    def run_helm_test() -> None:
        outcome["result"] = cluster.helm(
            "test", release, "-n", namespace, "--timeout", "120s", check=False
        )

    runner = threading.Thread(target=run_helm_test)
    runner.start()
    try:
        pod = wait_for(
            "the helm test pod to run",
            lambda: _running_pod(cluster, namespace, pod_name),
        )
        args = pod["spec"]["containers"][0]["args"]
        assert args[1] == f"http://{release}-quarantine-operator.{namespace}.svc:9090/metrics"
        assert "outcome" not in outcome, "helm test finished before its pod did"
        # No container runs on kwok: report the exit the kubelet would, as the check succeeding.
        cluster.kubectl(
            "patch",
            "pod",
            pod_name,
            "-n",
            namespace,
            "--subresource=status",
            "--type=merge",
            "-p",
            '{"status":{"phase":"Succeeded"}}',
        )
    finally:
        runner.join(timeout=150)
    result = outcome["result"]
    assert result.returncode == 0, result.stderr
    assert pod_name in result.stdout and "Phase:          Succeeded" in result.stdout


def _running_pod(cluster: LocalCluster, namespace: str, name: str) -> dict[str, Any] | None:
    result = cluster.kubectl("get", "pod", name, "-n", namespace, "-o", "json", check=False)
    if result.returncode != 0:
        return None
    pod: dict[str, Any] = json.loads(result.stdout)
    return pod if pod["status"].get("phase") == "Running" else None


def test_upgrade_keeps_the_token_and_applies_new_values(
    cluster: LocalCluster, namespace: str, release: str
) -> None:
    install(cluster, release, namespace)
    token = token_of(cluster, namespace, release)
    result = cluster.helm(
        "upgrade",
        release,
        CHART,
        "-n",
        namespace,
        "--reuse-values",
        "--set",
        "operator.replicas=2",
        "--set",
        "log.level=debug",
        "--set",
        "matcher.alertIntake.defaultRule=isolate-pod",
        "--set",
        "networkPolicy.metricsFrom[0].podSelector.matchLabels.app=prometheus",
        "--wait",
        "--timeout",
        WAIT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert token_of(cluster, namespace, release) == token, "an upgrade must not rotate the token"

    deployment = get_json(cluster, "deployment", f"{release}-quarantine-operator", "-n", namespace)
    assert deployment["status"].get("readyReplicas") == 2
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    peering = f"{release}-quarantine-{namespace}"
    assert "--verbose" in args and f"--peering={peering}" in args
    # The standby's peering object, from the chart's own kopf.dev CRD.
    peering_object = get_json(cluster, "clusterkopfpeering", peering)
    assert peering_object["metadata"]["labels"]["app.kubernetes.io/instance"] == release
    assert f"kubectl get clusterkopfpeering {peering} -o yaml" in result.stdout
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    daemonset = get_json(cluster, "daemonset", f"{release}-quarantine-matcher", "-n", namespace)
    matcher_args = daemonset["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--default-alert-rule=isolate-pod" in matcher_args
    assert 'Without ?rule=, "isolate-pod" does.' in result.stdout
    policy = get_json(cluster, "networkpolicy", f"{release}-quarantine-operator", "-n", namespace)
    metrics_rule = next(r for r in policy["spec"]["ingress"] if r["ports"][0]["port"] == "metrics")
    assert metrics_rule["from"] == [{"podSelector": {"matchLabels": {"app": "prometheus"}}}]
    history = cluster.helm("history", release, "-n", namespace, "-o", "json").stdout
    assert [entry["status"] for entry in json.loads(history)] == ["superseded", "deployed"]


def test_uninstall_leaves_only_the_crds(
    cluster: LocalCluster, namespace: str, release: str
) -> None:
    install(cluster, release, namespace, "operator.replicas=2")
    assert labelled(cluster, NAMESPACED_KINDS, release, namespace)
    assert labelled(cluster, "clusterkopfpeerings.kopf.dev", release, None)
    result = cluster.helm("uninstall", release, "-n", namespace, "--wait", "--timeout", WAIT)
    assert "uninstalled" in result.stdout
    assert labelled(cluster, NAMESPACED_KINDS, release, namespace) == []
    assert labelled(cluster, CLUSTER_KINDS, release, None) == []
    assert not [
        s
        for s in get_json(cluster, "secrets", "-n", namespace)["items"]
        if s["metadata"]["name"].startswith(release) or s["type"] == "helm.sh/release.v1"
    ]
    wait_for(
        "the release's pods to go",
        lambda: labelled(cluster, "pods", release, namespace) == [],
    )
    # Helm never deletes CRDs (they would take every DetectionRule and Alert with them).
    cluster.kubectl(
        "get",
        "crd",
        "detectionrules.quarantine.io",
        "alerts.quarantine.io",
        "clusterkopfpeerings.kopf.dev",
    )


def test_install_with_bad_values_is_refused_and_creates_nothing(
    cluster: LocalCluster, namespace: str, release: str
) -> None:
    result = cluster.helm(
        "install", release, CHART, "-n", namespace, "--set", "operator.replicas=7", check=False
    )
    assert result.returncode != 0
    assert "/operator/replicas" in result.stderr
    assert labelled(cluster, NAMESPACED_KINDS, release, namespace) == []
