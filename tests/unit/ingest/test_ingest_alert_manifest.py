"""The Alert the matcher writes fits the API model, and repeats add up without losing data."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from quarantine.api import Alert, validate_object
from quarantine.k8s.alert_manifest import (
    MAX_ALERT_EVENTS,
    AlertOccurrence,
    alert_manifest,
    repeat_patch,
)
from quarantine.k8s.targets import ResolvedTarget
from quarantine.k8s.workloads import Workload

T0 = datetime(2026, 11, 28, 7, 0, 0, tzinfo=UTC)


def occurrence(count: int = 1, *, at: datetime = T0, events: int = 1) -> AlertOccurrence:
    return AlertOccurrence(
        name="sensitive-files-compression-3f2a9c",
        namespace="shop",
        rule_name="sensitive-files-compression",
        rule_id="475b42f0-61fb-4ef0-8a85-597458bfb0a1",
        severity="medium",
        risk_score=47,
        target=ResolvedTarget(
            namespace="shop",
            pod="web-5d9f-abcde",
            container_id="a" * 64,
            container_name="app",
            node="kwok-node-0",
            workload=Workload("apps/v1", "Deployment", "web"),
            pod_labels={"app": "web"},
        ),
        first_seen=at,
        last_seen=at + timedelta(seconds=count - 1),
        count=count,
        events=[{"process": {"name": "tar", "n": i}} for i in range(events)],
    )


def test_manifest_is_a_valid_alert_with_the_full_target() -> None:
    manifest = alert_manifest(occurrence())
    alert = validate_object(Alert, manifest)
    assert alert.metadata.name == "sensitive-files-compression-3f2a9c"
    assert alert.metadata.namespace == "shop"
    assert alert.spec.rule.rule_id == "475b42f0-61fb-4ef0-8a85-597458bfb0a1"
    assert (alert.spec.rule.severity, alert.spec.rule.risk_score) == ("medium", 47)
    assert alert.spec.source == "matcher"
    assert alert.spec.count == 1
    assert alert.spec.first_seen == T0
    target = alert.spec.target
    assert (target.pod, target.container_name, target.node) == (
        "web-5d9f-abcde",
        "app",
        "kwok-node-0",
    )
    assert target.workload is not None and (target.workload.kind, target.workload.name) == (
        "Deployment",
        "web",
    )
    assert manifest["metadata"]["labels"]["quarantine.io/rule"] == "sensitive-files-compression"
    assert manifest["spec"]["firstSeen"] == "2026-11-28T07:00:00Z"


def test_manifest_keeps_at_most_the_event_bound() -> None:
    manifest = alert_manifest(occurrence(events=MAX_ALERT_EVENTS + 5))
    assert len(manifest["spec"]["events"]) == MAX_ALERT_EVENTS


def test_repeat_raises_count_widens_times_and_pins_the_version() -> None:
    existing = alert_manifest(occurrence(count=2))
    existing["metadata"]["resourceVersion"] = "41"
    later = occurrence(count=3, at=T0 + timedelta(minutes=1))
    patch = repeat_patch(existing, later)
    assert patch["metadata"] == {"resourceVersion": "41"}
    assert patch["spec"]["count"] == 5
    assert patch["spec"]["firstSeen"] == "2026-11-28T07:00:00Z"
    assert patch["spec"]["lastSeen"] == "2026-11-28T07:01:02Z"
    assert len(patch["spec"]["events"]) == 2


def test_repeat_of_an_older_event_does_not_move_last_seen_back() -> None:
    existing = alert_manifest(occurrence(at=T0 + timedelta(hours=1)))
    patch = repeat_patch(existing, occurrence(at=T0))
    assert patch["spec"]["firstSeen"] == "2026-11-28T07:00:00Z"
    assert patch["spec"]["lastSeen"] == "2026-11-28T08:00:00Z"


def test_repeat_stops_adding_events_at_the_bound() -> None:
    existing = alert_manifest(occurrence(events=MAX_ALERT_EVENTS))
    patch = repeat_patch(existing, occurrence(events=3))
    assert "events" not in patch["spec"]
    assert patch["spec"]["count"] == 2


def test_external_engines_are_named_as_the_source() -> None:
    external = dataclasses.replace(occurrence(), source="falco")
    assert validate_object(Alert, alert_manifest(external)).spec.source == "falco"
