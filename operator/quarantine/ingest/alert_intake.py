"""Alert intake: engines that already detect (Elastic Security, Falco) hand Quarantine alerts.

`POST /v1/alerts/elastic` takes the alert documents Elastic Security's webhook connector sends
(a JSON array, one document, or `{"alerts": [...]}`); `POST /v1/alerts/falco` takes what
Falcosidekick's webhook output posts (one JSON object; NDJSON for several). Each alert becomes an
Alert for the pod it names, and the response playbook comes from a DetectionRule: `?rule=NAME`,
or the configured default. The same external alert always maps to the same Alert name, so a
resend raises that Alert's count instead of creating another.

Parsing and mapping are pure; `ExternalAlertRecorder` does the Kubernetes part.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import orjson
from aiohttp import web
from kubernetes import client

from quarantine.api import Severity
from quarantine.detect.trim import trim_event
from quarantine.events.timestamps import parse_timestamp, to_datetime
from quarantine.ingest.body import BodyError, decode_content, read_limited
from quarantine.ingest.ndjson import LineError, parse_ndjson
from quarantine.ingest.routes import Route, json_error, json_response
from quarantine.k8s.alert_manifest import AlertOccurrence, alert_manifest, repeat_patch
from quarantine.k8s.raw import MERGE_PATCH, ApiError, request_json
from quarantine.k8s.targets import ResolvedTarget, TargetHint

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

MAX_ALERTS_PER_REQUEST = 500
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


# --- writing Alerts -------------------------------------------------------------------------


class PlaybookRuleMissing(LookupError):
    """The DetectionRule that should provide the playbook does not exist."""


class TargetResolving(Protocol):
    def resolve(self, hint: TargetHint) -> ResolvedTarget: ...


@dataclass(frozen=True)
class Recorded:
    """An Alert written for one external alert."""

    namespace: str
    name: str
    result: Literal["created", "updated"]
    warning: str | None = None


class ExternalAlertRecorder:
    """Creates (or, for a resent alert, updates) the Alert for an ExternalAlert.

    Blocking client calls; the routes run them in threads.
    """

    def __init__(
        self,
        api: client.ApiClient,
        resolver: TargetResolving,
        *,
        rule_cache_seconds: float = 30.0,
        max_attempts: int = 8,
    ) -> None:
        self._api = api
        self._resolver = resolver
        self._rule_cache_seconds = rule_cache_seconds
        self._max_attempts = max_attempts
        self._rule_ids: dict[str, tuple[float, str | None]] = {}

    def playbook_rule_id(self, rule_name: str) -> str | None:
        """The ruleId of DetectionRule `rule_name`; PlaybookRuleMissing when there is none."""
        cached = self._rule_ids.get(rule_name)
        if cached and time.monotonic() - cached[0] < self._rule_cache_seconds:
            return cached[1]
        try:
            rule = request_json(
                self._api, "GET", f"/apis/quarantine.io/v1alpha1/detectionrules/{rule_name}"
            )
        except ApiError as error:
            if error.status == 404:
                raise PlaybookRuleMissing(rule_name) from None
            raise
        rule_id = (rule.get("spec") or {}).get("ruleId")
        self._rule_ids[rule_name] = (time.monotonic(), rule_id)
        return rule_id

    def record(self, alert: ExternalAlert, playbook_rule: str) -> Recorded:
        fallback_rule_id = self.playbook_rule_id(playbook_rule)
        target = self._resolver.resolve(alert)
        if not target.namespace:
            raise ExternalAlertError(
                f"container {alert.container_id} is not running in any known pod, and the alert "
                "names no namespace and pod"
            )
        occurrence = AlertOccurrence(
            name=alert.alert_name,
            namespace=target.namespace,
            rule_name=playbook_rule,
            rule_id=alert.rule_id or fallback_rule_id,
            severity=alert.severity,
            risk_score=alert.risk_score,
            target=target,
            first_seen=alert.timestamp,
            last_seen=alert.timestamp,
            count=1,
            events=[trim_event(alert.document)],
        )
        result = self._write(occurrence, alert.source)
        warning = None
        if not target.resolved:
            warning = (
                f"pod {target.namespace}/{target.pod} is not known (yet); Alert written as named"
            )
        return Recorded(target.namespace, occurrence.name, result, warning)

    def _write(
        self, occurrence: AlertOccurrence, source: ExternalSource
    ) -> Literal["created", "updated"]:
        # The matcher's writer always says source=matcher; otherwise this is its create-or-count.
        collection = f"/apis/quarantine.io/v1alpha1/namespaces/{occurrence.namespace}/alerts"
        item = f"{collection}/{occurrence.name}"
        manifest = alert_manifest(occurrence)
        manifest["spec"]["source"] = source
        for _ in range(self._max_attempts):
            try:
                request_json(self._api, "POST", collection, body=manifest)
                return "created"
            except ApiError as error:
                if error.status != 409:
                    raise
            try:
                existing = request_json(self._api, "GET", item)
                patch = repeat_patch(existing, occurrence)
                request_json(self._api, "PATCH", item, body=patch, content_type=MERGE_PATCH)
                return "updated"
            except ApiError as error:
                if error.status not in (404, 409):
                    raise
        raise ApiError(409, "PATCH", item, f"gave up after {self._max_attempts} attempts")


class AlertRecording(Protocol):
    def playbook_rule_id(self, rule_name: str) -> str | None: ...

    def record(self, alert: ExternalAlert, playbook_rule: str) -> Recorded: ...


# --- HTTP -----------------------------------------------------------------------------------


@dataclass
class IntakeOutcome:
    accepted: int = 0
    alerts: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    server_failure: bool = False

    def http_status(self) -> int:
        if self.server_failure:
            return 503
        if not self.errors:
            return 200
        return 207 if self.accepted else 400

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "accepted": self.accepted,
            "alerts": self.alerts,
            "errors": self.errors,
        }
        if self.warnings:
            body["warnings"] = self.warnings
        return body


def alert_intake_routes(
    recorder: AlertRecording,
    *,
    default_rule: str | None,
    max_body_bytes: int,
) -> list[Route]:
    """The two intake routes. Both need the bearer token (the server adds the check)."""

    async def handle(request: web.Request, source: ExternalSource) -> web.StreamResponse:
        playbook_rule = request.query.get("rule") or default_rule
        if not playbook_rule:
            return json_error(
                400,
                "no DetectionRule for the response playbook: add ?rule=NAME to the URL, or "
                "start Quarantine with a default rule for external alerts",
            )
        try:
            raw = await read_limited(request.content, max_body_bytes, request.content_length)
            body = decode_content(raw, request.headers.get("Content-Encoding"), max_body_bytes)
        except BodyError as error:
            return json_error(error.status, str(error))
        items = _parse_items(body, source)
        if isinstance(items, str):
            return json_error(400, items)
        if len(items) > MAX_ALERTS_PER_REQUEST:
            return json_error(
                413, f"{len(items)} alerts in one request; send at most {MAX_ALERTS_PER_REQUEST}"
            )
        try:
            await asyncio.to_thread(recorder.playbook_rule_id, playbook_rule)
        except PlaybookRuleMissing:
            return json_error(
                422, f"DetectionRule {playbook_rule!r} does not exist: name one with ?rule=NAME"
            )
        except ApiError as error:
            return json_error(503, f"cannot read DetectionRule {playbook_rule!r}: {error}")
        outcome = await _record_all(recorder, items, source, playbook_rule)
        headers = {"Retry-After": "5"} if outcome.server_failure else None
        return json_response(outcome.as_json(), status=outcome.http_status(), headers=headers)

    async def post_elastic(request: web.Request) -> web.StreamResponse:
        return await handle(request, "elastic")

    async def post_falco(request: web.Request) -> web.StreamResponse:
        return await handle(request, "falco")

    return [
        Route("POST", "/v1/alerts/elastic", post_elastic),
        Route("POST", "/v1/alerts/falco", post_falco),
    ]


@dataclass(frozen=True)
class _Item:
    position: dict[str, int]
    """Where the item is in the body: {"index": i} in a JSON array, {"line": n} in NDJSON."""
    document: Any


def _parse_items(body: bytes, source: ExternalSource) -> list[_Item] | str:
    """The alert documents of a body, or a message saying why the body is unusable."""
    if source == "falco":
        items: list[_Item] = []
        for parsed in parse_ndjson(body):
            if isinstance(parsed, LineError):
                return f"line {parsed.line}: {parsed.error}"
            items.append(_Item({"line": parsed.line}, parsed.document))
        return items if items else "the body holds no Falco alert"
    try:
        documents = elastic_alert_documents(orjson.loads(body))
    except orjson.JSONDecodeError as error:
        return f"the body is not JSON: {error}"
    except ExternalAlertError as error:
        return str(error)
    return [_Item({"index": index}, document) for index, document in enumerate(documents)]


async def _record_all(
    recorder: AlertRecording, items: Sequence[_Item], source: ExternalSource, playbook_rule: str
) -> IntakeOutcome:
    outcome = IntakeOutcome()
    received = _now()
    for item in items:
        try:
            if source == "elastic":
                alert = parse_elastic_alert(item.document, received=received)
            else:
                alert = parse_falco_alert(item.document, received=received)
            recorded = await asyncio.to_thread(recorder.record, alert, playbook_rule)
        except ExternalAlertError as error:
            outcome.errors.append({**item.position, "error": str(error)})
            continue
        except PlaybookRuleMissing:
            outcome.errors.append(
                {**item.position, "error": f"DetectionRule {playbook_rule!r} was deleted"}
            )
            continue
        except ApiError as error:
            outcome.errors.append({**item.position, "error": f"cannot write the Alert: {error}"})
            outcome.server_failure = (
                outcome.server_failure or error.status in (0, 429) or error.status >= 500
            )
            continue
        outcome.accepted += 1
        reference = f"{recorded.namespace}/{recorded.name}"
        if reference not in outcome.alerts:
            outcome.alerts.append(reference)
        if recorded.warning:
            outcome.warnings.append({**item.position, "warning": recorded.warning})
    return outcome
