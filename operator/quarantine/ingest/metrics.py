"""Prometheus metrics of the matcher, in a registry of their own so each server stays apart."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from quarantine.detect.counters import RuleCounters
from quarantine.ingest.routes import Route

PREFIX = "quarantine_matcher"


class MatcherMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.events_received = Counter(
            f"{PREFIX}_events_received",
            "Event lines received on /v1/events, by requested format.",
            ["format"],
            registry=self.registry,
        )
        self.events_rejected = Counter(
            f"{PREFIX}_events_rejected",
            "Event lines refused, by reason (invalid_json, invalid_event, internal).",
            ["reason"],
            registry=self.registry,
        )
        self.events_ignored = Counter(
            f"{PREFIX}_events_ignored",
            "Event lines accepted but not evaluated (not a process event the rules consider).",
            registry=self.registry,
        )
        self.requests_rejected = Counter(
            f"{PREFIX}_requests_rejected",
            "Whole requests refused before their lines were read, by HTTP status.",
            ["status"],
            registry=self.registry,
        )
        self.alerts_created = Counter(
            f"{PREFIX}_alerts_created",
            "Alerts created, by rule.",
            ["rule"],
            registry=self.registry,
        )
        self.alerts_updated = Counter(
            f"{PREFIX}_alerts_updated",
            "Existing Alerts whose count was raised by a repeat detection, by rule.",
            ["rule"],
            registry=self.registry,
        )
        self.alert_write_failures = Counter(
            f"{PREFIX}_alert_write_failures",
            "Alerts that could not be written to the API server, by rule.",
            ["rule"],
            registry=self.registry,
        )
        self.unresolved_targets = Counter(
            f"{PREFIX}_unresolved_targets",
            "Detections whose pod was not found in the pod index, by rule.",
            ["rule"],
            registry=self.registry,
        )
        self.out_of_scope = Counter(
            f"{PREFIX}_out_of_scope",
            "Detections dropped because the rule's scope selectors exclude the pod, by rule.",
            ["rule"],
            registry=self.registry,
        )
        self.external_alerts_received = Counter(
            f"{PREFIX}_external_alerts_received",
            "Alert documents received on /v1/alerts/<source>, by source (elastic, falco).",
            ["source"],
            registry=self.registry,
        )
        self.external_alerts_rejected = Counter(
            f"{PREFIX}_external_alerts_rejected",
            "Alert documents that did not become an Alert, by source and reason "
            "(invalid_alert, rule_missing, out_of_scope, write_failed).",
            ["source", "reason"],
            registry=self.registry,
        )
        self.external_alert_requests_rejected = Counter(
            f"{PREFIX}_external_alert_requests_rejected",
            "Alert intake requests refused whole, by source and HTTP status (401 not counted).",
            ["source", "status"],
            registry=self.registry,
        )
        self.rules = Gauge(
            f"{PREFIX}_rules",
            "DetectionRules known to the matcher, by state (ready, invalid).",
            ["state"],
            registry=self.registry,
        )

    def watch_rule_counters(self, read: Callable[[], Mapping[str, RuleCounters]]) -> None:
        """Expose the detector's per-rule counters, read at scrape time."""
        self.registry.register(_RuleCountersCollector(read))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def metrics_routes(metrics: MatcherMetrics) -> list[Route]:
    from aiohttp import web

    async def serve_metrics(request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    return [Route("GET", "/metrics", serve_metrics, authenticated=False)]


class _RuleCountersCollector(Collector):
    """`quarantine_matcher_rule_events_total{rule,outcome}`: why a rule alerted or stayed silent
    (evaluated, matched, excepted, late, out_of_scope, capped, failed, drafts)."""

    def __init__(self, read: Callable[[], Mapping[str, RuleCounters]]) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            f"{PREFIX}_rule_events",
            "Events per rule and what became of them: evaluated (candidates the query ran on), "
            "matched, excepted (an exception matched), late (taken but older than the "
            "look-back), out_of_scope (taken but outside the rule's namespaces), capped (over "
            "maxSignals per interval), failed (the rule raised), drafts (alerts handed on).",
            labels=["rule", "outcome"],
        )
        # A snapshot: the detection thread only ever increments these integers.
        for rule, counters in sorted(dict(self._read()).items()):
            for outcome, value in counters.as_dict().items():
                family.add_metric([rule, outcome], value)
        yield family
