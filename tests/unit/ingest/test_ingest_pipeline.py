"""The event pipeline with the real detector and the founding rule, writing to an in-memory sink."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from ingest_helpers import kwok_container_id, pod

from quarantine.api import DetectionRule, validate_object
from quarantine.detect import Detector, RuleSet
from quarantine.ingest.detection_lane import DetectionLane
from quarantine.ingest.metrics import MatcherMetrics
from quarantine.ingest.ndjson import split_ndjson
from quarantine.ingest.outcome import BatchOutcome
from quarantine.ingest.pipeline import EventPipeline
from quarantine.k8s.alert_manifest import AlertOccurrence
from quarantine.k8s.alert_writer import AlertWriteError, Written, is_closed, successor_name
from quarantine.k8s.namespace_index import NamespaceIndex
from quarantine.k8s.pod_index import PodIndex, PodRecord
from quarantine.k8s.targets import TargetResolver
from quarantine.k8s.workloads import Workload

REPO = Path(__file__).resolve().parents[3]
RULE = yaml.safe_load((REPO / "crds" / "examples" / "sensitive-files-compression.yaml").read_text())
WEB_ID = kwok_container_id("uid-web-1", "app").removeprefix("containerd://")


class MemorySink:
    """Keeps Alerts by namespace/name the way the API server would: create, then add counts."""

    def __init__(self, *, fail: bool = False) -> None:
        self.alerts: dict[str, AlertOccurrence] = {}
        self.counts: dict[str, int] = {}
        self.fail = fail

    async def write(self, occurrence: AlertOccurrence) -> Written:
        if self.fail:
            raise AlertWriteError("API server unavailable", status=503)
        key = f"{occurrence.namespace}/{occurrence.name}"
        self.counts[key] = self.counts.get(key, 0) + occurrence.count
        if key in self.alerts:
            return Written("updated", occurrence.name)
        self.alerts[key] = occurrence
        return Written("created", occurrence.name)


class MemoryCounter:
    def __init__(self) -> None:
        self.recorded: dict[str, int] = {}

    def record(self, rule_name: str, count: int, when: datetime) -> None:
        self.recorded[rule_name] = self.recorded.get(rule_name, 0) + count


class OwnerWorkloads:
    def workload_of(self, record: PodRecord) -> Workload | None:
        owner = record.controller
        return Workload(owner.api_version, owner.kind, owner.name) if owner else None


def rule_with(**spec_changes: Any) -> DetectionRule:
    definition = {**RULE, "spec": {**RULE["spec"], **spec_changes}}
    return validate_object(DetectionRule, definition)


def attack(container_id: str | None = WEB_ID, **extra: Any) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    event: dict[str, Any] = {
        "@timestamp": now,
        "event": {"category": ["process"], "type": ["start"], "action": "exec", "ingested": now},
        "host": {"os": {"type": "linux"}},
        "process": {"name": "tar", "args": ["tar", "czf", "/tmp/k.tgz", "/root/.ssh/id_rsa"]},
    }
    if container_id:
        event["container"] = {"id": container_id}
    event.update(extra)
    return event


def benign() -> dict[str, Any]:
    event = attack()
    event["process"] = {"name": "ls", "args": ["ls", "/tmp"]}
    return event


def run(
    documents: list[dict[str, Any] | bytes],
    *,
    rule: DetectionRule | None = None,
    sink: MemorySink | None = None,
    fallback_namespace: str | None = None,
    event_format: str = "ecs",
) -> tuple[BatchOutcome, MemorySink, MemoryCounter, MatcherMetrics]:
    ruleset = RuleSet.from_rules([rule or rule_with()])
    assert not ruleset.errors
    pods = PodIndex()
    owner = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "controller": True}
    pods.replace([pod("web-1", namespace="shop", owner=owner)])
    namespaces = NamespaceIndex()
    namespaces.replace([{"metadata": {"name": "shop", "labels": {"env": "prod"}}}])
    sink = sink or MemorySink()
    counter = MemoryCounter()
    metrics = MatcherMetrics()
    lane = DetectionLane(Detector(ruleset))
    pipeline = EventPipeline(
        lane=lane,
        resolver=TargetResolver(pods, OwnerWorkloads()),
        namespaces=namespaces,
        scopes=lambda: {compiled.name: compiled.scope for compiled in ruleset.rules},
        sink=sink,
        counter=counter,
        metrics=metrics,
        fallback_namespace=fallback_namespace,
    )
    # Split as the route splits a body (bytes are a line as sent); the lane decodes each.
    body = b"\n".join(
        document if isinstance(document, bytes) else orjson.dumps(document)
        for document in documents
    )
    lines = list(split_ndjson(body))
    assert len(lines) == len(documents)
    try:
        outcome = asyncio.run(pipeline.process(lines, event_format))
    finally:
        lane.close()
    return outcome, sink, counter, metrics


def test_attack_becomes_one_alert_on_the_resolved_pod() -> None:
    outcome, sink, counter, metrics = run([benign(), attack(), benign()])
    assert (outcome.accepted, outcome.errors, outcome.http_status()) == (3, [], 200)
    [key] = sink.alerts
    assert outcome.alerts == [key]
    alert = sink.alerts[key]
    assert (alert.namespace, alert.rule_name, alert.severity, alert.risk_score) == (
        "shop",
        "sensitive-files-compression",
        "medium",
        47,
    )
    assert alert.target.pod == "web-1" and alert.target.container_name == "app"
    assert alert.target.workload == Workload("apps/v1", "Deployment", "web")
    assert counter.recorded == {"sensitive-files-compression": 1}
    assert metrics.alerts_created.labels("sensitive-files-compression")._value.get() == 1


def test_repeats_in_one_batch_fold_into_one_write() -> None:
    _, sink, counter, _ = run([attack(), attack(), attack()])
    [key] = sink.alerts
    assert sink.counts[key] == 3
    assert sink.alerts[key].count == 3
    assert counter.recorded == {"sensitive-files-compression": 3}


def test_event_the_normaliser_refuses_is_a_line_error_and_the_rest_still_alert() -> None:
    outcome, sink, _, _ = run([{"process_exec": "not an object"}, attack()], event_format="auto")
    assert outcome.accepted == 1 and outcome.http_status() == 207
    assert outcome.errors[0].line == 1
    assert "not a valid event: process_exec" in outcome.errors[0].error
    assert len(sink.alerts) == 1


def test_pod_selector_excludes_pods_outside_the_scope() -> None:
    scoped = rule_with(scope={"podSelector": {"matchLabels": {"app": "something-else"}}})
    outcome, sink, _, metrics = run([attack()], rule=scoped)
    assert sink.alerts == {} and outcome.alerts == [] and outcome.http_status() == 200
    assert metrics.out_of_scope.labels("sensitive-files-compression")._value.get() == 1
    prod = rule_with(scope={"namespaceSelector": {"matchLabels": {"env": "prod"}}})
    assert run([attack()], rule=prod)[1].alerts


def test_unknown_pod_named_by_the_event_is_still_alerted_with_a_warning() -> None:
    event = attack(
        "f" * 64, orchestrator={"namespace": "shop", "resource": {"name": "gone", "type": "pod"}}
    )
    outcome, sink, _, metrics = run([event])
    [alert] = sink.alerts.values()
    assert (alert.namespace, alert.target.pod, alert.target.node) == ("shop", "gone", None)
    assert "pod not found" in outcome.warnings[0].warning
    assert metrics.unresolved_targets.labels("sensitive-files-compression")._value.get() == 1


def test_unknown_pod_without_a_namespace_is_reported_or_sent_to_the_fallback() -> None:
    outcome, sink, _, _ = run([attack("f" * 64)])
    assert sink.alerts == {}
    assert outcome.errors[0].line == 1
    assert "names no namespace" in outcome.errors[0].error
    outcome, sink, _, _ = run([attack("f" * 64)], fallback_namespace="quarantine-system")
    [alert] = sink.alerts.values()
    assert alert.namespace == "quarantine-system" and outcome.errors == []


def test_write_failure_asks_the_sender_to_resend() -> None:
    outcome, _, counter, metrics = run([benign(), attack()], sink=MemorySink(fail=True))
    assert outcome.http_status() == 503
    assert [error.line for error in outcome.errors] == [2]
    assert "resend" in outcome.errors[0].error
    assert counter.recorded == {}
    assert metrics.alert_write_failures.labels("sensitive-files-compression")._value.get() == 1


@pytest.mark.parametrize("fmt", ["auto", "ecs"])
def test_format_choice_reaches_the_normaliser(fmt: str) -> None:
    outcome, sink, _, _ = run([attack()], event_format=fmt)
    assert outcome.accepted == 1 and len(sink.alerts) == 1


def test_successor_names_are_deterministic_and_fit_a_dns_label() -> None:
    long_name = "a" * 63
    assert successor_name("rule-0123abcd", 2) == "rule-0123abcd-r2"
    assert successor_name(long_name, 2) == "a" * 60 + "-r2"
    assert len(successor_name(long_name, 12)) == 63
    assert successor_name("x" * 61 + "-y", 2) == "x" * 60 + "-r2"


def test_released_or_deleting_alerts_are_closed() -> None:
    assert is_closed({"spec": {"release": True}})
    assert is_closed({"metadata": {"deletionTimestamp": "2026-11-28T07:00:00Z"}, "spec": {}})
    assert not is_closed({"metadata": {}, "spec": {"release": False, "count": 3}})


def test_cloud_defend_dotted_keys_are_expanded_before_matching() -> None:
    # Defend for Containers writes some fields as dotted keys inside objects.
    event = attack(container_id=None)
    event["container"] = {"id": WEB_ID, "image.name": "registry/app"}
    event["orchestrator"] = {"namespace": "shop", "resource.name": "web-1"}
    outcome, sink, _, _ = run([event, event])
    assert (outcome.accepted, outcome.errors) == (2, [])
    [key] = sink.alerts
    recorded = sink.alerts[key].events[0]
    assert recorded["orchestrator"]["resource"] == {"name": "web-1"}
    assert recorded["container"]["image"] == {"name": "registry/app"}


def test_lines_that_are_not_json_objects_are_line_errors_and_the_rest_still_alert() -> None:
    outcome, sink, _, metrics = run([b"{not json", attack(), b"[1, 2]", benign()])
    assert outcome.accepted == 2 and outcome.http_status() == 207
    first, second = outcome.errors
    assert first.line == 1 and first.error.startswith("invalid JSON at column 2: ")
    assert (second.line, second.error) == (3, "expected a JSON object, got list")
    assert len(sink.alerts) == 1
    assert metrics.events_rejected.labels("invalid_json")._value.get() == 2
    assert metrics.events_rejected.labels("invalid_event")._value.get() == 0


def test_a_waiting_event_the_normaliser_rewrote_comes_back_as_rewritten() -> None:
    """The lane hands the detector an event's line only when the event is that line decoded:
    a Tetragon event, rewritten into ECS, is held as ECS, and the alert shows ECS."""
    query = (
        'sequence by container.id with maxspan=10s [process where process.name == "curl"]'
        ' [process where process.name == "chmod"]'
    )
    # No timestamp override: a Tetragon event has no `event.ingested` for a copy to carry.
    ruleset = RuleSet.from_rules([rule_with(query=query, timestampField=None)])
    assert ruleset.errors == {}
    moment = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    lane = DetectionLane(Detector(ruleset, clock=moment.timestamp))

    def tetragon_exec(binary: str, seconds: int) -> bytes:
        process = {
            "binary": binary,
            "arguments": "-o /tmp/x",
            "pod": {"namespace": "shop", "name": "web-1", "container": {"id": "containerd://c1"}},
        }
        stamp = moment.replace(second=seconds).isoformat().replace("+00:00", "Z")
        return orjson.dumps({"process_exec": {"process": process}, "time": stamp})

    try:
        lines = split_ndjson(tetragon_exec("/usr/bin/curl", 0) + b"\n")
        assert asyncio.run(lane.evaluate(lines, "tetragon"))[0].drafts == ()
        lines = split_ndjson(tetragon_exec("/bin/chmod", 1) + b"\n")
        (verdict,) = asyncio.run(lane.evaluate(lines, "tetragon"))
    finally:
        lane.close()
    (draft,) = verdict.drafts
    first = draft.source_events[0]
    assert "process_exec" not in first and first["process"]["name"] == "curl"
