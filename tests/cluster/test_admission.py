"""Admission on the real API server: `quarantine operator --admission=local` registers its webhooks
on 127.0.0.1; bad DetectionRules are refused at `kubectl apply`, and only Quarantine may undo a
containment. The operator runs as the admin user, so "Quarantine's identity" is admin here and
a tamperer is impersonated (`--as=mallory --as-group=system:masters`: admission applies to
cluster admins too)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import QUARANTINE, REPO_ROOT, unique, wait_for

from localcluster import LocalCluster
from quarantine.admission.webhooks import ALL_WEBHOOKS, webhook_configuration

TAMPERER = ("--as=mallory", "--as-group=system:masters")


def detection_rule(name: str, **spec_changes: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "query": 'process where process.name == "nc"',
        "ruleId": f"admission-{name}",
        "severity": "high",
        "riskScore": 73,
        "response": {"actions": [{"isolate": {"allowDNS": True}}]},
    }
    spec.update(spec_changes)
    return {
        "apiVersion": "quarantine.io/v1alpha1",
        "kind": "DetectionRule",
        "metadata": {"name": name},
        "spec": spec,
    }


def apply(
    cluster: LocalCluster, body: dict[str, Any], *args: str
) -> subprocess.CompletedProcess[str]:
    return cluster.kubectl("apply", *args, "-f", "-", input=yaml.safe_dump(body), check=False)


class Process:
    """A child process we started, with its log, stopped by its own PID only."""

    def __init__(self, args: list[str], log_path: Path, env: dict[str, str]) -> None:
        self.log_path = log_path
        self._log = log_path.open("w")
        self.popen = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT, env=env)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        self._log.close()


VICTIMS = unique("admission-victims")
"""The one namespace the test's responder acts in (other tests' Alerts are not ours to answer)."""


@pytest.fixture(scope="module")
def admission(
    crds_installed: LocalCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The operator with local admission; yields the webhook configuration's name."""
    cluster = crds_installed
    work = tmp_path_factory.mktemp("admission")
    configuration = unique("test-admission") + ".quarantine.io"
    scratch = unique("admission-home")
    for name in (scratch, VICTIMS):
        cluster.kubectl("create", "namespace", name)
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig), "PYTHONUNBUFFERED": "1"}
    operator = Process(
        [
            str(QUARANTINE),
            "operator",
            f"--kubeconfig={cluster.kubeconfig}",
            f"--namespace={scratch}",
            f"--watch-namespace={VICTIMS}",
            "--admission=local",
            f"--webhook-configuration-name={configuration}",
            f"--webhook-tls-dir={work / 'tls'}",
        ],
        work / "operator.log",
        env,
    )
    try:
        wait_until_refusing(cluster, operator)
        yield configuration
    finally:
        operator.stop()
        # A clean stop removes the configuration; make sure, so no test run leaves one behind.
        cluster.kubectl(
            "delete", "validatingwebhookconfiguration", configuration, "--ignore-not-found"
        )
        for name in (scratch, VICTIMS):
            cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)
        print(f"operator log tail:\n{operator.log_tail()}", file=sys.stderr)


def wait_until_refusing(cluster: LocalCluster, operator: Process, timeout: float = 90) -> None:
    """Until a server-side dry run of a bad rule is refused by our webhook."""
    probe = detection_rule(unique("probe"), query="process where")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if operator.popen.poll() is not None:
            pytest.fail(f"the operator exited early:\n{operator.log_tail()}")
        result = apply(cluster, probe, "--dry-run=server")
        if "denied the request" in result.stderr:
            return
        time.sleep(0.5)
    pytest.fail(f"the admission webhook never answered:\n{operator.log_tail()}")


@pytest.fixture
def matcher(crds_installed: LocalCluster, tmp_path: Path) -> Iterator[Process]:
    """C2's matcher, which sets the Ready condition of the rules it compiles."""
    token = tmp_path / "token"
    token.write_text("admission-test-token")
    process = Process(
        [
            str(QUARANTINE),
            "matcher",
            f"--kubeconfig={crds_installed.kubeconfig}",
            "--listen=127.0.0.1:0",
            f"--token-file={token}",
        ],
        tmp_path / "matcher.log",
        {**os.environ, "KUBECONFIG": str(crds_installed.kubeconfig)},
    )
    try:
        yield process
    finally:
        process.stop()


