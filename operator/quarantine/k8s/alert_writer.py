"""Writes Alerts so that a repeat, a retry or a second replica never duplicates one.

The name is deterministic, so "create" is the test-and-set: 409 AlreadyExists means the Alert
is there, and the repeat raises its count under optimistic concurrency instead.
"""

from __future__ import annotations

import logging
from typing import Literal

from kubernetes import client

from quarantine.k8s.alert_manifest import AlertOccurrence, alert_manifest, repeat_patch
from quarantine.k8s.raw import MERGE_PATCH, ApiError, request_json

log = logging.getLogger(__name__)

WriteResult = Literal["created", "updated"]
HTTP_NOT_FOUND = 404
HTTP_CONFLICT = 409
HTTP_TOO_MANY_REQUESTS = 429


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

    def write(self, occurrence: AlertOccurrence) -> WriteResult:
        collection = alerts_path(occurrence.namespace)
        item = alerts_path(occurrence.namespace, occurrence.name)
        last_error: ApiError | None = None
        for _ in range(self._max_attempts):
            try:
                request_json(self._api, "POST", collection, body=alert_manifest(occurrence))
                return "created"
            except ApiError as error:
                if error.status != HTTP_CONFLICT:
                    raise AlertWriteError(
                        f"cannot create Alert {occurrence.namespace}/{occurrence.name}: {error}",
                        status=error.status,
                    ) from error
            try:
                existing = request_json(self._api, "GET", item)
                request_json(
                    self._api,
                    "PATCH",
                    item,
                    body=repeat_patch(existing, occurrence),
                    content_type=MERGE_PATCH,
                )
                return "updated"
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
