#!/usr/bin/env python3
"""A real Kubernetes control plane as plain processes on 127.0.0.1, for development and tests.

etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok (fake nodes: pods are
scheduled and become Running with an IP, no containers run), all built from their Go modules by
`hack/build-controlplane.sh`. Every process is recorded by PID in `<root>/pids.json`, and `down`
stops exactly those.

    python hack/localcluster.py up [--root .cluster] [--nodes 2]
    python hack/localcluster.py down [--root .cluster]
    python hack/localcluster.py status [--root .cluster]
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

REPO_ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
LINKED_BINARIES = (*COMPONENTS, "kubectl", "helm", "kwokctl")
NODE_ANNOTATION = {"kwok.x-k8s.io/node": "fake"}


class ClusterError(RuntimeError):
    """The control plane could not be started or reached; the message says which part failed."""


def log(message: str) -> None:
    print(f"[localcluster] {message}", file=sys.stderr, flush=True)


def build_controlplane() -> Path:
    """Builds the binaries, or reuses the cache, and returns their directory."""
    result = subprocess.run(
        [str(REPO_ROOT / "hack" / "build-controlplane.sh")],
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise ClusterError("hack/build-controlplane.sh failed (its progress is above)")
    return Path(result.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


# --- PKI -------------------------------------------------------------------------------------


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _certificate(
    subject: x509.Name,
    public_key: Any,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool,
    sans: Sequence[x509.GeneralName] = (),
    usages: Sequence[x509.ObjectIdentifier] = (),
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    if usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(usages)), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def write_pki(pki: Path) -> None:
    """A CA, a serving certificate for 127.0.0.1, an admin client certificate, an SA key pair."""
    pki.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "quarantine-local-ca")])
    ca_cert = _certificate(ca_name, ca_key.public_key(), ca_name, ca_key, ca=True)
    _write_key(pki / "ca.key", ca_key)
    (pki / "ca.crt").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))

    serving_key = ec.generate_private_key(ec.SECP256R1())
    serving = _certificate(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]),
        serving_key.public_key(),
        ca_name,
        ca_key,
        ca=False,
        sans=[
            x509.DNSName("localhost"),
            x509.DNSName("kubernetes.default.svc"),
            x509.IPAddress(ipaddress.ip_address(HOST)),
            x509.IPAddress(ipaddress.ip_address("10.96.0.1")),
        ],
        usages=[x509.oid.ExtendedKeyUsageOID.SERVER_AUTH],
    )
    _write_key(pki / "apiserver.key", serving_key)
    (pki / "apiserver.crt").write_bytes(serving.public_bytes(serialization.Encoding.PEM))

    admin_key = ec.generate_private_key(ec.SECP256R1())
    admin = _certificate(
        x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:masters"),
                x509.NameAttribute(NameOID.COMMON_NAME, "admin"),
            ]
        ),
        admin_key.public_key(),
        ca_name,
        ca_key,
        ca=False,
        usages=[x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH],
    )
    _write_key(pki / "admin.key", admin_key)
    (pki / "admin.crt").write_bytes(admin.public_bytes(serialization.Encoding.PEM))

    # Service account tokens are signed with RSA, the algorithm every client verifies.
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _write_key(pki / "sa.key", sa_key)
    (pki / "sa.pub").write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def write_kubeconfig(path: Path, pki: Path, server: str) -> None:
    import base64

    def b64(name: str) -> str:
        return base64.b64encode((pki / name).read_bytes()).decode()

    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "quarantine-local",
                "cluster": {"server": server, "certificate-authority-data": b64("ca.crt")},
            }
        ],
        "users": [
            {
                "name": "admin",
                "user": {
                    "client-certificate-data": b64("admin.crt"),
                    "client-key-data": b64("admin.key"),
                },
            }
        ],
        "contexts": [
            {
                "name": "quarantine-local",
                "context": {"cluster": "quarantine-local", "user": "admin"},
            }
        ],
        "current-context": "quarantine-local",
    }
    # JSON is valid YAML, and every kubeconfig reader accepts it.
    path.write_text(json.dumps(kubeconfig, indent=2))
    path.chmod(0o600)


# --- the cluster -----------------------------------------------------------------------------


@dataclass
class LocalCluster:
    """One local control plane rooted at `root` (kubeconfig, PKI, data, logs, PIDs)."""

    root: Path
    bin_dir: Path | None = None
    nodes: int = 2
    ports: dict[str, int] = field(default_factory=dict)
    # Processes this object started, so start-up can tell "exited" from "not yet exec'd".
    _children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict, repr=False)

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def linked_bin(self) -> Path:
        return self.root / "bin"

    @property
    def _state_file(self) -> Path:
        return self.root / "pids.json"

    @property
    def server(self) -> str:
        return f"https://{HOST}:{self.ports['apiserver']}"

    # -- state --

    def _read_state(self) -> dict[str, Any]:
        try:
            state: dict[str, Any] = json.loads(self._state_file.read_text())
            return state
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def _write_state(self, pids: dict[str, int]) -> None:
        state = {"pids": pids, "ports": self.ports, "bin_dir": str(self.bin_dir)}
        self._state_file.write_text(json.dumps(state, indent=2))

    def running_pids(self) -> dict[str, int]:
        """Recorded processes that are still alive and are still the binary we started."""
        alive = {}
        for name, pid in self._read_state().get("pids", {}).items():
            if _is_our_process(pid, name):
                alive[name] = pid
        return alive

    def is_running(self) -> bool:
        state = self._read_state()
        if not state or len(self.running_pids()) != len(COMPONENTS):
            return False
        self.ports = state["ports"]
        self.bin_dir = Path(state["bin_dir"])
        return self._api_ready()

    # -- start --

    def up(self) -> None:
        if self.is_running():
            self._link_binaries()  # cheap, and repairs links removed by hand
            log(
                f"already running at {self.server} (kubeconfig {self.kubeconfig});"
                " not starting another"
            )
            return
        leftovers = self.running_pids()
        if leftovers:
            log(f"stopping a half-started cluster first: {leftovers}")
            self.down()
        if self.bin_dir is None:
            self.bin_dir = build_controlplane()
        started = time.monotonic()
        self.root.mkdir(parents=True, exist_ok=True)
        for stale in ("etcd-data", "pki"):
            shutil.rmtree(self.root / stale, ignore_errors=True)
        self.logs_dir.mkdir(exist_ok=True)
        self._link_binaries()
        write_pki(self.root / "pki")
        self.ports = {
            name: free_port() for name in ("etcd", "etcd-peer", "apiserver", "kcm", "scheduler")
        }
        write_kubeconfig(self.kubeconfig, self.root / "pki", self.server)
        pids: dict[str, int] = {}
        try:
            pids["etcd"] = self._spawn("etcd", self._etcd_args())
            self._write_state(pids)
            self._wait("etcd", self._etcd_ready, 30)
            pids["kube-apiserver"] = self._spawn("kube-apiserver", self._apiserver_args())
            self._write_state(pids)
            self._wait("kube-apiserver", self._api_ready, 90)
            pids["kube-controller-manager"] = self._spawn(
                "kube-controller-manager", self._controller_manager_args()
            )
            pids["kube-scheduler"] = self._spawn("kube-scheduler", self._scheduler_args())
            pids["kwok"] = self._spawn("kwok", self._kwok_args())
            self._write_state(pids)
            self._create_nodes()
            self._wait("nodes Ready", self._nodes_ready, 60)
            self._wait("the default ServiceAccount", self._default_service_account, 60)
        except BaseException:
            self._write_state(pids)
            self.print_log_tails()
            self.down()
            raise
        log(f"ready in {time.monotonic() - started:.1f}s: {self.server}")
        log(f"  export KUBECONFIG={self.kubeconfig}")

    def _link_binaries(self) -> None:
        assert self.bin_dir is not None
        self.linked_bin.mkdir(parents=True, exist_ok=True)
        for name in LINKED_BINARIES:
            link = self.linked_bin / name
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(self.bin_dir / name)

    def _spawn(self, name: str, args: list[str]) -> int:
        assert self.bin_dir is not None
        log_file = (self.logs_dir / f"{name}.log").open("wb")
        process = subprocess.Popen(
            [str(self.bin_dir / name), *args],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.root,
            # Its own session: `make cluster-up` returns while the cluster keeps running, and a
            # Ctrl-C in the developer's terminal does not reach it.
            start_new_session=True,
        )
        log_file.close()
        self._children[name] = process
        return process.pid

    def _wait(self, what: str, ready: Any, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return
            for name, process in self._children.items():
                if process.poll() is not None:
                    raise ClusterError(
                        f"{name} exited with code {process.returncode} while waiting for {what};"
                        f" see {self.logs_dir / (name + '.log')}"
                    )
            time.sleep(0.25)
        raise ClusterError(
            f"timed out after {timeout:.0f}s waiting for {what}; see {self.logs_dir}"
        )

    # -- component arguments --

    def _etcd_args(self) -> list[str]:
        client = f"http://{HOST}:{self.ports['etcd']}"
        peer = f"http://{HOST}:{self.ports['etcd-peer']}"
        return [
            "--name=n0",
            f"--data-dir={self.root / 'etcd-data'}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=n0={peer}",
            "--unsafe-no-fsync=true",
            "--auto-compaction-retention=1",
            "--quota-backend-bytes=4294967296",
        ]

    def _apiserver_args(self) -> list[str]:
        pki = self.root / "pki"
        return [
            f"--etcd-servers=http://{HOST}:{self.ports['etcd']}",
            f"--bind-address={HOST}",
            f"--advertise-address={HOST}",
            f"--secure-port={self.ports['apiserver']}",
            f"--cert-dir={pki}",
            f"--tls-cert-file={pki / 'apiserver.crt'}",
            f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--client-ca-file={pki / 'ca.crt'}",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            f"--service-account-issuer=https://{HOST}:{self.ports['apiserver']}",
            "--service-cluster-ip-range=10.96.0.0/12",
            "--allow-privileged=true",
            "--authorization-mode=RBAC",
            # Loopback endpoint addresses are invalid for the `kubernetes` Service.
            "--endpoint-reconciler-type=none",
            # With it, pods created before their namespace's `default` ServiceAccount exists are
            # refused, which makes tests racy; no kubelet mounts tokens here anyway.
            "--disable-admission-plugins=ServiceAccount",
            # PodTemplates (which nothing here uses) are watched from etcd itself, not from the
            # API server's cache, so a test can expire a watch's history by compacting etcd.
            "--watch-cache-sizes=podtemplates#0",
        ]

    def _component_kubeconfig_args(self) -> list[str]:
        return [
            f"--kubeconfig={self.kubeconfig}",
            f"--authentication-kubeconfig={self.kubeconfig}",
            f"--authorization-kubeconfig={self.kubeconfig}",
            f"--bind-address={HOST}",
            "--leader-elect=false",
            "--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics",
        ]

    def _controller_manager_args(self) -> list[str]:
        pki = self.root / "pki"
        return [
            *self._component_kubeconfig_args(),
            f"--secure-port={self.ports['kcm']}",
            f"--root-ca-file={pki / 'ca.crt'}",
            f"--service-account-private-key-file={pki / 'sa.key'}",
            "--cluster-signing-cert-file=" + str(pki / "ca.crt"),
            "--cluster-signing-key-file=" + str(pki / "ca.key"),
            "--controllers=*,-nodeipam,-cloud-node-lifecycle",
        ]

    def _scheduler_args(self) -> list[str]:
        return [*self._component_kubeconfig_args(), f"--secure-port={self.ports['scheduler']}"]

    def _kwok_args(self) -> list[str]:
        assert self.bin_dir is not None
        stages = self.root / "kwok-stages.yaml"
        stock = self.bin_dir.parent / "kwok-stages"
        parts = [p.read_text() for p in sorted(stock.glob("*.yaml"))]
        parts.append((REPO_ROOT / "hack" / "kwok-pod-ready.yaml").read_text())
        stages.write_text("\n---\n".join(parts))
        return [
            f"--kubeconfig={self.kubeconfig}",
            "--manage-all-nodes=false",
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
            f"--config={stages}",
            "--cidr=10.244.0.0/16",
            "--node-lease-duration-seconds=40",
            "--node-ip=10.0.0.1",
        ]

    # -- readiness --

    def _etcd_ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{HOST}:{self.ports['etcd']}/health", timeout=2):
                return True
        except (urllib.error.URLError, OSError):
            return False

    def _ssl_context(self) -> ssl.SSLContext:
        pki = self.root / "pki"
        context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        context.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
        return context

    def _api_ready(self) -> bool:
        try:
            with urllib.request.urlopen(
                f"{self.server}/readyz", timeout=2, context=self._ssl_context()
            ) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError, ssl.SSLError):
            return False

    def _create_nodes(self) -> None:
        for index in range(self.nodes):
            node = {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": f"kwok-node-{index}",
                    "annotations": NODE_ANNOTATION,
                    "labels": {
                        "kubernetes.io/hostname": f"kwok-node-{index}",
                        "kubernetes.io/os": "linux",
                        "type": "kwok",
                    },
                },
                "spec": {"podCIDR": f"10.244.{index}.0/24", "podCIDRs": [f"10.244.{index}.0/24"]},
            }
            self.kubectl("apply", "-f", "-", input=json.dumps(node))

    def _nodes_ready(self) -> bool:
        result = self.kubectl(
            "get",
            "nodes",
            "-o",
            "jsonpath={range .items[*]}{.status.conditions[?(@.type=='Ready')].status}{'\\n'}{end}",
            check=False,
        )
        statuses = result.stdout.split()
        return len(statuses) == self.nodes and all(s == "True" for s in statuses)

    def _default_service_account(self) -> bool:
        result = self.kubectl("get", "serviceaccount", "default", "-n", "default", check=False)
        return result.returncode == 0

    # -- use --

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        assert self.bin_dir is not None
        result = subprocess.run(
            [str(self.bin_dir / "kubectl"), f"--kubeconfig={self.kubeconfig}", *args],
            input=input,
            capture_output=True,
            text=True,
            check=False,
        )
        if check and result.returncode != 0:
            raise ClusterError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
        return result

    def helm(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        assert self.bin_dir is not None
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig)}
        env.setdefault("HELM_CACHE_HOME", str(self.root / "helm" / "cache"))
        env.setdefault("HELM_CONFIG_HOME", str(self.root / "helm" / "config"))
        env.setdefault("HELM_DATA_HOME", str(self.root / "helm" / "data"))
        result = subprocess.run(
            [str(self.bin_dir / "helm"), *args],
            input=input,
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )
        if check and result.returncode != 0:
            raise ClusterError(f"helm {' '.join(args)} failed: {result.stderr.strip()}")
        return result

    def api_client(self) -> Any:
        """A `kubernetes.client.ApiClient` for the admin identity."""
        from kubernetes import client, config

        configuration = client.Configuration()
        config.load_kube_config(
            config_file=str(self.kubeconfig), client_configuration=configuration
        )
        return client.ApiClient(configuration)

    def print_log_tails(self, lines: int = 30) -> None:
        for name in COMPONENTS:
            path = self.logs_dir / f"{name}.log"
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                print(f"----- {name} log (last {len(tail)} lines, {path}) -----", file=sys.stderr)
                print("\n".join(tail), file=sys.stderr)

    # -- stop --

    def down(self) -> None:
        pids = self._read_state().get("pids", {})
        # Reverse start order: the API server's clients first, etcd last.
        for name in reversed(COMPONENTS):
            pid = pids.get(name)
            if pid is not None and _is_our_process(pid, name):
                terminate(pid, name, still_running=_is_our_process)
        self._state_file.unlink(missing_ok=True)
        log("stopped")


def _is_our_process(pid: int, binary: str) -> bool:
    """True when `pid` is alive and runs `binary`, so a recycled PID is never signalled."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    if stat.rsplit(")", 1)[-1].split()[0] == "Z":
        return False
    return bool(cmdline) and Path(cmdline[0].decode()).name == binary


def terminate(
    pid: int, name: str, *, still_running: Callable[[int, str], bool], grace: float = 10
) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds; `still_running` guards against PID reuse."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not still_running(pid, name):
            return
        time.sleep(0.1)
    log(f"{name} (pid {pid}) ignored SIGTERM for {grace:.0f}s; killing it")
    os.kill(pid, signal.SIGKILL)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("action", choices=["up", "down", "status"])
    parser.add_argument("--root", type=Path, default=REPO_ROOT / ".cluster")
    parser.add_argument("--nodes", type=int, default=2)
    args = parser.parse_args(argv)
    cluster = LocalCluster(root=args.root.resolve(), nodes=args.nodes)
    try:
        if args.action == "up":
            cluster.up()
        elif args.action == "down":
            cluster.down()
        elif cluster.is_running():
            print(f"running: {cluster.server} (kubeconfig {cluster.kubeconfig})")
        else:
            print("not running")
            return 1
    except ClusterError as error:
        print(f"localcluster: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
