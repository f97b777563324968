"""The Helm chart, rendered by the real `helm`: its schema refuses bad values with the path named,
its templates produce what the design asks for, and its command lines parse with the real CLI.

No cluster is needed (`helm template` and `helm lint` work offline); the cluster side is in
tests/cluster/test_chart.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART = REPO_ROOT / "charts" / "quarantine"
KUBE_VERSION = "1.36.0"
RELEASE = "qt"
NAMESPACE = "quarantine-system"


def find_helm() -> Path | None:
    """helm from $QUARANTINE_HELM, PATH, the local cluster's links, or the control-plane cache."""
    explicit = os.environ.get("QUARANTINE_HELM")
    if explicit:
        return Path(explicit)
    on_path = shutil.which("helm")
    if on_path:
        return Path(on_path)
    linked = REPO_ROOT / ".cluster" / "bin" / "helm"
    if linked.exists():
        return linked
    cache = Path(
        os.environ.get("QUARANTINE_CACHE")
        or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "quarantine"
    )
    built = sorted(cache.glob("controlplane/*/bin/helm"))
    return built[-1] if built else None


@dataclass(frozen=True)
class Helm:
    binary: Path
    home: Path

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        # Keep helm away from the developer's own repositories, plugins and cache.
        env = {**os.environ}
        for key in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
            env[key] = str(self.home / key.lower())
        return subprocess.run(
            [str(self.binary), *args], capture_output=True, text=True, check=False, env=env
        )


@pytest.fixture(scope="module")
def helm(tmp_path_factory: pytest.TempPathFactory) -> Helm:
    binary = find_helm()
    if binary is None:
        pytest.skip("helm not found (PATH, .cluster/bin, or the cache of `make controlplane`)")
    return Helm(binary, tmp_path_factory.mktemp("helm-home"))


def render(helm: Helm, *sets: str, show_only: str | None = None) -> list[dict[str, Any]]:
    args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE]
    args += ["--kube-version", KUBE_VERSION]
    for item in sets:
        args += ["--set", item]
    if show_only:
        args += ["--show-only", show_only]
    result = helm.run(*args)
    assert result.returncode == 0, f"helm template {sets} failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] == kind]


def one(docs: list[dict[str, Any]], kind: str, component: str | None = None) -> dict[str, Any]:
    found = [
        doc
        for doc in by_kind(docs, kind)
        if component is None
        or doc["metadata"]["labels"].get("app.kubernetes.io/component") == component
    ]
    assert len(found) == 1, f"expected one {kind} {component or ''}, found {len(found)}"
    return found[0]


