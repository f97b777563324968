"""Webhook messages and delivery against a real HTTP receiver on loopback."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from quarantine.respond.notify import WebhookSender, notification_body

ALERT = {
    "metadata": {"name": "sfc-abc", "namespace": "shop", "uid": "u1"},
    "spec": {
        "rule": {"name": "sfc", "ruleId": "475b42f0", "severity": "medium", "riskScore": 47},
        "target": {"namespace": "shop", "pod": "web-1"},
        "source": "matcher",
        "firstSeen": "2026-01-01T00:00:00Z",
        "lastSeen": "2026-01-01T00:00:01Z",
        "count": 2,
    },
}
ACTIONS = [{"action": "isolate", "result": "Succeeded", "message": "ok", "details": {}}]


class Receiver:
    """Answers with the queued statuses (then 200), optionally after a delay."""

    def __init__(self) -> None:
        self.bodies: list[Any] = []
        self.statuses: list[int] = []
        self.delay = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                time.sleep(receiver.delay)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.server.shutdown()
    running.server.server_close()


def sender(**kwargs: Any) -> WebhookSender:
    return WebhookSender(**{"timeout": 2.0, "attempts": 3, "backoff": 0.01, **kwargs})


def test_json_body_carries_alert_rule_target_and_actions() -> None:
    body = notification_body(
        fmt="json", alert=ALERT, phase="Contained", actions=ACTIONS, dry_run=False
    )
    assert body["alert"] == {"name": "sfc-abc", "namespace": "shop", "uid": "u1"}
    assert body["rule"]["riskScore"] == 47
    assert body["target"]["pod"] == "web-1"
    assert body["phase"] == "Contained"
    assert body["actions"] == ACTIONS
    assert body["dryRun"] is False


def test_slack_body_is_one_text_field() -> None:
    body = notification_body(
        fmt="slack", alert=ALERT, phase="DryRun", actions=ACTIONS, dry_run=True
    )
    assert list(body) == ["text"]
    assert "(dry run)" in body["text"]
    assert "shop/web-1" in body["text"]
    assert "isolate Succeeded" in body["text"]


def test_delivers_json(receiver: Receiver) -> None:
    delivery = sender().send(receiver.url, {"hello": "world"})
    assert delivery.delivered
    assert delivery.attempts == 1
    assert receiver.bodies == [{"hello": "world"}]


def test_retries_server_errors_then_succeeds(receiver: Receiver) -> None:
    receiver.statuses = [503, 500]
    delivery = sender().send(receiver.url, {"n": 1})
    assert delivery.delivered
    assert delivery.attempts == 3
    assert len(receiver.bodies) == 3


def test_client_errors_are_not_retried(receiver: Receiver) -> None:
    receiver.statuses = [404]
    delivery = sender().send(receiver.url, {"n": 1})
    assert not delivery.delivered
    assert delivery.detail == "HTTP 404"
    assert len(receiver.bodies) == 1


def test_slow_receiver_times_out_on_every_attempt(receiver: Receiver) -> None:
    receiver.delay = 1.0
    started = time.monotonic()
    delivery = sender(timeout=0.2, attempts=2).send(receiver.url, {"n": 1})
    assert not delivery.delivered
    assert delivery.attempts == 2
    assert "Timeout" in delivery.detail
    assert time.monotonic() - started < 2.0


def test_unreachable_receiver_fails_cleanly() -> None:
    delivery = sender(attempts=2).send("http://127.0.0.1:9/nothing-listens", {"n": 1})
    assert not delivery.delivered
    assert "ConnectError" in delivery.detail
