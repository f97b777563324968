"""Liveness and readiness probes of the intake server."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from aiohttp import web

from quarantine.ingest.routes import Route, json_response

ReadinessCheck = Callable[[], Mapping[str, bool]]


def health_routes(readiness: ReadinessCheck) -> list[Route]:
    """`/healthz`: the process serves HTTP. `/readyz`: every named check passes (503 otherwise)."""

    async def healthz(request: web.Request) -> web.StreamResponse:
        return json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.StreamResponse:
        checks = dict(readiness())
        ready = all(checks.values())
        return json_response(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status=200 if ready else 503,
        )

    return [
        Route("GET", "/healthz", healthz, authenticated=False),
        Route("GET", "/readyz", readyz, authenticated=False),
    ]