def container(workload: dict[str, Any]) -> dict[str, Any]:
    containers = workload["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    result: dict[str, Any] = containers[0]
    return result


# --- lint and defaults ---------------------------------------------------------------------


def test_the_chart_renders_without_naming_a_kubernetes_version(helm: Helm) -> None:
    """`helm template` assumes the Kubernetes version of the client-go helm was built with; the
    helm `make controlplane` builds is stamped with it as helm's own release builds are, so the
    chart's `kubeVersion` (>= 1.30) accepts it (unstamped, helm assumed v1.20 and refused)."""
    result = helm.run("template", RELEASE, str(CHART), "-n", NAMESPACE)
    assert result.returncode == 0, result.stderr
    assert "kind: Deployment" in result.stdout


def test_lint_is_clean_in_strict_mode(helm: Helm) -> None:
    result = helm.run("lint", "--strict", str(CHART), "--kube-version", KUBE_VERSION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout
    assert "[WARNING]" not in result.stdout and "[ERROR]" not in result.stdout


def test_chart_metadata_matches_the_package() -> None:
    from quarantine import __version__

    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert chart["apiVersion"] == "v2"
    assert chart["appVersion"] == __version__
    assert chart["kubeVersion"] == ">=1.30.0-0"
    assert values["image"]["repository"] == "ghcr.io/quarantine-dev/quarantine"
    assert values["image"]["tag"] == "", "an empty tag means the appVersion"


def test_default_render_has_every_part(helm: Helm) -> None:
    docs = render(helm)
    kinds = sorted(doc["kind"] for doc in docs)
    assert kinds == sorted(
        [
            "Deployment",
            "DaemonSet",
            "Service",
            "Service",
            "ServiceAccount",
            "ServiceAccount",
            "Secret",
            "NetworkPolicy",
            "NetworkPolicy",
            "PodDisruptionBudget",
            "Pod",
            *[doc["kind"] for doc in docs if is_owned_by_another_template(doc)],
        ]
    )
    image = container(one(docs, "Deployment"))["image"]
    assert image == f"ghcr.io/quarantine-dev/quarantine:{chart_app_version()}"


def is_owned_by_another_template(doc: dict[str, Any]) -> bool:
    """RBAC (templates/rbac.yaml) and the webhook (templates/webhook.yaml) are tested elsewhere."""
    return doc["kind"] in {
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "ValidatingWebhookConfiguration",
    } or doc["metadata"]["name"].endswith("-webhook-tls")


def chart_app_version() -> str:
    version: str = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
    return version


def test_matcher_service_keeps_traffic_on_the_node(helm: Helm) -> None:
    service = one(render(helm), "Service", "matcher")
    assert service["spec"]["internalTrafficPolicy"] == "Local"
    assert service["spec"]["selector"]["app.kubernetes.io/component"] == "matcher"


@pytest.mark.parametrize("kind", ["Deployment", "DaemonSet"])
def test_workloads_run_locked_down(helm: Helm, kind: str) -> None:
    workload = one(render(helm), kind)
    pod = workload["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65532
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    main = container(workload)
    security = main["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert main["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert main["readinessProbe"]["httpGet"]["path"] in {"/healthz", "/readyz"}
    assert main["resources"]["requests"] and main["resources"]["limits"]["memory"]
    # The only writable place is an emptyDir at /tmp.
    mounts = {m["mountPath"]: m["name"] for m in main["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]


def token_secret(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (secret,) = [s for s in by_kind(docs, "Secret") if not is_owned_by_another_template(s)]
    return secret


def test_token_is_generated_with_the_configured_length(helm: Helm) -> None:
    import base64

    first = token_secret(render(helm, "ingest.token.length=40"))
    second = token_secret(render(helm, "ingest.token.length=40"))
    token = base64.b64decode(first["data"]["token"]).decode()
    assert len(token) == 40 and token.isalnum()
    # Without a cluster to `lookup`, every render draws a new token: proof it is random.
    assert first["data"]["token"] != second["data"]["token"]


def test_existing_token_secret_is_used_instead_of_generating_one(helm: Helm) -> None:
    docs = render(helm, "ingest.token.existingSecret=my-token", "ingest.token.key=bearer")
    assert [s for s in by_kind(docs, "Secret") if not is_owned_by_another_template(s)] == []
    volumes = one(docs, "DaemonSet")["spec"]["template"]["spec"]["volumes"]
    token = next(v for v in volumes if v["name"] == "ingest-token")
    assert token["secret"]["secretName"] == "my-token"
    assert token["secret"]["items"] == [{"key": "bearer", "path": "token"}]


def test_network_policy_admits_only_the_service_ports(helm: Helm) -> None:
    docs = render(helm)
    operator = one(docs, "NetworkPolicy", "operator")
    assert operator["spec"]["policyTypes"] == ["Ingress"]
    ports = {p["port"] for rule in operator["spec"]["ingress"] for p in rule["ports"]}
    assert ports == {"metrics", "webhook"}
    named = {p["name"] for p in container(one(docs, "Deployment"))["ports"]}
    assert ports <= named, "every port the policy names must exist on the container"
    matcher = one(docs, "NetworkPolicy", "matcher")
    assert [p["port"] for r in matcher["spec"]["ingress"] for p in r["ports"]] == ["http"]
    assert "from" not in matcher["spec"]["ingress"][0], "open to any shipper by default"

    restricted = render(
        helm,
        "networkPolicy.ingestFrom[0].namespaceSelector.matchLabels.shippers=yes",
        "networkPolicy.metricsFrom[0].podSelector.matchLabels.app=prometheus",
    )
    (rule,) = one(restricted, "NetworkPolicy", "matcher")["spec"]["ingress"]
    assert rule["from"] == [
        {"namespaceSelector": {"matchLabels": {"shippers": "yes"}}},
        {"podSelector": {"matchLabels": {"app": "prometheus"}}},
    ]


PEERING = f"{RELEASE}-quarantine-{NAMESPACE}"


def test_two_replicas_elect_a_leader_and_spread(helm: Helm) -> None:
    deployment = one(render(helm, "operator.replicas=2"), "Deployment")
    assert deployment["spec"]["replicas"] == 2
    args = container(deployment)["args"]
    assert f"--peering={PEERING}" in args
    assert "--peering-lifetime=15" in args
    # The new pod of a rollout comes up as the standby before an old one leaves.
    assert deployment["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    env = {e["name"]: e.get("valueFrom") for e in container(deployment)["env"]}
    assert env["POD_ID"] == {"fieldRef": {"fieldPath": "metadata.name"}}, "kopf's peer identity"
    affinity = deployment["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    term = affinity["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    lifetime = "operator.leaderElection.lifetimeSeconds=30"
    args = container(one(render(helm, "operator.replicas=2", lifetime), "Deployment"))["args"]
    assert "--peering-lifetime=30" in args


def operator_rules(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    (role,) = [
        d
        for d in by_kind(docs, "ClusterRole")
        if d["metadata"]["name"] == f"{RELEASE}-quarantine-operator"
    ]
    rules: list[dict[str, Any]] = role["rules"]
    return rules


def test_two_replicas_get_their_peering_object_and_its_rbac(helm: Helm) -> None:
    docs = render(helm, "operator.replicas=2")
    peering = one(docs, "ClusterKopfPeering")
    assert peering["apiVersion"] == "kopf.dev/v1"
    assert peering["metadata"]["name"] == PEERING
    kopf_rules = [r for r in operator_rules(docs) if r["apiGroups"] == ["kopf.dev"]]
    # Exactly what kopf does: list and watch every peering object, patch its own record.
    assert kopf_rules == [
        {
            "apiGroups": ["kopf.dev"],
            "resources": ["clusterkopfpeerings"],
            "verbs": ["list", "watch"],
        },
        {
            "apiGroups": ["kopf.dev"],
            "resources": ["clusterkopfpeerings"],
            "resourceNames": [PEERING],
            "verbs": ["patch"],
        },
    ]
    # kopf peering uses no Leases.
    every_rule = [
        r for kind in ("ClusterRole", "Role") for d in by_kind(docs, kind) for r in d["rules"]
    ]
    assert not [r for r in every_rule if "leases" in r["resources"]]


def test_peering_names_differ_between_releases_of_one_name(helm: Helm) -> None:
    def peering_in(namespace: str) -> str:
        args = ["template", RELEASE, str(CHART), "--namespace", namespace]
        result = helm.run(*args, "--kube-version", KUBE_VERSION, "--set", "operator.replicas=2")
        assert result.returncode == 0, result.stderr
        docs = [d for d in yaml.safe_load_all(result.stdout) if d]
        name: str = one(docs, "ClusterKopfPeering")["metadata"]["name"]
        return name

    assert peering_in("team-a") != peering_in("team-b")


def test_the_peering_crd_ships_with_the_chart() -> None:
    crd = yaml.safe_load((CHART / "crds" / "kopf.dev_clusterkopfpeerings.yaml").read_text())
    assert crd["metadata"]["name"] == "clusterkopfpeerings.kopf.dev"


@pytest.mark.parametrize(
    "settings", [(), ("operator.leaderElection.enabled=false",)], ids=["default", "no-election"]
)
def test_a_single_operator_runs_standalone_and_is_recreated(
    helm: Helm, settings: tuple[str, ...]
) -> None:
    docs = render(helm, *settings)
    deployment = one(docs, "Deployment")
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert not [a for a in container(deployment)["args"] if a.startswith("--peering")]
    assert by_kind(docs, "ClusterKopfPeering") == []
    assert not [r for r in operator_rules(docs) if r["apiGroups"] == ["kopf.dev"]]


def test_the_disruption_budget_never_lets_both_replicas_go(helm: Helm) -> None:
    budget = one(render(helm, "operator.replicas=2"), "PodDisruptionBudget")
    assert budget["spec"]["maxUnavailable"] == 1
    assert budget["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == "operator"
    args = ["template", RELEASE, str(CHART), "--kube-version", KUBE_VERSION]
    args += ["--set", "operator.replicas=2", "--set", "podDisruptionBudget.maxUnavailable=2"]
    result = helm.run(*args)
    assert result.returncode != 0
    assert "podDisruptionBudget.maxUnavailable (2) lets a drain evict all 2" in result.stderr


ACTIONS = ("isolate", "scaleDown", "label", "annotate", "deletePod", "notify")


@pytest.mark.parametrize("action", ACTIONS)
def test_a_disabled_action_is_passed_to_the_operator(helm: Helm, action: str) -> None:
    from quarantine.cli import build_parser
    from quarantine.respond.options import responder_config

    args = container(one(render(helm, f"response.{action}.enabled=false"), "Deployment"))["args"]
    assert [a for a in args if a.startswith("--disable-action")] == [f"--disable-action={action}"]
    parsed = build_parser().parse_args([expand_kubernetes_env(a) for a in args])
    assert responder_config(parsed).disabled_actions == {action}


def test_every_disabled_action_is_passed_and_none_by_default(helm: Helm) -> None:
    settings = [f"response.{action}.enabled=false" for action in ACTIONS]
    args = container(one(render(helm, *settings), "Deployment"))["args"]
    disabled = [a for a in args if a.startswith("--disable-action=")]
    assert disabled == [f"--disable-action={action}" for action in ACTIONS]
    assert not [a for a in container(one(render(helm), "Deployment"))["args"] if "disable" in a]


def test_the_default_alert_rule_is_passed_only_when_set(helm: Helm) -> None:
    def matcher_args(*settings: str) -> list[str]:
        args: list[str] = container(one(render(helm, *settings), "DaemonSet"))["args"]
        return args

    assert not any(a.startswith("--default-alert-rule") for a in matcher_args())
    chosen = matcher_args("matcher.alertIntake.defaultRule=isolate-pod")
    assert "--default-alert-rule=isolate-pod" in chosen


def test_matcher_can_be_left_out(helm: Helm) -> None:
    docs = render(helm, "matcher.enabled=false")
    assert by_kind(docs, "DaemonSet") == []
    components = [d["metadata"]["labels"].get("app.kubernetes.io/component") for d in docs]
    assert "matcher" not in components
    test_pod = one(docs, "Pod")
    assert test_pod["spec"]["containers"][0]["args"][2] == "", "no matcher URL to check"


def test_service_monitors_are_optional_and_scrape_both_components(helm: Helm) -> None:
    assert by_kind(render(helm), "ServiceMonitor") == []
    docs = render(helm, "metrics.serviceMonitor.enabled=true", "metrics.serviceMonitor.labels.a=b")
    services = {
        s["metadata"]["labels"]["app.kubernetes.io/component"]: s for s in by_kind(docs, "Service")
    }
    for component in ("operator", "matcher"):
        monitor = one(docs, "ServiceMonitor", component)
        assert monitor["metadata"]["labels"]["a"] == "b"
        selector = monitor["spec"]["selector"]["matchLabels"]
        service = services[component]
        assert selector.items() <= service["metadata"]["labels"].items()
        (endpoint,) = monitor["spec"]["endpoints"]
        assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    # The matcher's "metrics" Service port leads to its intake listener, which serves /metrics.
    matcher_ports = {p["name"]: p["targetPort"] for p in services["matcher"]["spec"]["ports"]}
    assert matcher_ports["metrics"] == "http"


def test_helm_test_pod_probes_the_intake_without_a_token(helm: Helm) -> None:
    pod = one(render(helm), "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    args = pod["spec"]["containers"][0]["args"]
    assert "401" in args[0] and "/healthz" in args[0]
    assert args[1] == f"http://{RELEASE}-quarantine-operator.{NAMESPACE}.svc:9090/metrics"
    assert args[2] == f"http://{RELEASE}-quarantine-matcher.{NAMESPACE}.svc:8080"
    assert "Authorization" not in args[0], "the test must send no token"
    tls = one(
        render(helm, "ingest.tls.enabled=true", "ingest.tls.existingSecret=intake-tls"), "Pod"
    )
    assert tls["spec"]["containers"][0]["args"][2].startswith("https://")


def test_the_test_script_is_valid_python(helm: Helm) -> None:
    script = one(render(helm), "Pod")["spec"]["containers"][0]["args"][0]
    compile(script, "helm-test", "exec")


# --- the schema refuses bad values ---------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "named_path", "reason"),
    [
        ("operatr.replicas=1", "''", "additional properties 'operatr' not allowed"),
        ("operator.replicas=3", "/operator/replicas", "maximum"),
        (
            "operator.leaderElection.lifetimeSeconds=2",
            "/operator/leaderElection/lifetimeSeconds",
            "minimum",
        ),
        ("operator.leaderElection.enabled=false,operator.replicas=2", "/operator/replicas", "1"),
        ("image.pullPolicy=Sometimes", "/image/pullPolicy", "IfNotPresent"),
        ("image.digest=latest", "/image/digest", "does not match pattern"),
        ("ingest.port=70000", "/ingest/port", "maximum"),
        ("ingest.token.length=8", "/ingest/token/length", "minimum"),
        ("response.containmentWindow=ten", "/response/containmentWindow", "pattern"),
        ("response.isolate.enabled=yes", "/response/isolate/enabled", "boolean"),
        ("log.level=verbose", "/log/level", "debug"),
        ("podSecurityContext.runAsNonRoot=false", "/podSecurityContext/runAsNonRoot", "true"),
        ("securityContext.privileged=true", "/securityContext/privileged", "false"),
        ("webhook.failurePolicy=Maybe", "/webhook/failurePolicy", "Fail"),
        ("matcher.maxRequestBytes=10", "/matcher/maxRequestBytes", "minimum"),
        (
            "matcher.alertIntake.defaultRule=Isolate_Pod",
            "/matcher/alertIntake/defaultRule",
            "pattern",
        ),
        ("fullnameOverride=Not_A_Name", "/fullnameOverride", "pattern"),
        ("ingest.tls.enabled=true", "/ingest/tls/existingSecret", "minLength"),
        (
            "operator.protectedNamespaces[0]=Kube_System",
            "/operator/protectedNamespaces/0",
            "pattern",
        ),
    ],
)
def test_schema_refuses_bad_values_naming_the_path(
    helm: Helm, setting: str, named_path: str, reason: str
) -> None:
    args = ["template", RELEASE, str(CHART), "--kube-version", KUBE_VERSION, "--set", setting]
    result = helm.run(*args)
    assert result.returncode != 0, f"{setting} was accepted"
    assert "don't meet the specifications of the schema" in result.stderr
    assert f"at {named_path}" in result.stderr or f"at '{named_path}'" in result.stderr, (
        result.stderr
    )
    assert reason in result.stderr, result.stderr


def test_lint_also_applies_the_schema(helm: Helm) -> None:
    result = helm.run("lint", str(CHART), "--set", "operator.replicas=5")
    assert result.returncode != 0
    assert "/operator/replicas" in result.stdout + result.stderr


# --- the command lines match the real CLI ---------------------------------------------------


def registered_commands() -> set[str]:
    from quarantine.cli import build_parser

    parser = build_parser()
    actions = [a for a in parser._actions if a.dest == "command"]
    choices: dict[str, Any] = actions[0].choices or {}  # type: ignore[assignment]
    return set(choices)


def expand_kubernetes_env(arg: str) -> str:
    # Kubernetes substitutes $(VAR) from the container env; any value will do for parsing.
    return arg.replace("$(POD_NAMESPACE)", "quarantine-system")


@pytest.mark.parametrize(
    ("kind", "command", "settings"),
    [
        ("Deployment", "operator", ()),
        (
            "Deployment",
            "operator",
            ("operator.leaderElection.enabled=false", "webhook.enabled=false"),
        ),
        ("Deployment", "operator", ("operator.replicas=2", "log.level=debug")),
        (
            "Deployment",
            "operator",
            ("response.scaleDown.enabled=false", "response.notify.enabled=false"),
        ),
        ("DaemonSet", "matcher", ()),
        ("DaemonSet", "matcher", ("ingest.tls.enabled=true", "ingest.tls.existingSecret=t")),
        ("DaemonSet", "matcher", ("matcher.alertIntake.defaultRule=isolate-pod",)),
    ],
)
def test_rendered_args_parse_with_the_real_cli(
    helm: Helm, kind: str, command: str, settings: tuple[str, ...]
) -> None:
    from quarantine.cli import build_parser

    if command not in registered_commands():
        pytest.skip(f"`quarantine {command}` is not implemented yet; nothing to check against")
    args = [expand_kubernetes_env(a) for a in container(one(render(helm, *settings), kind))["args"]]
    assert args[0] == command
    try:
        build_parser().parse_args(args)
    except SystemExit as error:
        pytest.fail(f"`quarantine {' '.join(args)}` is refused by the CLI (exit {error.code})")
