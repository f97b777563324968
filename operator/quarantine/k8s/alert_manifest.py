"""The Alert object the matcher writes, and the change a repeat detection makes to it (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from quarantine.k8s.targets import ResolvedTarget

ALERT_API_VERSION = "quarantine.io/v1alpha1"
# Enough triggering events to investigate from; the rest are counted, not kept (etcd objects
# must stay well under 1.5 MiB).
MAX_ALERT_EVENTS = 10
RULE_LABEL = "quarantine.io/rule"
SEVERITY_LABEL = "quarantine.io/severity"
_MAX_LABEL_VALUE = 63


@dataclass(frozen=True)
class AlertOccurrence:
    """One or more detections of one rule that share an Alert (same deterministic name)."""

    name: str
    namespace: str
    rule_name: str
    rule_id: str | None
    severity: str
    risk_score: int
    target: ResolvedTarget
    first_seen: datetime
    last_seen: datetime
    count: int
    events: Sequence[Mapping[str, Any]]
    source: str = "matcher"
    """Who detected it: the matcher, or an external engine (elastic, falco) via alert intake."""


def rfc3339(moment: datetime) -> str:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_rfc3339(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def alert_manifest(occurrence: AlertOccurrence) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "name": occurrence.rule_name,
        "severity": occurrence.severity,
        "riskScore": occurrence.risk_score,
    }
    if occurrence.rule_id:
        rule["ruleId"] = occurrence.rule_id
    labels = {SEVERITY_LABEL: occurrence.severity}
    if len(occurrence.rule_name) <= _MAX_LABEL_VALUE:
        labels[RULE_LABEL] = occurrence.rule_name
    return {
        "apiVersion": ALERT_API_VERSION,
        "kind": "Alert",
        "metadata": {"name": occurrence.name, "namespace": occurrence.namespace, "labels": labels},
        "spec": {
            "rule": rule,
            "target": occurrence.target.as_json(),
            "source": occurrence.source,
            "firstSeen": rfc3339(occurrence.first_seen),
            "lastSeen": rfc3339(occurrence.last_seen),
            "count": occurrence.count,
            "events": [dict(e) for e in occurrence.events[:MAX_ALERT_EVENTS]],
        },
    }


def repeat_patch(existing: Mapping[str, Any], occurrence: AlertOccurrence) -> dict[str, Any]:
    """A merge patch that adds `occurrence` to an existing Alert.

    It carries the resourceVersion it was computed from, so the API server refuses it (409)
    if another writer got there first; the caller then reads again and retries.
    """
    metadata = existing.get("metadata") or {}
    spec = existing.get("spec") or {}
    old_first = _time_or(spec.get("firstSeen"), occurrence.first_seen)
    old_last = _time_or(spec.get("lastSeen"), occurrence.last_seen)
    old_events = list(spec.get("events") or [])
    room = max(0, MAX_ALERT_EVENTS - len(old_events))
    patch_spec: dict[str, Any] = {
        "count": int(spec.get("count") or 0) + occurrence.count,
        "firstSeen": rfc3339(min(old_first, occurrence.first_seen)),
        "lastSeen": rfc3339(max(old_last, occurrence.last_seen)),
    }
    if room and occurrence.events:
        patch_spec["events"] = old_events + [dict(e) for e in occurrence.events[:room]]
    return {"metadata": {"resourceVersion": metadata.get("resourceVersion")}, "spec": patch_spec}


def _time_or(text: Any, fallback: datetime) -> datetime:
    if not isinstance(text, str):
        return fallback
    try:
        parsed = parse_rfc3339(text)
    except ValueError:
        return fallback
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
