"""Writes Alerts so that a repeat, a retry or a second replica never duplicates one.

The name is deterministic, so "create" is the test-and-set: 409 AlreadyExists means the Alert
is there, and the repeat raises its count under optimistic concurrency instead.

A released Alert (or one being deleted) is closed: its pod was let go on purpose, so a repeat of
the attack must be contained again rather than counted on a record nobody acts on. The repeat
goes to the next name of a deterministic chain (`<name>-r2`, `<name>-r3`, ...), which every
replica computes alike, so the chain never forks.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any, Literal

from kubernetes import client

from quarantine.k8s.alert_manifest import AlertOccurrence, alert_manifest, repeat_patch
from quarantine.k8s.raw import MERGE_PATCH, ApiError, request_json

log = logging.getLogger(__name__)

WriteResult = Literal["created", "updated"]
HTTP_NOT_FOUND = 404
HTTP_CONFLICT = 409
HTTP_TOO_MANY_REQUESTS = 429
MAX_NAME_LENGTH = 63


@dataclasses.dataclass(frozen=True)
class Written:
    """What `AlertWriter.write` did, and to which Alert (a successor when the first was closed)."""

    result: WriteResult
    name: str


def successor_name(name: str, generation: int) -> str:
    """The name of the Alert that follows `name` once its predecessors were released."""
    suffix = f"-r{generation}"
    return name[: MAX_NAME_LENGTH - len(suffix)].rstrip("-") + suffix


def is_closed(alert: Mapping[str, Any]) -> bool:
    """Released, or on its way out: a repeat must not be folded into it."""
    spec = alert.get("spec") or {}
    metadata = alert.get("metadata") or {}
    return bool(spec.get("release")) or bool(metadata.get("deletionTimestamp"))


class AlertWriteError(Exception):
    """An Alert that could not be written; `status` is the API server's answer (0: none)."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status

    @property
    def retryable(self) -> bool:
        """Whether sending the same detection again may succeed: the API server was unreachable,
        overloaded or failing, or other writers kept winning the race."""
        return self.status in (0, HTTP_CONFLICT, HTTP_TOO_MANY_REQUESTS) or self.status >= 500


def alerts_path(namespace: str, name: str | None = None) -> str:
    base = f"/apis/quarantine.io/v1alpha1/namespaces/{namespace}/alerts"
    return f"{base}/{name}" if name else base


class AlertWriter:
    def __init__(self, api: client.ApiClient, *, max_attempts: int = 8) -> None:
        self._api = api
        self._max_attempts = max_attempts

    def write(self, occurrence: AlertOccurrence) -> Written:
        first_name = occurrence.name
        generation = 1
        last_error: ApiError | None = None
        for _ in range(self._max_attempts):
            if generation > 1:
                occurrence = dataclasses.replace(
                    occurrence, name=successor_name(first_name, generation)
                )
            collection = alerts_path(occurrence.namespace)
            item = alerts_path(occurrence.namespace, occurrence.name)
            try:
                request_json(self._api, "POST", collection, body=alert_manifest(occurrence))
                return Written("created", occurrence.name)
            except ApiError as error:
                if error.status != HTTP_CONFLICT:
                    raise AlertWriteError(
                        f"cannot create Alert {occurrence.namespace}/{occurrence.name}: {error}",
                        status=error.status,
                    ) from error
            try:
                existing = request_json(self._api, "GET", item)
                if is_closed(existing):
                    generation += 1
                    continue
                request_json(
                    self._api,
                    "PATCH",
                    item,
                    body=repeat_patch(existing, occurrence),
                    content_type=MERGE_PATCH,
                )
                return Written("updated", occurrence.name)
            except ApiError as error:
                # 409: someone else updated it first; 404: it was deleted meanwhile. Both: again.
                if error.status not in (HTTP_CONFLICT, HTTP_NOT_FOUND):
                    raise AlertWriteError(
                        f"cannot update Alert {occurrence.namespace}/{occurrence.name}: {error}",
                        status=error.status,
                    ) from error
                last_error = error
                log.debug(
                    "retrying Alert %s/%s after %s", occurrence.namespace, occurrence.name, error
                )
        raise AlertWriteError(
            f"gave up on Alert {occurrence.namespace}/{occurrence.name} after "
            f"{self._max_attempts} attempts: {last_error}",
            status=HTTP_CONFLICT,
        )