def test_the_webhooks_are_registered_narrowly(cluster: LocalCluster, admission: str) -> None:
    result = cluster.kubectl("get", "validatingwebhookconfiguration", admission, "-o", "yaml")
    webhooks = {
        hook["name"].split(".")[0]: hook for hook in yaml.safe_load(result.stdout)["webhooks"]
    }
    assert webhooks["validate-detectionrule"]["failurePolicy"] == "Fail"
    pod_hook = webhooks["protect-quarantined-pod"]
    assert pod_hook["failurePolicy"] == "Ignore"
    assert pod_hook["rules"][0]["operations"] == ["UPDATE"]
    assert pod_hook["objectSelector"]["matchExpressions"][0]["key"] == "quarantine.io/isolated"
    assert pod_hook["clientConfig"]["url"].startswith("https://127.0.0.1:")


def test_a_query_that_does_not_compile_is_refused_at_kubectl_apply(
    cluster: LocalCluster, admission: str
) -> None:
    name = unique("bad-query")
    result = apply(cluster, detection_rule(name, query="process where\n  process.name == )\n"))
    assert result.returncode != 0
    assert f'admission webhook "validate-detectionrule.{admission}" denied' in result.stderr
    assert "spec.query: line 2, column 19:" in result.stderr
    assert "found ')'" in result.stderr
    missing = cluster.kubectl("get", "detectionrule", name, check=False)
    assert missing.returncode != 0


def test_a_valid_rule_is_admitted_and_goes_ready(
    cluster: LocalCluster, admission: str, matcher: Process
) -> None:
    name = unique("good-rule")
    result = apply(cluster, detection_rule(name))
    assert result.returncode == 0, result.stderr
    try:
        waited = cluster.kubectl(
            "wait",
            f"detectionrule/{name}",
            "--for=condition=Ready=True",
            "--timeout=60s",
            check=False,
        )
        assert waited.returncode == 0, f"{waited.stderr}\nmatcher log:\n{matcher.log_tail()}"
    finally:
        cluster.kubectl("delete", "detectionrule", name, "--ignore-not-found")


def test_fixing_a_stored_rule_is_checked_but_metadata_updates_are_not(
    cluster: LocalCluster, admission: str
) -> None:
    name = unique("update-rule")
    assert apply(cluster, detection_rule(name)).returncode == 0
    try:
        broken = apply(cluster, detection_rule(name, query="process where process.name =="))
        assert broken.returncode != 0 and "spec.query: line 1, column 30" in broken.stderr
        labelled = cluster.kubectl("label", "detectionrule", name, "team=ir", check=False)
        assert labelled.returncode == 0, labelled.stderr
    finally:
        cluster.kubectl("delete", "detectionrule", name, "--ignore-not-found")


@pytest.mark.parametrize("validate", ["strict", "false"])
def test_unknown_playbook_options_are_refused_naming_the_path_whatever_the_client(
    cluster: LocalCluster, admission: str, validate: str
) -> None:
    """The CRD keeps unknown playbook fields rather than pruning them, so the webhook sees `bogus`
    and refuses it by path, whether or not the client asked for strict field validation."""
    name = unique("bogus-option")
    body = detection_rule(name, response={"actions": [{"isolate": {"allowDNS": True, "bogus": 1}}]})
    result = apply(cluster, body, f"--validate={validate}")
    try:
        assert result.returncode != 0, result.stdout
        assert f'admission webhook "validate-detectionrule.{admission}" denied' in result.stderr
        assert "spec.response.actions[0].isolate.bogus" in result.stderr
        assert cluster.kubectl("get", "detectionrule", name, check=False).returncode != 0
    finally:
        cluster.kubectl("delete", "detectionrule", name, "--ignore-not-found")


def test_an_unknown_option_deeper_in_an_action_is_refused_too(
    cluster: LocalCluster, admission: str
) -> None:
    name = unique("bogus-secret-ref")
    notify = {"notify": {"secretRef": {"name": "hook", "namespace": "elsewhere"}}}
    result = apply(
        cluster, detection_rule(name, response={"actions": [notify]}), "--validate=false"
    )
    assert result.returncode != 0, result.stdout
    assert "spec.response.actions[0].notify.secretRef.namespace" in result.stderr
    assert cluster.kubectl("get", "detectionrule", name, check=False).returncode != 0


