"""Notifications in the background: containment never waits for a webhook. Each delivery's
outcome is appended to the Alert's `status.actions` when it is known."""

from __future__ import annotations

import base64
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from quarantine.api import NotifyAction
from quarantine.k8s.paths import alert_path
from quarantine.k8s.raw import ApiError, Kube
from quarantine.respond import metrics
from quarantine.respond.events import post_event
from quarantine.respond.notify import Delivery, WebhookSender
from quarantine.respond.outcome import ActionRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NotifyJob:
    alert_reference: dict[str, str]
    step: int
    params: NotifyAction
    body: dict[str, Any]
    dry_run: bool


class Notifier:
    """Delivers notifications on a small thread pool, at most once at a time per Alert step."""

    def __init__(
        self, kube: Kube, *, own_namespace: str, sender: WebhookSender, workers: int = 4
    ) -> None:
        self.kube = kube
        self.own_namespace = own_namespace
        self.sender = sender
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="notify")
        self._in_flight: set[tuple[str, int]] = set()
        self._lock = threading.Lock()

    def submit(self, job: NotifyJob) -> Future[ActionRecord] | None:
        key = (job.alert_reference["uid"], job.step)
        with self._lock:
            if key in self._in_flight:
                return None
            self._in_flight.add(key)
        return self._pool.submit(self._deliver, job, key)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _deliver(self, job: NotifyJob, key: tuple[str, int]) -> ActionRecord:
        try:
            record = self._record(job)
            self._append(job, record)
            metrics.ACTIONS.labels("notify", record.result).inc()
            if record.result == "Failed":
                post_event(
                    self.kube, job.alert_reference, "Warning", "NotifyFailed", record.message
                )
            return record
        finally:
            with self._lock:
                self._in_flight.discard(key)

    def _record(self, job: NotifyJob) -> ActionRecord:
        ref = job.params.secret_ref
        details: dict[str, Any] = {"secret": ref.name, "key": ref.key, "format": job.params.format}
        try:
            url = self._secret_value(ref.name, ref.key)
        except LookupError as error:
            return ActionRecord(job.step, "notify", "Failed", str(error), details)
        try:
            delivery = self.sender.send(url, job.body)
        except Exception as error:  # a broken URL must not kill the worker thread
            delivery = Delivery(False, 1, f"{type(error).__name__}: {error}")
        details["attempts"] = delivery.attempts
        if delivery.delivered:
            return ActionRecord(
                job.step, "notify", "Succeeded", f"delivered ({delivery.detail})", details
            )
        message = f"not delivered after {delivery.attempts} attempt(s): {delivery.detail}"
        return ActionRecord(job.step, "notify", "Failed", message, details)

    def _secret_value(self, name: str, key: str) -> str:
        path = f"/api/v1/namespaces/{self.own_namespace}/secrets/{name}"
        try:
            secret = self.kube.get(path)
        except ApiError as error:
            raise LookupError(
                f"cannot read Secret {self.own_namespace}/{name}: HTTP {error.status}"
            ) from None
        encoded = (secret.get("data") or {}).get(key)
        if not encoded:
            raise LookupError(f"Secret {self.own_namespace}/{name} has no key {key!r}")
        return base64.b64decode(encoded).decode().strip()

    def _append(self, job: NotifyJob, record: ActionRecord) -> None:
        ref = job.alert_reference
        # A JSON-patch append: never overwrites what the playbook wrote meanwhile.
        operation = {"op": "add", "path": "/status/actions/-", "value": record.to_status()}
        try:
            self.kube.json_patch(
                alert_path(ref["namespace"], ref["name"], status=True), [operation]
            )
        except ApiError as error:
            log.warning(
                "alert %s/%s: could not record notify: %s", ref["namespace"], ref["name"], error
            )
