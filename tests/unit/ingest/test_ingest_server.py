"""The intake server over real loopback HTTP: auth, size limits, gzip, per-line answers."""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import ssl
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from quarantine.ingest.auth import StaticToken
from quarantine.ingest.events_route import event_routes
from quarantine.ingest.health import health_routes
from quarantine.ingest.metrics import MatcherMetrics, metrics_routes
from quarantine.ingest.ndjson import LineDecodeError, LineError, RawLine, decode_object
from quarantine.ingest.outcome import BatchOutcome
from quarantine.ingest.server import (
    IntakeServer,
    build_app,
    parse_listen_address,
    tls_context,
)

TOKEN = "t0ken-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LIMIT = 64 * 1024


class RecordingProcessor:
    """Decodes each line as the detection lane does (`decode_object`), refuses objects with
    "bad": true, accepts the rest, and records the line numbers it was given."""

    def __init__(self) -> None:
        self.batches: list[tuple[list[int], str]] = []

    async def process(self, lines: Sequence[RawLine], event_format: str) -> BatchOutcome:
        self.batches.append(([line.line for line in lines], event_format))
        outcome = BatchOutcome()
        for raw in lines:
            try:
                document = decode_object(raw.text)
            except LineDecodeError as error:
                outcome.errors.append(LineError(raw.line, str(error)))
                continue
            if document.get("bad"):
                outcome.errors.append(LineError(raw.line, "refused by the processor"))
            else:
                outcome.accepted += 1
        return outcome


Scenario = Callable[
    [aiohttp.ClientSession, str, RecordingProcessor, MatcherMetrics], Awaitable[None]
]


def serve(scenario: Scenario, *, ready: bool = True, limit: int = LIMIT) -> None:
    async def main() -> None:
        processor = RecordingProcessor()
        metrics = MatcherMetrics()
        routes = [
            *event_routes(processor, metrics, max_body_bytes=limit),
            *health_routes(lambda: {"rules": ready, "pods": True}),
            *metrics_routes(metrics),
        ]
        server = IntakeServer(
            build_app(routes, StaticToken(TOKEN)), parse_listen_address("127.0.0.1:0")
        )
        await server.start()
        try:
            async with aiohttp.ClientSession(auto_decompress=False) as session:
                await scenario(session, f"http://127.0.0.1:{server.port}", processor, metrics)
        finally:
            await server.stop()

    asyncio.run(main())


def test_events_need_the_bearer_token() -> None:
    async def scenario(
        session: aiohttp.ClientSession, base: str, processor: RecordingProcessor, _: Any
    ) -> None:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
            async with session.post(f"{base}/v1/events", data=b"{}\n", headers=headers) as response:
                assert response.status == 401
                assert response.headers["WWW-Authenticate"].startswith("Bearer")
                assert "bearer token" in (await response.json())["error"]
        assert processor.batches == []
        async with session.post(f"{base}/v1/events", data=b"{}\n", headers=AUTH) as response:
            assert response.status == 200

    serve(scenario)


def test_probes_and_metrics_are_open() -> None:
    async def scenario(
        session: aiohttp.ClientSession, base: str, _: Any, metrics: MatcherMetrics
    ) -> None:
        async with session.get(f"{base}/healthz") as response:
            assert response.status == 200
        async with session.get(f"{base}/readyz") as response:
            assert response.status == 503
            assert (await response.json())["checks"] == {"rules": False, "pods": True}
        metrics.alerts_created.labels("rule-a").inc()
        async with session.get(f"{base}/metrics") as response:
            text = await response.text()
            assert response.status == 200
            assert 'quarantine_matcher_alerts_created_total{rule="rule-a"} 1.0' in text

    serve(scenario, ready=False)


def test_bad_lines_are_reported_by_number_and_good_lines_processed() -> None:
    body = b'{"n": 1}\n\n{not json\n{"bad": true}\n[1]\n{"n": 6}\n'

    async def scenario(
        session: aiohttp.ClientSession,
        base: str,
        processor: RecordingProcessor,
        metrics: MatcherMetrics,
    ) -> None:
        async with session.post(
            f"{base}/v1/events?format=ecs", data=body, headers=AUTH
        ) as response:
            assert response.status == 207
            answer = await response.json()
        assert answer["accepted"] == 2
        assert [e["line"] for e in answer["errors"]] == [3, 4, 5]
        assert "invalid JSON" in answer["errors"][0]["error"]
        assert answer["errors"][1]["error"] == "refused by the processor"
        # Every non-blank line reaches the processor, numbered as an editor shows it.
        assert processor.batches == [([1, 3, 4, 5, 6], "ecs")]
        assert metrics.events_received.labels("ecs")._value.get() == 5

    serve(scenario)


def test_a_batch_of_only_bad_lines_is_a_bad_request() -> None:
    async def scenario(
        session: aiohttp.ClientSession, base: str, processor: RecordingProcessor, _: Any
    ) -> None:
        async with session.post(f"{base}/v1/events", data=b"nope\n", headers=AUTH) as response:
            assert response.status == 400
            assert (await response.json())["errors"][0]["line"] == 1
        assert processor.batches == [([1], "auto")]

    serve(scenario)