@pytest.mark.parametrize("validate", ["strict", "false"])
def test_an_unknown_action_is_refused_whatever_the_client(
    cluster: LocalCluster, admission: str, validate: str
) -> None:
    # The schema's own rule names the known actions, so this holds even without the webhook.
    name = unique("unknown-action")
    body = detection_rule(name, response={"actions": [{"quarantine": {}}]})
    result = apply(cluster, body, f"--validate={validate}")
    assert result.returncode != 0, result.stdout
    assert "spec.response.actions[0]" in result.stderr
    assert "needs one of: isolate, scaleDown, label, annotate, deletePod, notify" in result.stderr
    assert cluster.kubectl("get", "detectionrule", name, check=False).returncode != 0


QUARANTINED_POD = """
apiVersion: v1
kind: Pod
metadata:
  name: victim
  namespace: {namespace}
  labels:
    app: web
    quarantine.io/isolated: "true"
    isolated.quarantine.io/{alert}: "true"
spec:
  containers: [{{name: web, image: nginx}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: quarantine-{alert}
  namespace: {namespace}
  labels:
    app.kubernetes.io/managed-by: quarantine
    quarantine.io/alert: {alert}
spec:
  podSelector: {{matchLabels: {{isolated.quarantine.io/{alert}: "true"}}}}
  policyTypes: [Ingress, Egress]
"""


@pytest.fixture
def containment(cluster: LocalCluster, admission: str, namespace: str) -> str:
    """A pod and policy as the responder leaves them after isolating (made here as admin, which
    is Quarantine's identity in this test); yields the Alert's name."""
    alert = unique("alert")
    manifest = QUARANTINED_POD.format(namespace=namespace, alert=alert)
    cluster.kubectl("apply", "-f", "-", input=manifest)
    return alert


def test_others_cannot_remove_the_quarantine_label(
    cluster: LocalCluster, namespace: str, containment: str
) -> None:
    result = cluster.kubectl(
        "-n",
        namespace,
        "label",
        "pod",
        "victim",
        "quarantine.io/isolated-",
        *TAMPERER,
        check=False,
    )
    assert result.returncode != 0
    assert f"Alert {namespace}/{containment}" in result.stderr
    assert "'mallory'" in result.stderr and "removes label quarantine.io/isolated" in result.stderr
    labels = cluster.kubectl(
        "-n", namespace, "get", "pod", "victim", "-o", "jsonpath={.metadata.labels}"
    ).stdout
    assert "quarantine.io/isolated" in labels


def test_others_cannot_put_a_pod_back_under_other_labels(
    cluster: LocalCluster, namespace: str, containment: str
) -> None:
    result = cluster.kubectl(
        "-n", namespace, "label", "pod", "victim", "tier=frontend", *TAMPERER, check=False
    )
    assert result.returncode != 0 and "adds label tier" in result.stderr


def test_others_may_still_annotate_a_quarantined_pod(
    cluster: LocalCluster, namespace: str, containment: str
) -> None:
    result = cluster.kubectl(
        "-n", namespace, "annotate", "pod", "victim", "ticket=IR-7", *TAMPERER, check=False
    )
    assert result.returncode == 0, result.stderr


def test_others_cannot_delete_or_open_quarantines_network_policy(
    cluster: LocalCluster, namespace: str, containment: str
) -> None:
    policy = f"quarantine-{containment}"
    deleted = cluster.kubectl(
        "-n", namespace, "delete", "networkpolicy", policy, *TAMPERER, check=False
    )
    assert deleted.returncode != 0
    assert f"NetworkPolicy {namespace}/{policy}" in deleted.stderr
    assert f"Alert {namespace}/{containment}" in deleted.stderr
    opened = cluster.kubectl(
        "-n",
        namespace,
        "patch",
        "networkpolicy",
        policy,
        "--type=merge",
        "-p",
        '{"spec":{"ingress":[{}]}}',
        *TAMPERER,
        check=False,
    )
    assert opened.returncode != 0 and "changes its spec" in opened.stderr


def test_quarantines_own_identity_may_undo_the_containment(
    cluster: LocalCluster, namespace: str, containment: str
) -> None:
    cluster.kubectl(
        "-n",
        namespace,
        "label",
        "pod",
        "victim",
        "quarantine.io/isolated-",
        f"isolated.quarantine.io/{containment}-",
    )
    cluster.kubectl("-n", namespace, "delete", "networkpolicy", f"quarantine-{containment}")
    # Released: the pod is an ordinary pod again, anyone with RBAC may relabel it.
    relabelled = cluster.kubectl(
        "-n",
        namespace,
        "label",
        "pod",
        "victim",
        "app=other",
        "--overwrite",
        *TAMPERER,
        check=False,
    )
    assert relabelled.returncode == 0, relabelled.stderr


