"""The intake HTTP server: an aiohttp app assembled from route modules, with bearer-token auth.

Route modules (events here, alert intake elsewhere) each return a list of `Route`s; the server
wraps the authenticated ones and serves them all on one listener.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from quarantine.ingest.auth import TokenSource, is_authorized
from quarantine.ingest.routes import Handler, Route, json_error

DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class ListenAddress:
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_listen_address(text: str) -> ListenAddress:
    """Parse `HOST:PORT` (IPv6 as `[::1]:8443`); a clear ValueError names what is wrong."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not host:
        raise ValueError(f"listen address {text!r} must be HOST:PORT, e.g. 127.0.0.1:8443")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"listen address {text!r}: port {port_text!r} is not a number") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"listen address {text!r}: port {port} is out of range 0-65535")
    return ListenAddress(host, port)


def tls_context(cert_file: Path, key_file: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert_file, key_file)
    except (OSError, ssl.SSLError) as error:
        raise ValueError(
            f"cannot load TLS certificate {cert_file} / key {key_file}: {error}"
        ) from error
    return context


def require_token(handler: Handler, tokens: TokenSource) -> Handler:
    async def authenticated(request: web.Request) -> web.StreamResponse:
        if not is_authorized(request.headers.get("Authorization"), tokens):
            return json_error(
                401,
                "missing or wrong bearer token: send 'Authorization: Bearer <token>'",
                headers={"WWW-Authenticate": 'Bearer realm="quarantine"'},
            )
        return await handler(request)

    return authenticated


def build_app(routes: Iterable[Route], tokens: TokenSource) -> web.Application:
    app = web.Application()
    for route in routes:
        handler = require_token(route.handler, tokens) if route.authenticated else route.handler
        app.router.add_route(route.method, route.path, handler)
    return app


class IntakeServer:
    """Runs an app on one address; `port` tells which port was bound (useful with port 0)."""

    def __init__(
        self,
        app: web.Application,
        address: ListenAddress,
        *,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        # Bodies are decompressed by the routes themselves, under a size limit; aiohttp's own
        # decompression would inflate a gzip bomb before any limit applied.
        self._runner = web.AppRunner(app, auto_decompress=False, access_log=None)
        self._address = address
        self._ssl_context = ssl_context
        self._site: web.TCPSite | None = None

    async def start(self) -> None:
        await self._runner.setup()
        self._site = web.TCPSite(
            self._runner, self._address.host, self._address.port, ssl_context=self._ssl_context
        )
        await self._site.start()

    @property
    def port(self) -> int:
        addresses = self._runner.addresses
        if not addresses:
            raise RuntimeError("the intake server is not listening")
        port: int = addresses[0][1]
        return port

    async def stop(self) -> None:
        await self._runner.cleanup()
