"""Containment latency and burst load on the local control plane.

Latency: one attack at a time, from the moment it is handed to Quarantine until the isolating
NetworkPolicy exists (seen on a watch), over --alerts pods; p50/p90/p99/max are printed.
Burst: --burst attacks on as many pods at once; every one must end Contained with its own
NetworkPolicy (none lost), and the wall time is printed.

--from alert (default) starts the clock when the Alert is created (`quarantine operator`);
--from event starts it when the attack event is POSTed to the matcher (`quarantine run`).

    make cluster-up
    .venv/bin/python benchmarks/bench_containment.py --alerts 200 --burst 500

Quarantine's CRDs are installed from crds/ when the cluster lacks them (a fresh cluster-up).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from kubernetes import watch

from quarantine.k8s.client import load_api_client
from quarantine.k8s.raw import ApiError, Kube

REPO = Path(__file__).resolve().parents[1]
QUARANTINE = Path(sys.executable).parent / "quarantine"
RULE_QUERY = 'process where event.type == "start" and process.name == "tar"'


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


class PolicyWatch:
    """Records when each NetworkPolicy in the namespace first appears, from a watch stream."""

    def __init__(self, api: Any, namespace: str) -> None:
        from kubernetes import client

        self.seen: dict[str, float] = {}
        self.changed = threading.Condition()
        self._networking = client.NetworkingV1Api(api)
        self._namespace = namespace
        self._watch = watch.Watch()  # type: ignore[no-untyped-call]  # untyped client
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        stream = self._watch.stream(  # type: ignore[no-untyped-call]
            self._networking.list_namespaced_network_policy, self._namespace, timeout_seconds=3600
        )
        try:
            for event in stream:
                name = event["object"].metadata.name
                with self.changed:
                    self.seen.setdefault(name, time.monotonic())
                    self.changed.notify_all()
        except Exception as error:  # the namespace goes away at teardown
            print(f"  (policy watch ended: {type(error).__name__})")

    def wait(self, check: Callable[[dict[str, float]], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.changed:
            while not check(self.seen):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.changed.wait(left)
        return True

    def stop(self) -> None:
        self._watch.stop()  # type: ignore[no-untyped-call]


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.api = load_api_client(args.kubeconfig)
        self.kube = Kube(self.api, timeout=30)
        self.namespace = f"bench-{uuid.uuid4().hex[:6]}"
        self.rule = f"bench-{uuid.uuid4().hex[:6]}"
        self.workdir = Path(os.environ.get("TMPDIR", "/tmp")) / self.namespace
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process: subprocess.Popen[str] | None = None
        self.token = uuid.uuid4().hex
        self.matcher_port = 0
        self._container_ids: dict[str, str] = {}

    # --- setup ---------------------------------------------------------------------------------

    def ensure_crds(self) -> None:
        """Quarantine's CRDs (from crds/) created where missing, then served: a fresh
        `make cluster-up` has none. CRDs already there are left as they are."""
        base = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
        names = []
        for path in sorted((REPO / "crds").glob("*.yaml")):
            for document in yaml.safe_load_all(path.read_text()):
                if not document or document.get("kind") != "CustomResourceDefinition":
                    continue
                name = document["metadata"]["name"]
                names.append(name)
                if self.kube.get_or_none(f"{base}/{name}") is None:
                    self.kube.create(base, document)
        deadline = time.monotonic() + 60
        for name in names:
            while True:
                crd = self.kube.get(f"{base}/{name}")
                conditions = crd.get("status", {}).get("conditions", [])
                established = any(
                    c["type"] == "Established" and c["status"] == "True" for c in conditions
                )
                group, version = crd["spec"]["group"], crd["spec"]["versions"][0]["name"]
                served = self.kube.get_or_none(f"/apis/{group}/{version}") or {}
                plural = crd["spec"]["names"]["plural"]
                if established and any(r["name"] == plural for r in served.get("resources", [])):
                    break
                if time.monotonic() > deadline:
                    raise SystemExit(f"CRD {name} not served after 60 s")
                time.sleep(0.2)

    def setup(self) -> None:
        self.ensure_crds()
        self.kube.create(
            "/api/v1/namespaces",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.namespace}},
        )
        self.kube.create(
            "/apis/quarantine.io/v1alpha1/detectionrules",
            {
                "apiVersion": "quarantine.io/v1alpha1",
                "kind": "DetectionRule",
                "metadata": {"name": self.rule},
                "spec": {
                    "query": RULE_QUERY,
                    "ruleId": self.rule,
                    "severity": "high",
                    "riskScore": 73,
                    "maxSignals": 100000,
                    "response": {"actions": [{"isolate": {}}]},
                },
            },
        )

    def make_pods(self, prefix: str, count: int) -> list[str]:
        names = [f"{prefix}-{i}" for i in range(count)]
        path = f"/api/v1/namespaces/{self.namespace}/pods"

        def create(name: str) -> None:
            self.kube.create(
                path,
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": name, "labels": {"app": prefix}},
                    "spec": {"containers": [{"name": "app", "image": "registry.example/app:1"}]},
                },
            )

        with ThreadPoolExecutor(16) as pool:
            list(pool.map(create, names))
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            pods = self.kube.list_items(path, labelSelector=f"app={prefix}")
            running = [p for p in pods if p["status"].get("phase") == "Running"]
            if len(running) == count:
                return names
            time.sleep(1)
        raise SystemExit(f"only some of {count} pods became Running in 10 minutes")

    def start_quarantine(self) -> None:
        common = [
            f"--kubeconfig={self.args.kubeconfig}",
            f"--namespace={self.namespace}-system",
            f"--watch-namespace={self.namespace}",
            "--admission=off",
            "--pod-cooldown=0",
            "--max-containments=0",
            "--max-containments-per-rule=0",
            f"--workers={self.args.workers}",
            *(["--verbose"] if self.args.verbose else []),
        ]
        if self.args.source == "event":
            token_file = self.workdir / "token"
            token_file.write_text(self.token)
            import socket

            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                self.matcher_port = sock.getsockname()[1]
            command = [
                str(QUARANTINE),
                "run",
                *common,
                f"--listen=127.0.0.1:{self.matcher_port}",
                f"--token-file={token_file}",
            ]
        else:
            command = [str(QUARANTINE), "operator", *common]
        log = (self.workdir / "quarantine.log").open("w")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 60
        while (
            "Initial authentication has finished"
            not in (self.workdir / "quarantine.log").read_text()
        ):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"quarantine did not start; see {self.workdir}/quarantine.log")
            time.sleep(0.2)
        if self.args.source == "event":
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{self.matcher_port}/readyz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
        time.sleep(1)  # let the Alert watch start

    # --- attacks -------------------------------------------------------------------------------

    def alert_name(self, pod: str) -> str:
        return f"{pod}-attack"

    def attack(self, pod: str) -> float:
        """Hand one attack to Quarantine; return when it was handed over (monotonic)."""
        started = time.monotonic()
        if self.args.source == "event":
            container_id = self.container_id(pod)
            event = {
                "@timestamp": now_rfc3339(),
                "event": {"category": ["process"], "type": ["start"], "kind": "event"},
                "process": {
                    "name": "tar",
                    # Matches the benchmark's rule only, not the founding rule (no secret file).
                    "args": ["tar", "czf", "/tmp/b.tgz", "/tmp/data"],
                },
                "container": {"id": container_id},
                "orchestrator": {"namespace": self.namespace, "resource": {"name": pod}},
            }
            response = httpx.post(
                f"http://127.0.0.1:{self.matcher_port}/v1/events?format=ecs",
                content=json.dumps(event) + "\n",
                headers={"Authorization": f"Bearer {self.token}"},
                timeout=30,
            )
            response.raise_for_status()
            return started
        self.kube.create(
            f"/apis/quarantine.io/v1alpha1/namespaces/{self.namespace}/alerts",
            {
                "apiVersion": "quarantine.io/v1alpha1",
                "kind": "Alert",
                "metadata": {"name": self.alert_name(pod)},
                "spec": {
                    "rule": {
                        "name": self.rule,
                        "ruleId": self.rule,
                        "severity": "high",
                        "riskScore": 73,
                    },
                    "target": {"namespace": self.namespace, "pod": pod},
                    "source": "matcher",
                    "firstSeen": now_rfc3339(),
                    "lastSeen": now_rfc3339(),
                },
            },
        )
        return started

    def container_id(self, pod: str) -> str:
        if pod not in self._container_ids:
            body = self.kube.get(f"/api/v1/namespaces/{self.namespace}/pods/{pod}")
            raw = body["status"]["containerStatuses"][0]["containerID"]
            self._container_ids[pod] = raw.split("://", 1)[-1]
        return self._container_ids[pod]

    def policy_of(self) -> dict[str, str]:
        """Pod name -> name of the NetworkPolicy isolating it (from the Alerts)."""
        alerts = self.kube.list_items(
            f"/apis/quarantine.io/v1alpha1/namespaces/{self.namespace}/alerts"
        )
        return {a["spec"]["target"]["pod"]: f"quarantine-{a['metadata']['name']}" for a in alerts}

    # --- phases --------------------------------------------------------------------------------

    def latency(self, pods: list[str]) -> list[float]:
        """Sequential attacks; the policy is polled for (every 2 ms), since a watch stream read by
        the Python client adds its own buffering delay to what it reports."""
        samples = []
        policies = f"/apis/networking.k8s.io/v1/namespaces/{self.namespace}/networkpolicies"
        known = {p["metadata"]["name"] for p in self.kube.list_items(policies)}
        for pod in pods:
            if self.args.source == "event":
                self.container_id(pod)  # not part of the measured path
            started = self.attack(pod)
            deadline = started + 60
            while time.monotonic() < deadline:
                if self.args.source == "alert":
                    found = self.kube.get_or_none(f"{policies}/quarantine-{self.alert_name(pod)}")
                    if found is not None:
                        break
                    time.sleep(0.002)
                else:
                    names = {p["metadata"]["name"] for p in self.kube.list_items(policies)}
                    if names - known:
                        known = names
                        break
                    time.sleep(0.01)
            else:
                raise SystemExit(f"no NetworkPolicy for {pod} within 60s")
            samples.append(time.monotonic() - started)
            if self.args.verbose:
                print(f"  {pod}: {samples[-1] * 1000:.0f} ms at {time.time():.3f}")
        return samples

    def burst(self, policies: PolicyWatch, pods: list[str]) -> tuple[float, int, int]:
        if self.args.source == "event":
            for pod in pods:
                self.container_id(pod)
        existing = {
            p["metadata"]["name"]
            for p in self.kube.list_items(
                f"/apis/networking.k8s.io/v1/namespaces/{self.namespace}/networkpolicies"
            )
        }

        def new(seen: dict[str, float]) -> int:
            return len(seen.keys() - existing)

        started = time.monotonic()
        with ThreadPoolExecutor(32) as pool:
            list(pool.map(self.attack, pods))
        posted = time.monotonic() - started
        complete = policies.wait(lambda seen: new(seen) >= len(pods), timeout=600)
        elapsed = time.monotonic() - started
        if not complete:
            print(f"  only {new(policies.seen)} of {len(pods)} policies after 600s")
        alerts_path = f"/apis/quarantine.io/v1alpha1/namespaces/{self.namespace}/alerts"
        deadline = time.monotonic() + 120
        while True:
            contained = {
                a["spec"]["target"]["pod"]
                for a in self.kube.list_items(alerts_path)
                if (a.get("status") or {}).get("phase") == "Contained"
            }
            missing = set(pods) - contained
            if not missing or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        settled = time.monotonic() - started
        print(f"  handed over in {posted:.2f}s; every Alert Contained after {settled:.2f}s")
        final = self.kube.list_items(
            f"/apis/networking.k8s.io/v1/namespaces/{self.namespace}/networkpolicies"
        )
        made = len({p["metadata"]["name"] for p in final} - existing)
        return elapsed, made, len(missing)

    # --- teardown ------------------------------------------------------------------------------

    def teardown(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        base = f"/apis/quarantine.io/v1alpha1/namespaces/{self.namespace}/alerts"
        for item in self.kube.list_items(base):
            with contextlib.suppress(ApiError):
                self.kube.merge_patch(
                    f"{base}/{item['metadata']['name']}", {"metadata": {"finalizers": None}}
                )
        self.kube.delete_if_exists(f"/api/v1/namespaces/{self.namespace}")
        self.kube.delete_if_exists(f"/apis/quarantine.io/v1alpha1/detectionrules/{self.rule}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kubeconfig", default=str(REPO / ".cluster" / "kubeconfig"))
    parser.add_argument("--alerts", type=int, default=200, help="sequential attacks (latency)")
    parser.add_argument("--burst", type=int, default=500, help="simultaneous attacks (load)")
    parser.add_argument("--from", dest="source", choices=("alert", "event"), default="alert")
    parser.add_argument("--workers", type=int, default=32, help="responder threads")
    parser.add_argument("--verbose", action="store_true", help="debug logs from Quarantine")
    args = parser.parse_args()

    bench = Bench(args)
    print(f"namespace {bench.namespace}; clock starts at {args.source} hand-over")
    bench.setup()
    try:
        latency_pods = bench.make_pods("lat", args.alerts) if args.alerts else []
        burst_pods = bench.make_pods("burst", args.burst) if args.burst else []
        bench.start_quarantine()
        if latency_pods:
            samples = bench.latency(latency_pods)
            print(
                f"latency over {len(samples)} containments: "
                f"p50 {statistics.median(samples) * 1000:.0f} ms, "
                f"p90 {percentile(samples, 0.90) * 1000:.0f} ms, "
                f"p99 {percentile(samples, 0.99) * 1000:.0f} ms, "
                f"max {max(samples) * 1000:.0f} ms"
            )
        if burst_pods:
            policies = PolicyWatch(bench.api, bench.namespace)
            elapsed, made, lost = bench.burst(policies, burst_pods)
            policies.stop()
            print(
                f"burst of {len(burst_pods)}: {made} NetworkPolicies in {elapsed:.2f}s "
                f"({made / elapsed:.0f}/s), {lost} not Contained"
            )
    finally:
        bench.teardown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