def test_the_charts_webhooks_match_what_the_operator_serves(cluster: LocalCluster) -> None:
    rendered = cluster.helm(
        "template",
        "q",
        str(REPO_ROOT / "charts" / "quarantine"),
        "--namespace=quarantine",
        "--kube-version=1.36.0",
        "--show-only=templates/webhook.yaml",
    ).stdout
    documents = [doc for doc in yaml.safe_load_all(rendered) if doc]
    (configuration,) = [d for d in documents if d["kind"] == "ValidatingWebhookConfiguration"]
    chart = {hook["name"]: hook for hook in configuration["webhooks"]}
    served = webhook_configuration(
        "quarantine.io",
        {"service": {"name": "q-quarantine-operator", "namespace": "quarantine", "port": 443}},
    )
    for expected in served["webhooks"]:
        hook = chart[expected["name"]]
        for key in ("rules", "objectSelector", "sideEffects", "matchPolicy"):
            assert hook.get(key) == expected.get(key), (expected["name"], key)
        assert hook["clientConfig"]["service"] == expected["clientConfig"]["service"]
        assert hook["clientConfig"]["caBundle"]
    for definition in ALL_WEBHOOKS:
        if definition.failure_policy == "Ignore":
            assert chart[f"{definition.handler_id}.quarantine.io"]["failurePolicy"] == "Ignore"
    (secret,) = [d for d in documents if d["kind"] == "Secret"]
    assert sorted(secret["data"]) == ["ca.crt", "tls.crt", "tls.key"]


def test_a_real_containment_is_protected_until_released(
    cluster: LocalCluster, admission: str
) -> None:
    """End to end with the responder: an Alert isolates a pod; a tamperer cannot undo it; the
    release (Quarantine's own identity) can."""
    rule_name, pod, alert = unique("isolate-rule"), unique("suspect"), unique("alert")
    rule = detection_rule(rule_name, response={"actions": [{"isolate": {}}]})
    assert apply(cluster, rule).returncode == 0
    try:
        cluster.kubectl(
            "-n", VICTIMS, "run", pod, "--image=nginx", "--labels=app=suspect", "--restart=Never"
        )
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        manifest = {
            "apiVersion": "quarantine.io/v1alpha1",
            "kind": "Alert",
            "metadata": {"name": alert, "namespace": VICTIMS},
            "spec": {
                "rule": {"name": rule_name, "ruleId": "r", "severity": "high", "riskScore": 73},
                "target": {"namespace": VICTIMS, "pod": pod},
                "source": "matcher",
                "firstSeen": now,
                "lastSeen": now,
                "count": 1,
            },
        }
        cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(manifest))

        def labels() -> dict[str, str]:
            result = cluster.kubectl("-n", VICTIMS, "get", "pod", pod, "-o", "yaml")
            return dict(yaml.safe_load(result.stdout)["metadata"].get("labels") or {})

        wait_for("the responder to isolate the pod", lambda: "quarantine.io/isolated" in labels())

        refused = cluster.kubectl(
            "-n", VICTIMS, "label", "pod", pod, "quarantine.io/isolated-", *TAMPERER, check=False
        )
        assert refused.returncode != 0 and f"Alert {VICTIMS}/{alert}" in refused.stderr
        policies = cluster.kubectl(
            "-n",
            VICTIMS,
            "get",
            "networkpolicy",
            "-l",
            "app.kubernetes.io/managed-by=quarantine",
            "-o",
            "name",
        ).stdout.split()
        assert len(policies) == 1
        deleted = cluster.kubectl("-n", VICTIMS, "delete", policies[0], *TAMPERER, check=False)
        assert deleted.returncode != 0

        cluster.kubectl(
            "-n",
            VICTIMS,
            "patch",
            "alert",
            alert,
            "--type=merge",
            "-p",
            '{"spec":{"release":true}}',
        )
        wait_for(
            "the release to remove the quarantine label",
            lambda: "quarantine.io/isolated" not in labels(),
        )
    finally:
        cluster.kubectl(
            "-n", VICTIMS, "delete", "alert", alert, "--ignore-not-found", "--wait=false"
        )
        cluster.kubectl("delete", "detectionrule", rule_name, "--ignore-not-found")
