"""HTTP ingest rate of the matcher: NDJSON batches over loopback into the real intake server.

    .venv/bin/python benchmarks/bench_ingest.py --seconds 5 --batch 1000

Two runs on the same server (same auth, body limits and NDJSON parsing):
  baseline  POST /bench/decode-only: read, gunzip if asked, split and decode lines; no more.
  matcher   POST /v1/events: the above plus normalising, every rule through the detector,
            target resolution and scope checks. The Alert writer is replaced by a counting
            sink (no API server), so this measures the matcher, not etcd.
The rule set is the founding rule (`crds/examples/sensitive-files-compression.yaml`), or with
`--rules cloud_defend` Elastic's 48 cloud_defend EQL rules. The client runs in a separate
process so it does not share the server's interpreter lock.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import multiprocessing
import random
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import yaml
from aiohttp import web

from quarantine.api import DetectionRule, validate_object
from quarantine.detect import Detector, RuleSet
from quarantine.ingest.auth import StaticToken
from quarantine.ingest.body import BodyError, decode_content, read_limited
from quarantine.ingest.detection_lane import DetectionLane
from quarantine.ingest.events_route import event_routes
from quarantine.ingest.metrics import MatcherMetrics
from quarantine.ingest.ndjson import ParsedLine, parse_ndjson
from quarantine.ingest.pipeline import EventPipeline
from quarantine.ingest.routes import Route, json_error, json_response
from quarantine.ingest.server import IntakeServer, build_app, parse_listen_address
from quarantine.k8s.alert_manifest import AlertOccurrence
from quarantine.k8s.alert_writer import Written
from quarantine.k8s.namespace_index import NamespaceIndex
from quarantine.k8s.pod_index import PodIndex, PodRecord
from quarantine.k8s.targets import TargetResolver
from quarantine.k8s.workloads import Workload

REPO = Path(__file__).resolve().parents[1]
RULE_FILE = REPO / "crds" / "examples" / "sensitive-files-compression.yaml"
TOKEN = "bench-token"
MAX_BODY = 64 * 1024 * 1024

BENIGN = [
    ("nginx", ["nginx", "-g", "daemon off;"]),
    ("python3", ["python3", "app.py", "--port", "8080"]),
    ("sh", ["sh", "-c", "sleep 5"]),
    ("ls", ["ls", "-la", "/app"]),
    ("curl", ["curl", "-s", "http://localhost:8080/health"]),
    ("tar", ["tar", "xzf", "/tmp/release.tgz", "-C", "/app"]),
    ("cat", ["cat", "/app/config.yaml"]),
    ("grep", ["grep", "-c", "ERROR", "/var/log/app.log"]),
]
ATTACK = ("tar", ["tar", "czf", "/tmp/k.tgz", "/root/.ssh/id_rsa"])


class CountingSink:
    """Stands in for the Alert writer: counts what would have been written."""

    def __init__(self) -> None:
        self.writes = 0
        self.detections = 0

    async def write(self, occurrence: AlertOccurrence) -> Written:
        self.writes += 1
        self.detections += occurrence.count
        return Written("created", occurrence.name)


class NoCounter:
    def record(self, rule_name: str, count: int, when: datetime) -> None:
        return None


class NoWorkloads:
    def workload_of(self, pod: PodRecord) -> Workload | None:
        return None


def decode_only_routes() -> list[Route]:
    async def decode_only(request: web.Request) -> web.StreamResponse:
        try:
            raw = await read_limited(request.content, MAX_BODY, request.content_length)
            body = decode_content(raw, request.headers.get("Content-Encoding"), MAX_BODY)
        except BodyError as error:
            return json_error(error.status, str(error))
        accepted = sum(1 for item in parse_ndjson(body) if isinstance(item, ParsedLine))
        return json_response({"accepted": accepted, "ignored": 0, "alerts": [], "errors": []})

    return [Route("POST", "/bench/decode-only", decode_only)]


def bench_pods(count: int) -> list[dict[str, Any]]:
    """Running pods as a kubelet reports them, so events resolve through the container id."""
    pods = []
    for i in range(count):
        uid = f"bench-pod-uid-{i}"
        cid = hashlib.sha256(f"{uid}/app".encode()).hexdigest()
        pods.append(
            {
                "metadata": {"name": f"shop-{i}", "namespace": "bench", "uid": uid},
                "spec": {"nodeName": "node-0"},
                "status": {
                    "containerStatuses": [{"name": "app", "containerID": f"containerd://{cid}"}]
                },
            }
        )
    return pods


def load_rules(which: str) -> RuleSet:
    """The founding rule, or Elastic's cloud_defend rules (as bench_pipeline loads them)."""
    if which == "cloud_defend":
        from bench_pipeline import RULES_DIR, load_ruleset  # the same 48 rules

        if not RULES_DIR.is_dir():
            raise SystemExit(f"rules not found at {RULES_DIR}")
        return load_ruleset()
    rule = validate_object(DetectionRule, yaml.safe_load(RULE_FILE.read_text()))
    return RuleSet.from_rules([rule])


