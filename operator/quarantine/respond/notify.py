"""Webhook notifications: the message (pure) and a sender with a timeout and retries."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import httpx

Format = Literal["json", "slack"]


def notification_body(
    *,
    fmt: Format,
    alert: Mapping[str, Any],
    phase: str,
    actions: Sequence[Mapping[str, Any]],
    dry_run: bool,
) -> dict[str, Any]:
    """The JSON document to post: the alert and its response, or a Slack `{"text": ...}`."""
    metadata = alert.get("metadata") or {}
    spec = alert.get("spec") or {}
    rule = spec.get("rule") or {}
    target = spec.get("target") or {}
    if fmt == "slack":
        done = ", ".join(f"{a.get('action')} {a.get('result')}" for a in actions) or "no actions"
        mode = " (dry run)" if dry_run else ""
        text = (
            f"Quarantine{mode}: rule *{rule.get('name')}* ({rule.get('severity')}, risk "
            f"{rule.get('riskScore')}) matched pod `{target.get('namespace')}/{target.get('pod')}`"
            f" - {phase}: {done}. Alert {metadata.get('namespace')}/{metadata.get('name')}."
        )
        return {"text": text}
    return {
        "kind": "QuarantineAlert",
        "alert": {
            "name": metadata.get("name"),
            "namespace": metadata.get("namespace"),
            "uid": metadata.get("uid"),
        },
        "rule": dict(rule),
        "target": dict(target),
        "source": spec.get("source"),
        "firstSeen": spec.get("firstSeen"),
        "lastSeen": spec.get("lastSeen"),
        "count": spec.get("count"),
        "phase": phase,
        "dryRun": dry_run,
        "actions": [dict(action) for action in actions],
    }


@dataclass(frozen=True)
class Delivery:
    delivered: bool
    attempts: int
    detail: str


class WebhookSender:
    """Posts JSON with httpx; retries connection errors, timeouts, 429 and 5xx with backoff."""

    def __init__(
        self,
        *,
        timeout: float = 5.0,
        attempts: int = 3,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self._sleep = sleep

    def send(self, url: str, body: Mapping[str, Any]) -> Delivery:
        detail = "not attempted"
        with httpx.Client(timeout=self.timeout) as client:
            for attempt in range(1, self.attempts + 1):
                try:
                    response = client.post(url, json=dict(body))
                except httpx.HTTPError as error:
                    detail = f"{type(error).__name__}: {error}"
                else:
                    if response.is_success:
                        return Delivery(True, attempt, f"HTTP {response.status_code}")
                    detail = f"HTTP {response.status_code}"
                    if response.status_code != 429 and response.status_code < 500:
                        return Delivery(False, attempt, detail)
                if attempt < self.attempts:
                    self._sleep(self.backoff * 2 ** (attempt - 1))
        return Delivery(False, self.attempts, detail)
