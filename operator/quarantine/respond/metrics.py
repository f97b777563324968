"""Prometheus metrics of the responder."""

from __future__ import annotations

from prometheus_client import Counter, Histogram, start_http_server

ACTIONS = Counter(
    "quarantine_actions_total",
    "Playbook actions run, by action and result.",
    ["action", "result"],
)
ALERTS_HANDLED = Counter(
    "quarantine_alerts_handled_total",
    "Alerts whose playbook finished (or was released), by phase.",
    ["phase"],
)
CONTAINMENT_LATENCY = Histogram(
    "quarantine_containment_latency_seconds",
    "Seconds from the Alert's creation (and, labelled first_event, from its first event) to "
    "containment.",
    ["since"],
    buckets=(0.05, 0.1, 0.25, 0.5, 0.75, 1, 2, 5, 10, 30, 60, 300),
)


def serve_metrics(port: int, address: str = "127.0.0.1") -> None:
    """Expose /metrics on a background thread."""
    start_http_server(port, addr=address)
