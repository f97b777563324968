#!/usr/bin/env python3
"""The end-to-end demo on the local control plane: a pod archives an SSH key and is contained.

    python hack/demo.py up     # or `make demo`
    python hack/demo.py down   # or `make demo-down`

`up` starts the local control plane (hack/localcluster.py), installs the chart with its workloads
turned off (CRDs, RBAC, ServiceAccounts, the intake token), runs `quarantine run` (matcher and
responder in one process) here in the background against it (it registers its admission webhook
for the local API server), applies the founding rule, starts the Deployment `web` in namespace
`demo`, replays the attack (`tar` of /root/.ssh/id_rsa inside web's container, with the pod's
real container id) to the intake with the token, and shows the Alert Contained with its
NetworkPolicy. Everything keeps running; `.cluster/quarantine.env` says how to reach it.

`down` stops exactly the processes `up` started (by PID) and then the control plane. Rerunning
`up` reuses whatever already runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent))

from localcluster import REPO_ROOT, ClusterError, LocalCluster, free_port, terminate

RELEASE = "quarantine"
SYSTEM_NAMESPACE = "quarantine-system"
DEMO_NAMESPACE = "demo"
RULE_FILE = REPO_ROOT / "crds" / "examples" / "sensitive-files-compression.yaml"
RULE_NAME = "sensitive-files-compression"
QUARANTINE = Path(sys.executable).parent / "quarantine"
# The chart supplies what a cluster install has (CRDs, RBAC, the token Secret); the workloads
# themselves run here as local processes, since kwok nodes run no containers.
CHART_VALUES = (
    "operator.replicas=0",
    "matcher.enabled=false",
    "webhook.enabled=false",
    "networkPolicy.enabled=false",
    "podDisruptionBudget.enabled=false",
    "tests.enabled=false",
)
WEB_DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": DEMO_NAMESPACE, "labels": {"app": "web"}},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
        },
    },
}
T = TypeVar("T")


class DemoError(RuntimeError):
    """A step failed; the message says which and where to look."""


class Progress:
    """Numbered steps with elapsed time, so a slow step is visibly still working."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.step = 0

    def __call__(self, message: str) -> None:
        self.step += 1
        print(f"\n[{self.elapsed()}] {self.step}. {message}", flush=True)

    def detail(self, message: str) -> None:
        print(f"           {message}", flush=True)

    def elapsed(self) -> str:
        return f"{time.monotonic() - self.started:5.1f}s"


def wait_for(what: str, check: Callable[[], T | None], timeout: float, progress: Progress) -> T:
    deadline = time.monotonic() + timeout
    next_note = time.monotonic() + 10
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if time.monotonic() >= next_note:
            progress.detail(f"... still waiting for {what} ({progress.elapsed()})")
            next_note += 10
        time.sleep(0.5)
    raise DemoError(f"timed out after {timeout:.0f}s waiting for {what}")


# --- local Quarantine processes ------------------------------------------------------------


class LocalProcesses:
    """The Quarantine process started here, recorded by PID in `<root>/demo.json`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.state_file = root / "demo.json"
        self.logs = root / "logs"
        self.children: dict[str, subprocess.Popen[bytes]] = {}

    def read(self) -> dict[str, Any]:
        try:
            state: dict[str, Any] = json.loads(self.state_file.read_text())
            return state
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def write(self, state: dict[str, Any]) -> None:
        self.state_file.write_text(json.dumps(state, indent=2))

    def alive(self, name: str) -> bool:
        child = self.children.get(name)
        if child is not None:
            # Started by this run: ask the kernel through our own child handle.
            return child.poll() is None
        entry = self.read().get(name)
        return entry is not None and is_quarantine_process(entry["pid"], name)

    def start(self, name: str, args: list[str], extra: dict[str, Any]) -> int:
        self.logs.mkdir(parents=True, exist_ok=True)
        log_path = self.logs / f"quarantine-{name}.log"
        with log_path.open("ab") as log_file:
            process = subprocess.Popen(
                [str(QUARANTINE), name, *args],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.root,
                # Survives the end of `make demo`; a Ctrl-C in the terminal does not reach it.
                start_new_session=True,
            )
        self.children[name] = process
        state = self.read()
        state[name] = {"pid": process.pid, "log": str(log_path), **extra}
        self.write(state)
        return process.pid

    def stop_all(self) -> list[str]:
        stopped = []
        state = self.read()
        # On SIGTERM `quarantine run` removes the webhook configuration it registered.
        for name in ("run",):
            entry = state.get(name)
            if entry and is_quarantine_process(entry["pid"], name):
                terminate(entry["pid"], name, still_running=is_quarantine_process, grace=20)
                stopped.append(f"{name} (pid {entry['pid']})")
        self.state_file.unlink(missing_ok=True)
        return stopped


def is_quarantine_process(pid: int, subcommand: str) -> bool:
    """True when `pid` is alive and is `quarantine <subcommand>`: a recycled PID is never hit."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return False
    words = [part.decode(errors="replace") for part in argv if part]
    return state != "Z" and subcommand in words and any(w.endswith("quarantine") for w in words)