def build_server(
    sink: CountingSink, pods: list[dict[str, Any]], ruleset: RuleSet
) -> tuple[IntakeServer, DetectionLane]:
    lane = DetectionLane(Detector(ruleset))
    pod_index = PodIndex()
    pod_index.replace(pods)
    metrics = MatcherMetrics()
    pipeline = EventPipeline(
        lane=lane,
        resolver=TargetResolver(pod_index, NoWorkloads()),
        namespaces=NamespaceIndex(),
        scopes=lambda: {compiled.name: compiled.scope for compiled in ruleset.rules},
        sink=sink,
        counter=NoCounter(),
        metrics=metrics,
    )
    routes = [*event_routes(pipeline, metrics, max_body_bytes=MAX_BODY), *decode_only_routes()]
    app = build_app(routes, StaticToken(TOKEN))
    return IntakeServer(app, parse_listen_address("127.0.0.1:0")), lane


def make_batch(size: int, attack_share: float, seed: int, container_ids: Sequence[str]) -> bytes:
    rng = random.Random(seed)
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    lines = []
    for i in range(size):
        name, args = ATTACK if rng.random() < attack_share else rng.choice(BENIGN)
        event: dict[str, Any] = {
            "@timestamp": now,
            "event": {
                "category": ["process"],
                "type": ["start"],
                "action": "exec",
                "ingested": now,
            },
            "host": {"os": {"type": "linux"}},
            "process": {"name": name, "args": args, "pid": 1000 + i},
            "container": {"id": rng.choice(container_ids)},
        }
        lines.append(orjson.dumps(event))
    return b"\n".join(lines) + b"\n"


def client_run(
    url: str, bodies: Sequence[bytes], seconds: float, concurrency: int, results: Any
) -> None:
    import aiohttp

    async def run() -> tuple[int, int, float]:
        deadline = time.monotonic() + seconds
        events = requests = 0
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/x-ndjson"}
        async with aiohttp.ClientSession() as session:

            async def worker(offset: int) -> None:
                nonlocal events, requests
                index = offset
                while time.monotonic() < deadline:
                    body = bodies[index % len(bodies)]
                    index += 1
                    async with session.post(url, data=body, headers=headers) as response:
                        answer = await response.json()
                        if response.status not in (200, 207):
                            raise RuntimeError(f"{url} answered {response.status}: {answer}")
                        events += answer["accepted"]
                        requests += 1

            started = time.monotonic()
            await asyncio.gather(*(worker(i) for i in range(concurrency)))
            return events, requests, time.monotonic() - started

    results.put(asyncio.run(run()))


def measure(
    url: str, bodies: Sequence[bytes], seconds: float, concurrency: int
) -> Mapping[str, float]:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    process = context.Process(target=client_run, args=(url, bodies, seconds, concurrency, results))
    process.start()
    events, requests, elapsed = results.get(timeout=seconds + 120)
    process.join()
    return {"events": events, "requests": requests, "elapsed": elapsed, "rate": events / elapsed}


def report(label: str, run: Mapping[str, float]) -> None:
    print(f"{label}: {run['rate']:>10,.0f} events/s  ({run['requests']:.0f} requests)")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each run (default 5)")
    parser.add_argument("--batch", type=int, default=1000, help="events per request (default 1000)")
    parser.add_argument("--concurrency", type=int, default=2, help="requests in flight (default 2)")
    parser.add_argument("--attack-share", type=float, default=0.01, help="share of attack events")
    parser.add_argument(
        "--rules",
        choices=("founding", "cloud_defend"),
        default="founding",
        help="the founding rule (default), or all 48 cloud_defend rules from ../shared",
    )
    args = parser.parse_args()

    sink = CountingSink()
    pods = bench_pods(50)
    container_ids = [
        p["status"]["containerStatuses"][0]["containerID"].split("//")[1] for p in pods
    ]
    server, lane = build_server(sink, pods, load_rules(args.rules))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="bench-server", daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(server.start(), loop).result()
    base = f"http://127.0.0.1:{server.port}"
    bodies = [make_batch(args.batch, args.attack_share, seed, container_ids) for seed in range(8)]
    try:
        print(
            f"batches of {args.batch} NDJSON events, {args.concurrency} in flight, "
            f"{args.seconds:g}s per run, rules: {args.rules}"
        )
        print("alert writer: replaced by a counting sink (no API server in this benchmark)")
        baseline = measure(f"{base}/bench/decode-only", bodies, args.seconds, args.concurrency)
        report("baseline (decode only)", baseline)
        matcher = measure(f"{base}/v1/events?format=ecs", bodies, args.seconds, args.concurrency)
        report("matcher  (/v1/events) ", matcher)
        print(f"detections: {sink.detections} in {sink.writes} Alert writes (counted, not written)")
        print(f"matcher / baseline     : {matcher['rate'] / baseline['rate']:.2f}")
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        lane.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
