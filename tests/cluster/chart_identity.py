"""The chart's ServiceAccounts and RBAC, applied to the local cluster, as identities for tests.

`helm template` renders the chart's RBAC and ServiceAccounts into a fresh namespace; a
TokenRequest token of one ServiceAccount goes into a kubeconfig, so a process run with it has
exactly the chart's permissions and a missing RBAC rule fails the test that needs it.
"""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from localcluster import LocalCluster

CHART = Path(__file__).resolve().parents[2] / "charts" / "quarantine"
# The chart files that make Quarantine's identities and their permissions.
RBAC_CHART_FILES = (
    "Chart.yaml",
    "values.yaml",
    "templates/_helpers.tpl",
    "templates/rbac.yaml",
    "templates/serviceaccounts.yaml",
)


@dataclass(frozen=True)
class Identity:
    namespace: str
    service_account: str
    kubeconfig: Path


def _server_version(cluster: LocalCluster) -> str:
    version = json.loads(cluster.kubectl("version", "-o", "json").stdout)
    return str(version["serverVersion"]["gitVersion"]).lstrip("v")


@dataclass(frozen=True)
class ChartIdentity:
    """The chart's operator ServiceAccount and RBAC, applied to the cluster from `rendered`."""

    identity: Identity
    rendered: str

    def manifests(self, kind: str) -> list[dict[str, Any]]:
        return [doc for doc in yaml.safe_load_all(self.rendered) if doc and doc["kind"] == kind]


def install_chart_identity(
    cluster: LocalCluster,
    work: Path,
    *,
    component: str = "operator",
    extra_files: tuple[str, ...] = (),
    values: tuple[str, ...] = (),
) -> ChartIdentity:
    """Render the chart's RBAC (plus `extra_files`, with `values` set) into a fresh namespace,
    apply it, and write a kubeconfig holding a token of `component`'s ServiceAccount
    (`operator` or `matcher`)."""
    chart = work / "chart"
    for relative in (*RBAC_CHART_FILES, *extra_files):
        (chart / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(CHART / relative, chart / relative)
    suffix = uuid.uuid4().hex[:6]
    namespace, release = f"quarantine-{suffix}", f"q{suffix}"
    cluster.kubectl("create", "namespace", namespace)
    settings = [arg for value in values for arg in ("--set", value)]
    rendered = cluster.helm(
        "template",
        release,
        str(chart),
        "-n",
        namespace,
        "--kube-version",
        _server_version(cluster),
        *settings,
    ).stdout
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=rendered)
    service_account = next(
        doc["metadata"]["name"]
        for doc in yaml.safe_load_all(rendered)
        if doc
        and doc["kind"] == "ServiceAccount"
        and doc["metadata"]["name"].endswith(f"-{component}")
    )
    token = cluster.kubectl(
        "create", "token", service_account, "-n", namespace, "--duration", "2h"
    ).stdout.strip()
    admin = yaml.safe_load(cluster.kubeconfig.read_text())
    kubeconfig = work / f"{component}.kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": admin["clusters"],
                "users": [{"name": component, "user": {"token": token}}],
                "contexts": [
                    {
                        "name": component,
                        "context": {"cluster": admin["clusters"][0]["name"], "user": component},
                    }
                ],
                "current-context": component,
            }
        )
    )
    return ChartIdentity(Identity(namespace, service_account, kubeconfig), rendered)


def remove_chart_identity(cluster: LocalCluster, installed: ChartIdentity) -> None:
    cluster.kubectl(
        "delete",
        "-f",
        "-",
        "--ignore-not-found",
        "--wait=false",
        input=installed.rendered,
        check=False,
    )
    cluster.kubectl(
        "delete", "namespace", installed.identity.namespace, "--wait=false", check=False
    )
