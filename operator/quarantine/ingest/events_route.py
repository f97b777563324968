"""`POST /v1/events`: NDJSON events in, per-line results and created Alerts out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from aiohttp import web

from quarantine.ingest.body import BodyError, decode_content, read_limited
from quarantine.ingest.metrics import MatcherMetrics
from quarantine.ingest.ndjson import RawLine, split_ndjson
from quarantine.ingest.outcome import BatchOutcome
from quarantine.ingest.routes import Route, json_error, json_response

EVENT_FORMATS = ("ecs", "tetragon", "falco", "auto")


class EventBatchProcessor(Protocol):
    """Turns the lines of a batch into detections and Alerts, with an error per line it
    cannot use (invalid JSON among them)."""

    async def process(self, lines: Sequence[RawLine], event_format: str) -> BatchOutcome: ...


def event_routes(
    processor: EventBatchProcessor, metrics: MatcherMetrics, *, max_body_bytes: int
) -> list[Route]:
    async def post_events(request: web.Request) -> web.StreamResponse:
        event_format = request.query.get("format", "auto")
        if event_format not in EVENT_FORMATS:
            metrics.requests_rejected.labels("400").inc()
            return json_error(
                400,
                f"unknown format {event_format!r}: use one of {', '.join(EVENT_FORMATS)}",
            )
        try:
            raw = await read_limited(request.content, max_body_bytes, request.content_length)
            body = decode_content(raw, request.headers.get("Content-Encoding"), max_body_bytes)
        except BodyError as error:
            metrics.requests_rejected.labels(str(error.status)).inc()
            return json_error(error.status, str(error))

        # Lines are decoded in the detection lane, each just before it is evaluated.
        lines = list(split_ndjson(body))
        metrics.events_received.labels(event_format).inc(len(lines))
        outcome = await processor.process(lines, event_format) if lines else BatchOutcome()
        headers = {"Retry-After": "5"} if outcome.server_failure else None
        return json_response(outcome.as_json(), status=outcome.http_status(), headers=headers)

    return [Route("POST", "/v1/events", post_events)]