def test_unknown_format_is_refused() -> None:
    async def scenario(
        session: aiohttp.ClientSession, base: str, processor: RecordingProcessor, _: Any
    ) -> None:
        async with session.post(
            f"{base}/v1/events?format=syslog", data=b"{}", headers=AUTH
        ) as response:
            assert response.status == 400
            assert "'syslog'" in (await response.json())["error"]

    serve(scenario)


def test_oversized_bodies_get_413_declared_or_streamed() -> None:
    big = b'{"pad": "' + b"x" * LIMIT + b'"}\n'

    async def chunks() -> Any:
        for start in range(0, len(big), 4096):
            yield big[start : start + 4096]

    async def scenario(
        session: aiohttp.ClientSession,
        base: str,
        processor: RecordingProcessor,
        metrics: MatcherMetrics,
    ) -> None:
        async with session.post(f"{base}/v1/events", data=big, headers=AUTH) as response:
            assert response.status == 413
            assert f"limit of {LIMIT} bytes" in (await response.json())["error"]
        async with session.post(f"{base}/v1/events", data=chunks(), headers=AUTH) as response:
            assert response.status == 413
        assert processor.batches == []
        assert metrics.requests_rejected.labels("413")._value.get() == 2

    serve(scenario)


def test_gzip_bodies_are_accepted_and_gzip_bombs_refused() -> None:
    lines = b"".join(b'{"n": %d}\n' % i for i in range(100))
    bomb = gzip.compress(b" " * (LIMIT * 50))

    async def scenario(
        session: aiohttp.ClientSession, base: str, processor: RecordingProcessor, _: Any
    ) -> None:
        headers = {**AUTH, "Content-Encoding": "gzip"}
        async with session.post(
            f"{base}/v1/events", data=gzip.compress(lines), headers=headers
        ) as response:
            assert response.status == 200
            assert (await response.json())["accepted"] == 100
        assert len(bomb) < LIMIT
        async with session.post(f"{base}/v1/events", data=bomb, headers=headers) as response:
            assert response.status == 413
            assert "after gzip decompression" in (await response.json())["error"]
        async with session.post(
            f"{base}/v1/events", data=b"x", headers={**AUTH, "Content-Encoding": "br"}
        ) as response:
            assert response.status == 415

    serve(scenario)


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("127.0.0.1:8443", "127.0.0.1", 8443),
        ("[::1]:9000", "::1", 9000),
        ("0.0.0.0:0", "0.0.0.0", 0),
    ],
)
def test_listen_addresses(text: str, host: str, port: int) -> None:
    address = parse_listen_address(text)
    assert (address.host, address.port) == (host, port)


@pytest.mark.parametrize("text", ["8443", ":8443", "host:http", "host:70000"])
def test_bad_listen_addresses_say_what_is_wrong(text: str) -> None:
    with pytest.raises(ValueError, match="listen address"):
        parse_listen_address(text)


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "tls.crt", tmp_path / "tls.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def test_tls_serves_https_only(tmp_path: Path) -> None:
    cert_file, key_file = self_signed(tmp_path)

    async def main() -> None:
        metrics = MatcherMetrics()
        routes = event_routes(RecordingProcessor(), metrics, max_body_bytes=LIMIT)
        server = IntakeServer(
            build_app(routes, StaticToken(TOKEN)),
            parse_listen_address("127.0.0.1:0"),
            ssl_context=tls_context(cert_file, key_file),
        )
        await server.start()
        trusted = ssl.create_default_context(cafile=str(cert_file))
        try:
            async with aiohttp.ClientSession() as session:
                url = f"https://127.0.0.1:{server.port}/v1/events"
                async with session.post(url, data=b"{}\n", headers=AUTH, ssl=trusted) as response:
                    assert response.status == 200
                with pytest.raises(aiohttp.ClientError):
                    plain = url.replace("https://", "http://")
                    async with session.post(plain, data=b"{}\n", headers=AUTH) as response:
                        await response.read()
        finally:
            await server.stop()

    asyncio.run(main())


def test_unreadable_tls_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot load TLS certificate"):
        tls_context(tmp_path / "missing.crt", tmp_path / "missing.key")


def test_bodies_above_aiohttps_own_default_limit_pass_when_configured() -> None:
    # aiohttp refuses bodies over 1 MiB by default; the configured limit must be what counts.
    lines = b"".join(b'{"n": %d, "pad": "%s"}\n' % (i, b"x" * 1000) for i in range(3000))
    assert len(lines) > 2 * 1024 * 1024

    async def scenario(
        session: aiohttp.ClientSession, base: str, processor: RecordingProcessor, _: Any
    ) -> None:
        async with session.post(f"{base}/v1/events", data=lines, headers=AUTH) as response:
            assert response.status == 200
            assert (await response.json())["accepted"] == 3000

    serve(scenario, limit=8 * 1024 * 1024)
