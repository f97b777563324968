"""The real local control plane for cluster tests: started once per session, stopped after.

Set QUARANTINE_TEST_KUBECONFIG to the kubeconfig of a running `make cluster-up` cluster to reuse
it instead (faster while developing); the session then leaves it running. The component logs of
a session's own cluster are kept in its temporary directory (the path is printed at the end), and
their tails are printed under any failing cluster test.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "hack"))

from localcluster import LocalCluster  # noqa: E402


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.cluster)


@pytest.fixture(scope="session")
def cluster() -> Iterator[LocalCluster]:
    reuse = os.environ.get("QUARANTINE_TEST_KUBECONFIG")
    if reuse:
        existing = LocalCluster(root=Path(reuse).resolve().parent)
        if not existing.is_running():
            pytest.fail(f"QUARANTINE_TEST_KUBECONFIG={reuse} names no running local cluster")
        yield existing
        return
    root = Path(tempfile.mkdtemp(prefix="quarantine-test-cluster-"))
    local = LocalCluster(root=root, nodes=3)
    local.up()
    try:
        yield local
    finally:
        local.down()
        # The data goes; the component logs stay for a look after a failed run.
        for data in ("etcd-data", "pki", "helm"):
            shutil.rmtree(root / data, ignore_errors=True)
        print(f"\ncontrol plane component logs: {local.logs_dir}", file=sys.stderr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    local = getattr(item, "funcargs", {}).get("cluster")
    if report.failed and isinstance(local, LocalCluster):
        local.print_log_tails(lines=20)


@pytest.fixture
def namespace(cluster: LocalCluster) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards (without waiting)."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    cluster.kubectl("create", "namespace", name)
    try:
        yield name
    finally:
        cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(scope="session")
def crds_installed(cluster: LocalCluster) -> LocalCluster:
    """Quarantine's generated CRDs applied and Established."""
    crd_files = sorted((REPO_ROOT / "crds").glob("*.yaml"))
    if not crd_files:
        pytest.fail("no CRDs in crds/: run `make crds`")
    for path in crd_files:
        cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(path))
    names = [
        doc["metadata"]["name"]
        for path in crd_files
        for doc in yaml.safe_load_all(path.read_text())
        if doc and doc.get("kind") == "CustomResourceDefinition"
    ]
    for name in names:
        cluster.kubectl("wait", "--for=condition=Established", f"crd/{name}", "--timeout=60s")
    # Discovery lags Established by a moment; wait until kubectl can resolve every kind.
    deadline = time.monotonic() + 30
    for name in names:
        plural, group = name.split(".", 1)
        while time.monotonic() < deadline:
            resources = cluster.kubectl("api-resources", f"--api-group={group}", check=False)
            if plural in resources.stdout.split():
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"{name} is Established but not in API discovery after 30s")
    return cluster