def http_status(url: str, *, body: bytes | None = None, token: str | None = None) -> int:
    request = urllib.request.Request(url, data=body, method="GET" if body is None else "POST")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


# --- the demo steps ------------------------------------------------------------------------


class Demo:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.cluster = LocalCluster(root=root)
        self.processes = LocalProcesses(root)
        self.progress = Progress()

    def kubectl(self, *args: str, input: str | None = None) -> str:
        return self.cluster.kubectl(*args, input=input).stdout

    def kubectl_json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json"))

    # -- up --

    def up(self) -> None:
        step = self.progress
        step("Local control plane (etcd, kube-apiserver, controllers, kwok)")
        self.cluster.up()
        step.detail(f"API server {self.cluster.server}")

        step(f"Chart '{RELEASE}' without workloads: CRDs, RBAC, ServiceAccounts, intake token")
        self.install_chart()
        token = self.read_token()

        step("`quarantine run` (matcher and responder), running here against the cluster")
        ingest_url, liveness_url = self.start_quarantine()
        step.detail(f"intake {ingest_url}, liveness {liveness_url}")
        step.detail(f"log {self.processes.logs / 'quarantine-run.log'}")
        self.write_env(ingest_url, token)

        step(f"The founding rule: {RULE_FILE.relative_to(REPO_ROOT)}")
        self.apply_rule()

        step(f"Sample workload: Deployment 'web' in namespace '{DEMO_NAMESPACE}'")
        pod = self.start_workload()
        container_id = pod["status"]["containerStatuses"][0]["containerID"]
        step.detail(f"pod {pod['metadata']['name']} on {pod['spec']['nodeName']}, {container_id}")

        step("Attack: `tar czf /tmp/k.tgz /root/.ssh/id_rsa` inside web's container, replayed")
        self.replay_attack(ingest_url, token, pod)

        step("Containment")
        alert = self.wait_for_contained(pod["metadata"]["name"])
        self.show_containment(alert)
        self.print_next_steps(alert, ingest_url)

    def install_chart(self) -> None:
        args = ["upgrade", "--install", RELEASE, str(REPO_ROOT / "charts" / "quarantine")]
        args += ["-n", SYSTEM_NAMESPACE, "--create-namespace", "--wait", "--timeout", "120s"]
        for value in CHART_VALUES:
            args += ["--set", value]
        self.cluster.helm(*args)
        crds = self.kubectl("get", "crd", "-o", "name")
        for name in ("detectionrules.quarantine.io", "alerts.quarantine.io"):
            if name not in crds:
                raise DemoError(f"the chart did not install CRD {name}")
            self.kubectl("wait", "--for=condition=Established", f"crd/{name}", "--timeout=60s")
        self.progress.detail("CRDs Established; RBAC and the token Secret in " + SYSTEM_NAMESPACE)

    def read_token(self) -> str:
        import base64

        secret = self.kubectl_json(
            "get", "secret", f"{RELEASE}-ingest-token", "-n", SYSTEM_NAMESPACE
        )
        token = base64.b64decode(secret["data"]["token"]).decode()
        path = self.root / "ingest-token"
        path.write_text(token)
        path.chmod(0o600)
        return token

    def start_quarantine(self) -> tuple[str, str]:
        """`quarantine run`: matcher and responder in one process, as the design's default."""
        state = self.processes.read()
        if self.processes.alive("run"):
            entry = state["run"]
            self.progress.detail(f"already running (pid {entry['pid']})")
            ingest_url, liveness_url = entry["url"], entry["liveness"]
        else:
            port = free_port()
            ingest_url = f"http://127.0.0.1:{port}"
            liveness_url = f"http://127.0.0.1:{free_port()}/healthz"
            self.processes.start(
                "run",
                [
                    f"--kubeconfig={self.cluster.kubeconfig}",
                    f"--namespace={SYSTEM_NAMESPACE}",
                    # Registers the webhook for the local API server with a generated certificate.
                    "--admission=local",
                    f"--liveness={liveness_url}",
                    f"--listen=127.0.0.1:{port}",
                    f"--token-file={self.root / 'ingest-token'}",
                ],
                {"url": ingest_url, "liveness": liveness_url},
            )
        self.wait_for_process(
            "the matcher to be ready", lambda: http_status(f"{ingest_url}/readyz") == 200
        )
        self.wait_for_process("the responder's liveness", lambda: http_status(liveness_url) == 200)
        self.wait_for_process("the admission webhook to be registered", self.webhook_registered)
        return ingest_url, liveness_url

    def wait_for_process(self, what: str, ready: Callable[[], bool]) -> None:
        def check() -> bool:
            if not self.processes.alive("run"):
                log = self.processes.logs / "quarantine-run.log"
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
                raise DemoError(f"quarantine run exited; the end of {log}:\n{tail}")
            return ready()

        wait_for(what, check, 90, self.progress)

    def webhook_registered(self) -> bool:
        names = self.kubectl("get", "validatingwebhookconfigurations", "-o", "name")
        return "quarantine" in names

    def write_env(self, ingest_url: str, token: str) -> None:
        path = self.root / "quarantine.env"
        path.write_text(
            f"QUARANTINE_INGEST_URL={ingest_url}\n"
            f"QUARANTINE_TOKEN={token}\n"
            f"KUBECONFIG={self.cluster.kubeconfig}\n"
            # The kubectl and helm built for this cluster, ahead of any older ones installed.
            f"PATH={self.cluster.linked_bin}:$PATH\n"
        )
        path.chmod(0o600)
        self.progress.detail(f"wrote {path}")

    def apply_rule(self) -> None:
        self.kubectl("apply", "-f", str(RULE_FILE))

        def ready() -> bool:
            rule = self.kubectl_json("get", "detectionrule", RULE_NAME)
            conditions = (rule.get("status") or {}).get("conditions") or []
            return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

        try:
            wait_for("the rule to report Ready", ready, 30, self.progress)
        except DemoError:
            # Readiness is reported by the matcher; evaluation does not wait for it.
            self.progress.detail("(the rule did not report Ready; continuing)")
        print(self.kubectl("get", "detectionrules"), end="")

    def start_workload(self) -> dict[str, Any]:
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": DEMO_NAMESPACE}}
        self.kubectl("apply", "-f", "-", input=json.dumps(namespace))
        self.kubectl("apply", "-f", "-", input=json.dumps(WEB_DEPLOYMENT))

        # Always the oldest pod, so a rerun attacks the same pod again (its Alert's count goes
        # up) instead of contaminating the other replica.
        def running_pod() -> dict[str, Any] | None:
            pods = self.kubectl_json("get", "pods", "-n", DEMO_NAMESPACE)["items"]
            web = [p for p in pods if p["metadata"].get("labels", {}).get("app") == "web"]
            for pod in sorted(
                web, key=lambda p: (p["metadata"]["creationTimestamp"], p["metadata"]["name"])
            ):
                statuses = pod.get("status", {}).get("containerStatuses") or []
                if pod["status"].get("phase") == "Running" and statuses[0].get("containerID"):
                    return dict(pod)
            return None

        return wait_for("a Running web pod with a container id", running_pod, 90, self.progress)

    def replay_attack(self, ingest_url: str, token: str, pod: dict[str, Any]) -> None:
        container_id = pod["status"]["containerStatuses"][0]["containerID"].split("://", 1)[-1]
        now = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        # An Elastic Defend for Containers process event (ECS), as the agent on the node sends it.
        event = {
            "@timestamp": now,
            "event": {
                "kind": "event",
                "category": ["process"],
                "type": ["start"],
                "action": "exec",
                "ingested": now,
                "module": "cloud_defend",
                "dataset": "cloud_defend.process",
            },
            "process": {
                "name": "tar",
                "executable": "/usr/bin/tar",
                "args": ["tar", "czf", "/tmp/k.tgz", "/root/.ssh/id_rsa"],
                "pid": 4242,
                "interactive": True,
                "parent": {"name": "bash", "executable": "/bin/bash", "pid": 4200},
            },
            "user": {"id": "0", "name": "root"},
            "container": {"id": container_id, "image": {"name": "nginx", "tag": "1.27"}},
            "orchestrator": {
                "namespace": DEMO_NAMESPACE,
                "resource": {"name": pod["metadata"]["name"], "type": "pod"},
            },
            "host": {"name": pod["spec"]["nodeName"]},
        }
        body = (json.dumps(event) + "\n").encode()
        refused = http_status(f"{ingest_url}/v1/events", body=body)
        self.progress.detail(f"without the token the intake answers {refused}")
        request = urllib.request.Request(
            f"{ingest_url}/v1/events?format=ecs", data=body, method="POST"
        )
        request.add_header("Authorization", f"Bearer {token}")
        request.add_header("Content-Type", "application/x-ndjson")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                answer = response.read().decode()
                self.progress.detail(f"with the token: {response.status} {answer}")
        except urllib.error.HTTPError as error:
            raise DemoError(
                f"the intake refused the event: {error.code} {error.read().decode()}"
            ) from None

    def wait_for_contained(self, pod_name: str) -> dict[str, Any]:
        def contained() -> dict[str, Any] | None:
            alerts = self.kubectl_json("get", "alerts", "-n", DEMO_NAMESPACE)["items"]
            for alert in alerts:
                if alert["spec"]["target"].get("pod") != pod_name:
                    continue
                phase = (alert.get("status") or {}).get("phase")
                if phase in {"Contained", "Partial", "Failed", "Skipped", "DryRun"}:
                    return dict(alert)
            return None

        alert = wait_for("the Alert's playbook to finish", contained, 90, self.progress)
        phase = alert["status"]["phase"]
        if phase != "Contained":
            message = alert["status"].get("message", "")
            raise DemoError(f"Alert {alert['metadata']['name']} ended {phase}: {message}")
        return alert

    def show_containment(self, alert: dict[str, Any]) -> None:
        name = alert["metadata"]["name"]
        print(self.kubectl("get", "alerts", "-n", DEMO_NAMESPACE, "-o", "wide"), end="")
        for action in alert["status"].get("actions", []):
            self.progress.detail(
                f"{action['action']}: {action['result']}, {action.get('message', '')}"
            )
        print(self.kubectl("get", "networkpolicies", "-n", DEMO_NAMESPACE), end="")
        print(self.kubectl("get", "pods", "-n", DEMO_NAMESPACE, "--show-labels"), end="")
        self.progress.detail(f"Alert {name} is Contained ({self.progress.elapsed()} in all)")

    def print_next_steps(self, alert: dict[str, Any], ingest_url: str) -> None:
        name = alert["metadata"]["name"]
        env = self.root / "quarantine.env"
        print(
            f"""
Quarantine keeps running against the local cluster.

  set -a; . {env}; set +a   # KUBECONFIG, QUARANTINE_INGEST_URL, QUARANTINE_TOKEN, PATH
  kubectl -n {DEMO_NAMESPACE} get alert {name} -o yaml
  kubectl -n {DEMO_NAMESPACE} get networkpolicy -o yaml

Release the pod (undoes the isolation and labels):

  kubectl -n {DEMO_NAMESPACE} patch alert {name} --type merge -p '{{"spec":{{"release":true}}}}'

Send your own events (NDJSON, ECS / Tetragon / Falco JSON):

  curl -H "Authorization: Bearer $QUARANTINE_TOKEN" --data-binary @events.ndjson \\
    "$QUARANTINE_INGEST_URL/v1/events"

Stop everything:  make demo-down
"""
        )

    # -- down --

    def down(self) -> None:
        stopped = self.processes.stop_all()
        print(f"[demo] stopped {', '.join(stopped) if stopped else 'no Quarantine process'}")
        self.cluster.down()
        for leftover in ("quarantine.env", "ingest-token"):
            (self.root / leftover).unlink(missing_ok=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("action", choices=["up", "down"])
    parser.add_argument("--root", type=Path, default=REPO_ROOT / ".cluster")
    args = parser.parse_args(argv)
    demo = Demo(args.root.resolve())
    try:
        if args.action == "up":
            demo.up()
        else:
            demo.down()
    except (DemoError, ClusterError) as error:
        print(f"\ndemo: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
