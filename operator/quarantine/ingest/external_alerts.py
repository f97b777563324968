"""Alerts from engines that already detect (Elastic Security, Falco), read into one shape.

Pure: parsing and mapping only. `ExternalAlert` carries what an Alert needs; its target fields
follow the `TargetHint` protocol, so the matcher's pod resolution applies unchanged. The same
external alert always maps to the same Alert name, so a resend is counted, not duplicated.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

from quarantine.api import Severity
from quarantine.events.timestamps import parse_timestamp, to_datetime

ExternalSource = Literal["elastic", "falco"]

# Elastic's prebuilt rules pair these risk scores with the severities.
RISK_BY_SEVERITY: Mapping[Severity, int] = {"low": 21, "medium": 47, "high": 73, "critical": 99}

FALCO_SEVERITY: Mapping[str, Severity] = {
    "emergency": "critical",
    "alert": "critical",
    "critical": "critical",
    "error": "high",
    "warning": "medium",
    "notice": "low",
    "informational": "low",
    "info": "low",
    "debug": "low",
}
SEVERITIES: tuple[Severity, ...] = ("low", "medium", "high", "critical")

_NAME_LIMIT = 63
_DIGEST_LENGTH = 12
_NOT_NAME_CHARS = re.compile(r"[^a-z0-9]+")


class ExternalAlertError(ValueError):
    """An alert document that cannot become an Alert; the message names the field."""


@dataclass(frozen=True)
class ExternalAlert:
    """What Quarantine needs from another engine's alert. The target fields follow the
    `TargetHint` protocol, so the matcher's target resolution applies unchanged."""

    source: ExternalSource
    external_id: str
    """The engine's id of this alert (Elastic's kibana.alert.uuid, Falcosidekick's uuid), or a
    fingerprint of its content when it has none."""
    rule_name: str
    rule_id: str | None
    severity: Severity
    risk_score: int
    namespace: str | None
    pod: str | None
    container_id: str | None
    container_name: str | None
    timestamp: datetime
    document: dict[str, Any] = field(compare=False)

    @property
    def alert_name(self) -> str:
        """`<source>-<rule slug>-<digest of the external id>`: DNS-1123, at most 63 chars."""
        digest = hashlib.sha256(f"{self.source}\n{self.external_id}".encode()).hexdigest()
        suffix = digest[:_DIGEST_LENGTH]
        room = _NAME_LIMIT - len(self.source) - len(suffix) - 2
        slug = _NOT_NAME_CHARS.sub("-", self.rule_name.lower()).strip("-")[:room].strip("-")
        return "-".join(part for part in (self.source, slug, suffix) if part)


# --- reading fields -----------------------------------------------------------------------


