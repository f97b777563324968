"""Alert intake routes: engines that already detect hand Quarantine alerts instead of events.

`POST /v1/alerts/elastic` takes the alert documents Elastic Security's webhook connector sends
(a JSON array, one document, or `{"alerts": [...]}`); `POST /v1/alerts/falco` takes what
Falcosidekick's webhook output posts (one JSON object; NDJSON for several). Each alert becomes an
Alert for the pod it names; the response playbook comes from a DetectionRule: `?rule=NAME`, or
the matcher's `--default-alert-rule`. The matcher serves these routes on its own listener, with
the same bearer token and body limit as `/v1/events`.

Reading the documents is `quarantine.ingest.external_alerts`; writing the Alerts is
`quarantine.ingest.alert_recorder`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from quarantine.ingest.alert_recorder import (
    AlertRecording,
    OutsideRuleScope,
    PlaybookRuleMissing,
    check_rule_name,
)
from quarantine.ingest.body import BodyError, decode_content, read_limited
from quarantine.ingest.external_alerts import (
    ExternalAlertError,
    ExternalSource,
    elastic_alert_documents,
    parse_elastic_alert,
    parse_falco_alert,
)
from quarantine.ingest.metrics import MatcherMetrics
from quarantine.ingest.ndjson import LineError, parse_ndjson
from quarantine.ingest.outcome import batch_status
from quarantine.ingest.routes import Route, json_error, json_response
from quarantine.k8s.alert_writer import AlertWriteError
from quarantine.k8s.raw import ApiError

log = logging.getLogger(__name__)

MAX_ALERTS_PER_REQUEST = 500


@dataclass
class IntakeOutcome:
    accepted: int = 0
    alerts: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    server_failure: bool = False

    def http_status(self) -> int:
        return batch_status(
            accepted=self.accepted, failed=bool(self.errors), server_failure=self.server_failure
        )

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
    metrics: MatcherMetrics,
) -> list[Route]:
    """The two intake routes. Both need the bearer token (the server adds the check)."""

    async def handle(request: web.Request, source: ExternalSource) -> web.StreamResponse:
        def refuse(status: int, message: str) -> web.Response:
            metrics.external_alert_requests_rejected.labels(source, str(status)).inc()
            return json_error(status, message)

        playbook_rule = request.query.get("rule") or default_rule
        if not playbook_rule:
            return refuse(
                400,
                "no DetectionRule for the response playbook: add ?rule=NAME to the URL, or "
                "start the matcher with --default-alert-rule NAME",
            )
        try:
            # The name goes into an API path: only a well-formed name may get there.
            check_rule_name(playbook_rule)
        except ValueError as error:
            return refuse(400, f"?rule=: {error}")
        try:
            raw = await read_limited(request.content, max_body_bytes, request.content_length)
            body = decode_content(raw, request.headers.get("Content-Encoding"), max_body_bytes)
        except BodyError as error:
            return refuse(error.status, str(error))
        items = _parse_items(body, source)
        if isinstance(items, str):
            return refuse(400, items)
        metrics.external_alerts_received.labels(source).inc(len(items))
        if len(items) > MAX_ALERTS_PER_REQUEST:
            return refuse(
                413, f"{len(items)} alerts in one request; send at most {MAX_ALERTS_PER_REQUEST}"
            )
        try:
            await asyncio.to_thread(recorder.playbook_rule_id, playbook_rule)
        except PlaybookRuleMissing:
            return refuse(
                422, f"DetectionRule {playbook_rule!r} does not exist: name one with ?rule=NAME"
            )
        except ExternalAlertError as error:  # the rule is there, but unusable
            return refuse(422, str(error))
        except ApiError as error:
            return refuse(503, f"cannot read DetectionRule {playbook_rule!r}: {error}")
        outcome = await _record_all(recorder, items, source, playbook_rule, metrics)
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
    recorder: AlertRecording,
    items: Sequence[_Item],
    source: ExternalSource,
    playbook_rule: str,
    metrics: MatcherMetrics,
) -> IntakeOutcome:
    outcome = IntakeOutcome()
    received = datetime.now(UTC)
    rejected = metrics.external_alerts_rejected
    for item in items:
        try:
            if source == "elastic":
                alert = parse_elastic_alert(item.document, received=received)
            else:
                alert = parse_falco_alert(item.document, received=received)
            recorded = await asyncio.to_thread(recorder.record, alert, playbook_rule)
        except ExternalAlertError as error:
            rejected.labels(source, "invalid_alert").inc()
            outcome.errors.append({**item.position, "error": str(error)})
            continue
        except OutsideRuleScope as outside:
            # The rule's own terms, not a fault of the sender: said, not refused.
            rejected.labels(source, "out_of_scope").inc()
            outcome.accepted += 1
            outcome.warnings.append({**item.position, "warning": str(outside)})
            continue
        except PlaybookRuleMissing:
            rejected.labels(source, "rule_missing").inc()
            outcome.errors.append(
                {**item.position, "error": f"DetectionRule {playbook_rule!r} was deleted"}
            )
            continue
        except (AlertWriteError, ApiError) as error:
            log.error("cannot record a %s alert for rule %s: %s", source, playbook_rule, error)
            rejected.labels(source, "write_failed").inc()
            metrics.alert_write_failures.labels(playbook_rule).inc()
            outcome.errors.append({**item.position, "error": f"cannot write the Alert: {error}"})
            outcome.server_failure = outcome.server_failure or _retryable(error)
            continue
        outcome.accepted += 1
        written = metrics.alerts_created if recorded.result == "created" else metrics.alerts_updated
        written.labels(playbook_rule).inc()
        reference = f"{recorded.namespace}/{recorded.name}"
        if reference not in outcome.alerts:
            outcome.alerts.append(reference)
        if recorded.warning:
            outcome.warnings.append({**item.position, "warning": recorded.warning})
    return outcome


def _retryable(error: AlertWriteError | ApiError) -> bool:
    if isinstance(error, AlertWriteError):
        return error.retryable
    return error.status in (0, 429) or error.status >= 500
