"""Plain-JSON calls to the API server through the official client's transport.

Quarantine works on API objects as dicts (its own CRs have no generated models, and patch content
types must be explicit), so it asks the client for raw responses and decodes them itself; watches
read the body line by line. `request_json` is the one call; `Kube` binds it to a client and a
timeout for code that makes many calls (the responder).
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import orjson
import urllib3
from kubernetes import client

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
DEFAULT_TIMEOUT = (10.0, 30.0)
_HTTP_NOT_FOUND = 404
_HTTP_CONFLICT = 409

Timeout = float | tuple[float, float]
# A JSON object, or a list of them for JSON Patch.
Body = Mapping[str, Any] | Sequence[Mapping[str, Any]]


class ApiError(Exception):
    """A failed API call: `status` is the HTTP status (0 when no answer came back)."""

    def __init__(self, status: int, method: str, path: str, message: str, reason: str = "") -> None:
        said = " ".join(part for part in (f"HTTP {status}", reason, message) if part)
        super().__init__(f"{method} {path}: {said}")
        self.status = status
        self.reason = reason
        self.message = message

    @property
    def not_found(self) -> bool:
        return self.status == _HTTP_NOT_FOUND

    @property
    def conflict(self) -> bool:
        return self.status == _HTTP_CONFLICT


def request_json(
    api: client.ApiClient,
    method: str,
    path: str,
    *,
    query: Sequence[tuple[str, str]] = (),
    body: Body | None = None,
    content_type: str = "application/json",
    timeout: Timeout = DEFAULT_TIMEOUT,
) -> dict[str, Any]:
    response = _send(api, method, path, query, body, content_type, timeout)
    data = response.read()
    if not 200 <= response.status <= 299:
        raise _error_from(response.status, method, path, data)
    if not data:
        return {}
    decoded = orjson.loads(data)
    return decoded if isinstance(decoded, dict) else {"items": decoded}


def get_json(
    api: client.ApiClient, path: str, query: Sequence[tuple[str, str]] = ()
) -> dict[str, Any]:
    return request_json(api, "GET", path, query=query)


class Kube:
    """`request_json` bound to one client and timeout, with the verbs the responder uses."""

    def __init__(self, api_client: client.ApiClient, *, timeout: Timeout = 10.0) -> None:
        self.api_client = api_client
        self.timeout = timeout

    def request(
        self,
        method: str,
        path: str,
        body: Body | None = None,
        *,
        content_type: str = "application/json",
        query: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        return request_json(
            self.api_client,
            method,
            path,
            query=tuple((query or {}).items()),
            body=body,
            content_type=content_type,
            timeout=self.timeout,
        )

    def get(self, path: str) -> dict[str, Any]:
        return self.request("GET", path)

    def get_or_none(self, path: str) -> dict[str, Any] | None:
        try:
            return self.get(path)
        except ApiError as error:
            if error.not_found:
                return None
            raise

    def list_items(self, path: str, **query: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.request("GET", path, query=query).get("items") or []
        return items

    def create(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.request("POST", path, body)

    def merge_patch(self, path: str, patch: Mapping[str, Any]) -> dict[str, Any]:
        return self.request("PATCH", path, patch, content_type=MERGE_PATCH)

    def json_patch(self, path: str, operations: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        return self.request("PATCH", path, operations, content_type=JSON_PATCH)

    def delete_if_exists(self, path: str, body: Mapping[str, Any] | None = None) -> bool:
        """Delete; True if it was there, False if it was already gone."""
        try:
            self.request("DELETE", path, body or None)
        except ApiError as error:
            if error.not_found:
                return False
            raise
        return True


class WatchStream:
    """An open watch request; iterate for decoded events, `close()` from any thread to end it."""

    def __init__(
        self,
        api: client.ApiClient,
        path: str,
        query: Sequence[tuple[str, str]],
        read_timeout: float,
    ) -> None:
        response = _send(api, "GET", path, query, None, "application/json", (10.0, read_timeout))
        if not 200 <= response.status <= 299:
            data = response.read()
            raise _error_from(response.status, "WATCH", path, data)
        self._response: Any = response.response

    def __iter__(self) -> Iterator[dict[str, Any]]:
        buffer = b""
        for chunk in self._response.stream(64 * 1024, decode_content=True):
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                if line.strip():
                    yield orjson.loads(line)
        if buffer.strip():
            yield orjson.loads(buffer)

    def close(self) -> None:
        """End the watch, also when another thread is blocked reading it."""
        connection = getattr(self._response, "connection", None)
        sock = getattr(connection, "sock", None)
        if sock is not None:
            # Closing alone does not wake a thread blocked in recv(); shutting down does.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(Exception):
            self._response.close()


def _send(
    api: client.ApiClient,
    method: str,
    path: str,
    query: Sequence[tuple[str, str]],
    body: Body | None,
    content_type: str,
    timeout: Timeout,
) -> Any:
    headers = {"Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = content_type
    payload: Any = None
    if isinstance(body, Mapping):
        payload = dict(body)
    elif body is not None:
        payload = [dict(operation) for operation in body]
    serialized = api.param_serialize(
        method,
        path,
        query_params=list(query) or None,
        header_params=headers,
        body=payload,
        auth_settings=["BearerToken"],
    )
    try:
        return api.call_api(*serialized, _request_timeout=timeout)
    except urllib3.exceptions.HTTPError as error:
        raise ApiError(0, method, path, f"no answer from the API server: {error}") from error
    except client.ApiException as error:
        raise ApiError(error.status or 0, method, path, str(error.reason or "")) from error


def _error_from(status: int, method: str, path: str, data: bytes | None) -> ApiError:
    message = ""
    reason = ""
    try:
        decoded = orjson.loads(data or b"{}")
        if isinstance(decoded, dict):
            message = str(decoded.get("message", ""))[:500]
            reason = str(decoded.get("reason", ""))
    except orjson.JSONDecodeError:
        message = (data or b"")[:200].decode("utf-8", "replace")
    return ApiError(status, method, path, message, reason)
