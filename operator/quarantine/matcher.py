"""The matcher service: DetectionRule, pod and namespace watches, the intake server, Alert writes.

One listener serves the event intake (`/v1/events`), the alert intake (`/v1/alerts/elastic`,
`/v1/alerts/falco`), the probes and the metrics; both intakes share the bearer token and the
body limit, and resolve pods through the same pod index.

`MatcherService` wires the parts; each part lives in `quarantine.ingest` (HTTP, evaluation) or
`quarantine.k8s` (watches, pod index, Alert writer, rule status).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from kubernetes import client

from quarantine.detect import Detector, RuleSet
from quarantine.detect.scope import ScopeCheck
from quarantine.heap import settle_startup_heap
from quarantine.ingest.alert_intake import alert_intake_routes
from quarantine.ingest.alert_recorder import ExternalAlertRecorder, check_rule_name
from quarantine.ingest.alert_sink import AlertSink, KubernetesAlertSink
from quarantine.ingest.auth import FileToken, RotatingToken, TokenSource
from quarantine.ingest.detection_lane import DetectionLane
from quarantine.ingest.events_route import event_routes
from quarantine.ingest.health import health_routes
from quarantine.ingest.metrics import MatcherMetrics, metrics_routes
from quarantine.ingest.pipeline import EventPipeline
from quarantine.ingest.routes import Route
from quarantine.ingest.server import IntakeServer, ListenAddress, build_app, tls_context
from quarantine.k8s.alert_writer import AlertWriter
from quarantine.k8s.client import load_api_client
from quarantine.k8s.namespace_index import NamespaceIndex
from quarantine.k8s.pod_index import PodIndex
from quarantine.k8s.rule_catalog import RuleCatalog
from quarantine.k8s.rule_status import AlertCounter, RuleStatusWriter
from quarantine.k8s.rule_watch import DETECTION_RULES_PATH, RuleWatchHandler
from quarantine.k8s.secret_token import read_secret_token
from quarantine.k8s.targets import TargetResolver
from quarantine.k8s.watch import ListWatch
from quarantine.k8s.workloads import WorkloadResolver

log = logging.getLogger(__name__)

TOKEN_REFRESH_SECONDS = 60.0


class ListenError(ValueError):
    """The intake address cannot be bound (in use, not permitted, not a local address)."""


@dataclass(frozen=True)
class MatcherOptions:
    listen: ListenAddress
    kubeconfig: str | None = None
    token_file: Path | None = None
    token_secret: tuple[str, str] | None = None
    max_body_bytes: int = 8 * 1024 * 1024
    tls_cert: Path | None = None
    tls_key: Path | None = None
    fallback_namespace: str | None = None
    """Where Alerts go when the event's pod and namespace are unknown (None: report only)."""
    status_flush_seconds: float = 5.0
    default_alert_rule: str | None = None
    """DetectionRule whose playbook answers intake alerts that name none (`?rule=`)."""


