"""DetectionRule status: the Ready condition (with the compile error) and the alert counters.

Writes go through the status subresource as JSON merge patches. The Ready condition is only
written when it would change, so the watch that reports our own write does not loop.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubernetes import client

from quarantine.k8s.alert_manifest import parse_rfc3339, rfc3339
from quarantine.k8s.raw import MERGE_PATCH, ApiError, request_json

log = logging.getLogger(__name__)

READY = "Ready"
HTTP_CONFLICT = 409
HTTP_NOT_FOUND = 404


@dataclass(frozen=True)
class RuleProblem:
    """Why a rule cannot run. `line`/`column` are set for query errors (1-based)."""

    reason: str
    message: str
    line: int | None = None
    column: int | None = None


def rule_status_path(name: str) -> str:
    return f"/apis/quarantine.io/v1alpha1/detectionrules/{name}/status"


def ready_status_patch(
    rule: Mapping[str, Any], problem: RuleProblem | None, now: datetime
) -> dict[str, Any] | None:
    """The status patch that makes `rule` show `problem` (or Ready), or None if it already does."""
    metadata = rule.get("metadata") or {}
    status = rule.get("status") or {}
    generation = metadata.get("generation")
    conditions: list[dict[str, Any]] = [dict(c) for c in status.get("conditions") or []]
    current = next((c for c in conditions if c.get("type") == READY), None)

    wanted = {
        "type": READY,
        "status": "False" if problem else "True",
        "reason": problem.reason if problem else "Compiled",
        "message": problem.message if problem else "the query compiled; the rule is active",
        "observedGeneration": generation,
    }
    query_error = None
    if problem is not None and problem.line is not None:
        query_error = {"line": problem.line, "column": problem.column, "message": problem.message}

    same_condition = current is not None and all(current.get(k) == v for k, v in wanted.items())
    if (
        same_condition
        and status.get("observedGeneration") == generation
        and status.get("queryError") == query_error
    ):
        return None

    keep_time = current is not None and current.get("status") == wanted["status"]
    wanted["lastTransitionTime"] = (
        current.get("lastTransitionTime") if keep_time and current else None
    ) or rfc3339(now)
    others = [c for c in conditions if c.get("type") != READY]
    return {
        "status": {
            "conditions": [*others, wanted],
            "observedGeneration": generation,
            # null removes the field in a merge patch: a fixed query clears its old error.
            "queryError": query_error,
        }
    }


class RuleStatusWriter:
    def __init__(self, api: client.ApiClient) -> None:
        self._api = api

    def ensure_ready_status(self, rule: Mapping[str, Any], problem: RuleProblem | None) -> bool:
        """Patch the Ready condition if needed; True if a write was made."""
        patch = ready_status_patch(rule, problem, datetime.now(UTC))
        if patch is None:
            return False
        name = (rule.get("metadata") or {}).get("name", "")
        try:
            request_json(
                self._api, "PATCH", rule_status_path(name), body=patch, content_type=MERGE_PATCH
            )
        except ApiError as error:
            if error.status != HTTP_NOT_FOUND:  # a deleted rule needs no status
                log.warning("cannot write status of DetectionRule %s: %s", name, error)
            return False
        return True


class AlertCounter:
    """Collects per-rule detection counts and adds them to `status.alertCount` in batches.

    Several matcher replicas add to the same counter, so each flush is a read-modify-write
    guarded by resourceVersion, retried on conflict.
    """

    def __init__(self, api: client.ApiClient, *, max_attempts: int = 5) -> None:
        self._api = api
        self._max_attempts = max_attempts
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[int, datetime]] = {}

    def record(self, rule_name: str, count: int, when: datetime) -> None:
        with self._lock:
            old_count, old_when = self._pending.get(rule_name, (0, when))
            self._pending[rule_name] = (old_count + count, max(old_when, when))

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        for rule_name, (count, when) in pending.items():
            try:
                self._add(rule_name, count, when)
            except ApiError as error:
                if error.status == HTTP_NOT_FOUND:
                    continue
                log.warning("cannot update alertCount of DetectionRule %s: %s", rule_name, error)
                # Keep the count for the next flush rather than lose it.
                self.record(rule_name, count, when)

    def _add(self, rule_name: str, count: int, when: datetime) -> None:
        path = f"/apis/quarantine.io/v1alpha1/detectionrules/{rule_name}"
        for attempt in range(self._max_attempts):
            rule = request_json(self._api, "GET", path)
            status = rule.get("status") or {}
            last = status.get("lastAlertTime")
            latest = max(parse_rfc3339(last), when) if isinstance(last, str) else when
            patch = {
                "metadata": {
                    "resourceVersion": (rule.get("metadata") or {}).get("resourceVersion")
                },
                "status": {
                    "alertCount": int(status.get("alertCount") or 0) + count,
                    "lastAlertTime": rfc3339(latest),
                },
            }
            try:
                request_json(
                    self._api,
                    "PATCH",
                    rule_status_path(rule_name),
                    body=patch,
                    content_type=MERGE_PATCH,
                )
                return
            except ApiError as error:
                if error.status != HTTP_CONFLICT or attempt == self._max_attempts - 1:
                    raise