def lookup(document: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted `path`, however the document spells it: nested objects, dotted
    keys, or a mix (Kibana's action context holds both forms of the same field)."""
    if path in document:
        return document[path]
    parts = path.split(".")
    for split in range(1, len(parts)):
        child = document.get(".".join(parts[:split]))
        if isinstance(child, Mapping):
            value = lookup(child, ".".join(parts[split:]))
            if value is not None:
                return value
    return None


def first_text(document: Mapping[str, Any], *paths: str) -> str | None:
    """The first non-empty text among `paths`; an array contributes its first element."""
    for path in paths:
        value = lookup(document, path)
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()
    return None


def _fingerprint(*parts: Any) -> str:
    return hashlib.sha256(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _moment(value: Any, fallback: datetime) -> datetime:
    seconds = parse_timestamp(value)
    return to_datetime(seconds) if seconds is not None else fallback


def _now() -> datetime:
    return datetime.now(UTC)


# --- Elastic Security -----------------------------------------------------------------------


def elastic_alert_documents(payload: Any) -> list[Any]:
    """The alert documents of an Elastic webhook body: an array, one object or {"alerts": [..]}."""
    if isinstance(payload, list):
        return payload
    if isinstance(payload, dict):
        alerts = payload.get("alerts")
        if isinstance(alerts, list) and "kibana.alert.rule.name" not in payload:
            return alerts
        return [payload]
    raise ExternalAlertError(
        'expected a JSON array of alert documents, one alert object, or {"alerts": [...]}'
    )


def parse_elastic_alert(document: Any, *, received: datetime | None = None) -> ExternalAlert:
    """One Elastic Security alert document (ECS + kibana.alert.*) as an ExternalAlert."""
    if not isinstance(document, dict):
        raise ExternalAlertError("an alert must be a JSON object")
    rule_name = first_text(document, "kibana.alert.rule.name", "signal.rule.name", "rule.name")
    if rule_name is None:
        raise ExternalAlertError("kibana.alert.rule.name is missing: is this an Elastic alert?")
    severity_text = first_text(
        document, "kibana.alert.severity", "kibana.alert.rule.severity", "signal.rule.severity"
    )
    severity = _elastic_severity(severity_text)
    risk = _elastic_risk(
        lookup(document, "kibana.alert.risk_score")
        or lookup(document, "kibana.alert.rule.risk_score")
        or lookup(document, "signal.rule.risk_score"),
        severity,
    )
    namespace = first_text(document, "orchestrator.namespace", "kubernetes.namespace")
    resource_type = first_text(document, "orchestrator.resource.type")
    pod = None
    if resource_type is None or resource_type.lower() == "pod":
        pod = first_text(document, "orchestrator.resource.name")
    pod = pod or first_text(document, "kubernetes.pod.name")
    container_id = first_text(document, "container.id")
    _require_target(
        "orchestrator.namespace + orchestrator.resource.name", namespace, pod, container_id
    )
    rule_id = first_text(
        document, "kibana.alert.rule.rule_id", "signal.rule.rule_id", "kibana.alert.rule.uuid"
    )
    when = _moment(
        lookup(document, "kibana.alert.original_time") or lookup(document, "@timestamp"),
        received or _now(),
    )
    external_id = first_text(document, "kibana.alert.uuid", "_id") or _fingerprint(
        rule_id or rule_name, when.isoformat(), namespace, pod, container_id
    )
    return ExternalAlert(
        source="elastic",
        external_id=external_id,
        rule_name=rule_name,
        rule_id=rule_id,
        severity=severity,
        risk_score=risk,
        namespace=namespace,
        pod=pod,
        container_id=container_id,
        container_name=first_text(document, "container.name", "kubernetes.container.name"),
        timestamp=when,
        document=document,
    )


def _elastic_severity(text: str | None) -> Severity:
    if text is None:
        raise ExternalAlertError("kibana.alert.severity is missing")
    for severity in SEVERITIES:
        if text.lower() == severity:
            return severity
    raise ExternalAlertError(
        f"kibana.alert.severity {text!r} is not one of {', '.join(SEVERITIES)}"
    )


def _elastic_risk(value: Any, severity: Severity) -> int:
    if value is None:
        return RISK_BY_SEVERITY[severity]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ExternalAlertError(f"kibana.alert.risk_score {value!r} is not a number")
    score: float = value
    if not 0 <= score <= 100:
        raise ExternalAlertError(f"kibana.alert.risk_score {score} is not between 0 and 100")
    return round(score)


# --- Falco / Falcosidekick ------------------------------------------------------------------


def falco_severity(priority: str) -> Severity:
    """Falco's priority (Emergency ... Debug) as a Quarantine severity."""
    try:
        return FALCO_SEVERITY[priority.strip().lower()]
    except KeyError:
        raise ExternalAlertError(
            f"priority {priority!r} is not a Falco priority "
            "(Emergency, Alert, Critical, Error, Warning, Notice, Informational, Debug)"
        ) from None


def parse_falco_alert(document: Any, *, received: datetime | None = None) -> ExternalAlert:
    """One Falco alert as Falcosidekick's webhook output (or Falco's JSON output) posts it."""
    if not isinstance(document, dict):
        raise ExternalAlertError("a Falco alert must be a JSON object")
    rule_name = document.get("rule")
    if not isinstance(rule_name, str) or not rule_name.strip():
        raise ExternalAlertError("rule is missing: is this a Falco alert?")
    priority = document.get("priority")
    if not isinstance(priority, str):
        raise ExternalAlertError('priority is missing (e.g. "Warning")')
    severity = falco_severity(priority)
    fields = document.get("output_fields")
    if not isinstance(fields, dict):
        raise ExternalAlertError("output_fields is missing or not an object")
    namespace = first_text(fields, "k8s.ns.name")
    pod = first_text(fields, "k8s.pod.name")
    # The full id resolves exactly; the 12-character short id only as a prefix.
    container_id = first_text(fields, "container.full_id", "container.id")
    if container_id == "host":
        container_id = None  # Falco's name for "not in a container"
    _require_target("output_fields k8s.ns.name + k8s.pod.name", namespace, pod, container_id)
    when = _moment(document.get("time"), received or _now())
    external_id = first_text(document, "uuid") or _fingerprint(
        rule_name, document.get("time"), document.get("hostname"), document.get("output")
    )
    return ExternalAlert(
        source="falco",
        external_id=external_id,
        rule_name=rule_name.strip(),
        rule_id=None,
        severity=severity,
        risk_score=RISK_BY_SEVERITY[severity],
        namespace=namespace,
        pod=pod,
        container_id=container_id,
        container_name=first_text(fields, "container.name"),
        timestamp=when,
        document=document,
    )


def _require_target(
    names: str, namespace: str | None, pod: str | None, container_id: str | None
) -> None:
    if (namespace and pod) or container_id:
        return
    raise ExternalAlertError(f"names no pod: it needs {names}, or container.id")