class MatcherService:
    def __init__(
        self,
        options: MatcherOptions,
        *,
        api: client.ApiClient | None = None,
        sink: AlertSink | None = None,
        extra_routes: tuple[Route, ...] = (),
    ) -> None:
        if (options.token_file is None) == (options.token_secret is None):
            raise ValueError("give exactly one of --token-file or --token-secret")
        if (options.tls_cert is None) != (options.tls_key is None):
            raise ValueError("--tls-cert and --tls-key go together")
        if options.default_alert_rule is not None:
            check_rule_name(options.default_alert_rule)
        self._options = options
        self._api = api or load_api_client(options.kubeconfig)
        self.metrics = MatcherMetrics()
        self._pods = PodIndex()
        self._namespaces = NamespaceIndex()
        detector = Detector(RuleSet.empty())
        self._lane = DetectionLane(detector)
        self.metrics.watch_rule_counters(detector.all_counters)
        self._scopes: Mapping[str, ScopeCheck] = {}
        self._counter = AlertCounter(self._api)
        self._rules = RuleWatchHandler(self._install_catalog, RuleStatusWriter(self._api))
        self._watches = [
            ListWatch(self._api, DETECTION_RULES_PATH, self._rules, name="detectionrules"),
            ListWatch(self._api, "/api/v1/pods", self._pods, name="pods"),
            ListWatch(self._api, "/api/v1/namespaces", self._namespaces, name="namespaces"),
        ]
        self._sink = sink
        self._extra_routes = extra_routes
        self._server: IntakeServer | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the matcher is not started")
        return self._server.port

    def readiness(self) -> dict[str, bool]:
        return {
            "rules": self._rules.loaded.is_set(),
            "pods": self._watches[1].synced.is_set(),
            "namespaces": self._watches[2].synced.is_set(),
        }

    async def start(self) -> None:
        tokens = await self._load_tokens()
        writer = AlertWriter(self._api)
        sink = self._sink or KubernetesAlertSink(writer)
        resolver = TargetResolver(self._pods, WorkloadResolver(self._api))
        pipeline = EventPipeline(
            lane=self._lane,
            resolver=resolver,
            namespaces=self._namespaces,
            scopes=lambda: self._scopes,
            sink=sink,
            counter=self._counter,
            metrics=self.metrics,
            fallback_namespace=self._options.fallback_namespace,
        )
        routes = [
            *event_routes(pipeline, self.metrics, max_body_bytes=self._options.max_body_bytes),
            *alert_intake_routes(
                ExternalAlertRecorder(
                    self._api,
                    resolver,
                    writer=writer,
                    counter=self._counter,
                    namespaces=self._namespaces,
                    watched_rules=self._rules.get,
                ),
                default_rule=self._options.default_alert_rule,
                max_body_bytes=self._options.max_body_bytes,
                metrics=self.metrics,
            ),
            *health_routes(self.readiness),
            *metrics_routes(self.metrics),
            *self._extra_routes,
        ]
        ssl_context = (
            tls_context(self._options.tls_cert, self._options.tls_key)
            if self._options.tls_cert and self._options.tls_key
            else None
        )
        self._server = IntakeServer(
            build_app(routes, tokens), self._options.listen, ssl_context=ssl_context
        )
        try:
            await self._server.start()
        except OSError as error:
            raise ListenError(
                f"cannot listen on {self._options.listen}: {error.strerror}"
            ) from error
        # Watches start once the port is ours, so a failed start leaves nothing running;
        # /readyz says 503 until they have synced.
        for watch in self._watches:
            watch.start()
        self._tasks.append(asyncio.create_task(self._flush_counts_forever()))
        if isinstance(tokens, RotatingToken):
            self._tasks.append(asyncio.create_task(self._refresh_secret_token_forever(tokens)))
        log.info("matcher listening on %s", self._options.listen)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._server is not None:
            await self._server.stop()
        await asyncio.to_thread(self._stop_watches)
        await asyncio.to_thread(self._counter.flush)
        self._lane.close()

    def _stop_watches(self) -> None:
        for watch in self._watches:
            watch.stop()

    def _install_catalog(self, catalog: RuleCatalog) -> None:
        """Called on the rule watch thread whenever the rules change."""
        self._lane.replace_rules(catalog.ruleset)
        self._scopes = dict(catalog.scopes)
        self.metrics.rules.labels("ready").set(catalog.active_count)
        self.metrics.rules.labels("invalid").set(len(catalog.problems))

    async def _load_tokens(self) -> TokenSource:
        if self._options.token_file is not None:
            return FileToken(self._options.token_file)
        assert self._options.token_secret is not None
        namespace, name = self._options.token_secret
        token = await asyncio.to_thread(read_secret_token, self._api, namespace, name)
        return RotatingToken(token, origin=f"Secret {namespace}/{name}")

    async def _refresh_secret_token_forever(self, tokens: RotatingToken) -> None:
        assert self._options.token_secret is not None
        namespace, name = self._options.token_secret
        while True:
            await asyncio.sleep(TOKEN_REFRESH_SECONDS)
            try:
                tokens.set(await asyncio.to_thread(read_secret_token, self._api, namespace, name))
            except ValueError as error:
                log.warning("keeping the previous intake token: %s", error)

    async def _flush_counts_forever(self) -> None:
        while True:
            await asyncio.sleep(self._options.status_flush_seconds)
            await asyncio.to_thread(self._counter.flush)


async def serve_until_signalled(options: MatcherOptions) -> None:
    service = MatcherService(options)
    await service.start()
    settle_startup_heap()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        log.info("matcher stopping")
        await service.stop()


def run_matcher(options: MatcherOptions) -> int:
    asyncio.run(serve_until_signalled(options))
    return 0
