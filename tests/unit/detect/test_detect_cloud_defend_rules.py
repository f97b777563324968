"""Elastic's own cloud_defend rules through the index: nothing that matches is ever skipped."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from quarantine.detect import Detector, RuleSet
from quarantine.elastic_import import NotEqlRuleError, load_elastic_rule
from quarantine.events import normalise

NAMES = [
    "tar", "zip", "nsenter", "curl", "wget", "nc", "ncat", "socat", "bash", "sh", "busybox",
    "python3", "perl", "ruby", "php", "base64", "openssl", "cat", "env", "printenv", "chmod",
    "ls", "find", "grep", "id", "whoami", "mount", "unshare", "chroot", "kubectl", "crictl",
    "jq", "ssh", "echo", "kill", "apt-get", "nginx", "node", "java", "xxd", ".hidden",
]  # fmt: skip
ARGS = [
    "/root/.ssh/id_rsa", "/etc/shadow", "-o", "-O", "/tmp/x", "http://10.0.0.1:10250/pods",
    "/var/run/secrets/kubernetes.io/serviceaccount/token",
    "/var/run/secrets/kubernetes.io/serviceaccount/namespace", "--privileged", "run",
    "kubeletctl", "-c", "import base64;base64.b64decode(x)", "-d", "--socks5-hostname",
    "-lvnp", "4444", "-t", "1", "-m", "+x", "-e", "system(id)", "enc", "-base64", "tar",
    "curl", "nc", "env", "/var/lib/kubelet/pki/kubelet.crt", "10.0.0.1:22:10.0.0.2:80",
    "-R", "-L", "*:6379", "daemon off;", "-la", "/app", "~/.bash_history", "rm",
]  # fmt: skip
EXECUTABLE_DIRS = ["/usr/bin/", "/bin/", "/tmp/", "/dev/shm/", "/usr/local/bin/"]
FILE_PATHS = [
    "/etc/ld.so.preload", "/root/.ssh/authorized_keys", "/var/lib/kubelet/pki/x.crt",
    "/var/run/secrets/kubernetes.io/serviceaccount/token", "/tmp/payload", "/etc/cron.d/job",
    "/sys/fs/cgroup/release_agent", "/app/log.txt", "/root/.bash_history",
]  # fmt: skip


def _rules(shared_dir: Path) -> RuleSet:
    folder = shared_dir / "elastic-rules" / "cloud_defend"
    rules = []
    for path in sorted(folder.glob("*.toml")):
        try:
            rules.append(load_elastic_rule(path))
        except NotEqlRuleError:
            continue
    ruleset = RuleSet.from_rules(rules)
    assert ruleset.errors == {}
    assert len(ruleset.rules) == 48
    return ruleset


def _random_event(rng: random.Random, index: int) -> dict[str, Any]:
    name = rng.choice(NAMES)
    args = [name, *rng.sample(ARGS, rng.randrange(0, 4))]
    is_file = rng.random() < 0.25
    event: dict[str, Any] = {
        "@timestamp": "2024-05-01T12:00:00Z",
        "event": {
            "id": str(index),
            "category": ["file"] if is_file else ["process"],
            "type": [rng.choice(["creation", "change", "deletion"]) if is_file else "start"],
            "action": rng.choice(["open", "creation", "rename"]) if is_file else "exec",
        },
        "host": {"os": {"type": "linux"}},
        "container": {"id": f"{rng.randrange(4):064x}"},
        "user": {"id": rng.choice(["0", "1000"])},
        "process": {
            "name": name,
            "args": args,
            "executable": rng.choice(EXECUTABLE_DIRS) + name,
            "interactive": rng.random() < 0.5,
            "parent": {"name": rng.choice(NAMES), "executable": "/bin/" + rng.choice(NAMES)},
            "entry_leader": {
                "entry_meta": {"type": "container"},
                "same_as_process": rng.choice([True, False, "true"]),
            },
            "working_directory": "/",
        },
    }
    if is_file:
        path = rng.choice(FILE_PATHS)
        event["file"] = {"path": path, "name": path.rsplit("/", 1)[-1]}
    return event


def test_index_never_skips_a_matching_rule_and_skips_most(shared_dir: Path) -> None:
    ruleset = _rules(shared_dir)
    rng = random.Random(1)
    matches = 0
    candidates_seen = 0
    count = 3000
    for index in range(count):
        event = _random_event(rng, index)
        candidates = {id(rule) for rule in ruleset.index.candidates(event)}
        candidates_seen += len(candidates)
        for rule in ruleset.rules:
            if rule.query.kind == "event" and rule.query.matches(event):
                matches += 1
                assert id(rule) in candidates, f"{rule.name} skipped for {event}"
    assert matches > 100  # the events do exercise the rules
    assert candidates_seen / count < 12  # of 48 rules


def test_founding_rule_on_a_tetragon_exec(shared_dir: Path) -> None:
    ruleset = _rules(shared_dir)
    raw = {
        "process_exec": {
            "process": {
                "binary": "/usr/bin/tar",
                "arguments": "czf /tmp/keys.tgz /root/.ssh/id_rsa",
                "pod": {
                    "namespace": "shop",
                    "name": "web-1",
                    "container": {"id": "containerd://" + "c" * 64, "name": "app"},
                },
            }
        },
        "time": "2024-05-01T12:00:00Z",
        "node_name": "node-1",
    }
    event = normalise(raw)
    assert event is not None
    detector = Detector(ruleset, event_time_clock=True)
    drafts = detector.process(event)
    founding = [d for d in drafts if d.rule_id == "475b42f0-61fb-4ef0-8a85-597458bfb0a1"]
    assert len(founding) == 1
    assert founding[0].target.container_id == "c" * 64
    assert (founding[0].target.namespace, founding[0].target.pod) == ("shop", "web-1")


@pytest.mark.parametrize(
    ("argv", "most"),
    [
        (["nginx", "-g", "daemon off;"], 2),
        (["java", "-jar", "app.jar"], 2),
        # Shells are named by many rules ("sh -c <tool>"); the rules' further clauses (the
        # tool among the arguments) keep all but a few away from a plain shell.
        (["bash", "-c", "ls -la"], 7),
    ],
)
def test_ordinary_processes_meet_few_rules(shared_dir: Path, argv: list[str], most: int) -> None:
    ruleset = _rules(shared_dir)
    event = {
        "event": {"category": ["process"], "type": ["start"], "action": "exec"},
        "host": {"os": {"type": "linux"}},
        "process": {"name": argv[0], "args": argv, "executable": f"/usr/bin/{argv[0]}"},
        "container": {"id": "c" * 64},
    }
    assert len(ruleset.index.candidates(event)) <= most
