"""A small typed Kubernetes REST client over the official client's transport, returning plain
dicts. The responder works on raw JSON (NetworkPolicies, owner chains, free-form status), and
patch content types must be explicit, so it skips the generated per-kind API classes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from kubernetes import client

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


class KubeError(Exception):
    """A non-2xx answer from the API server, with the request that got it."""

    def __init__(self, status: int, method: str, path: str, message: str) -> None:
        self.status = status
        super().__init__(f"{method} {path}: HTTP {status}: {message}")

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        return self.status == 409


class Kube:
    """GET/LIST/POST/PATCH/DELETE on API paths with JSON bodies."""

    def __init__(self, api_client: client.ApiClient, *, timeout: float = 10.0) -> None:
        self.api_client = api_client
        self.timeout = timeout

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        query: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        headers = {"Accept": "application/json", "Content-Type": content_type}
        _, url, headers, _, _ = self.api_client.param_serialize(
            method=method,
            resource_path=path,
            query_params=list((query or {}).items()) or None,
            header_params=headers,
            auth_settings=["BearerToken"],
        )
        try:
            # The transport serialises dict and list bodies as JSON itself.
            response = self.api_client.call_api(
                method, url, header_params=headers, body=body, _request_timeout=self.timeout
            )
        except client.ApiException as error:
            raise KubeError(int(error.status or 0), method, path, str(error.reason)) from None
        data: bytes = response.read()  # type: ignore[no-untyped-call]
        if not 200 <= response.status < 300:
            raise KubeError(response.status, method, path, _status_message(data))
        return json.loads(data) if data else {}

    def get(self, path: str) -> dict[str, Any]:
        return self.request("GET", path)

    def get_or_none(self, path: str) -> dict[str, Any] | None:
        try:
            return self.get(path)
        except KubeError as error:
            if error.not_found:
                return None
            raise

    def list_items(self, path: str, **query: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.request("GET", path, query=query).get("items") or []
        return items

    def create(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.request("POST", path, dict(body))

    def merge_patch(self, path: str, patch: Mapping[str, Any]) -> dict[str, Any]:
        return self.request("PATCH", path, dict(patch), content_type=MERGE_PATCH)

    def json_patch(self, path: str, operations: list[dict[str, Any]]) -> dict[str, Any]:
        return self.request("PATCH", path, operations, content_type=JSON_PATCH)

    def delete_if_exists(self, path: str, body: Mapping[str, Any] | None = None) -> bool:
        """Delete; True if it was there, False if it was already gone."""
        try:
            self.request("DELETE", path, dict(body) if body else None)
        except KubeError as error:
            if error.not_found:
                return False
            raise
        return True


def _status_message(data: bytes) -> str:
    try:
        status = json.loads(data)
    except ValueError:
        return data.decode(errors="replace")[:500]
    return str(status.get("message") or status)[:500]


def pod_path(namespace: str, name: str = "") -> str:
    return f"/api/v1/namespaces/{namespace}/pods" + (f"/{name}" if name else "")


def policy_path(namespace: str, name: str = "") -> str:
    return f"/apis/networking.k8s.io/v1/namespaces/{namespace}/networkpolicies" + (
        f"/{name}" if name else ""
    )


def alert_path(namespace: str, name: str = "", *, status: bool = False) -> str:
    base = f"/apis/quarantine.io/v1alpha1/namespaces/{namespace}/alerts"
    if name:
        base += f"/{name}"
    return base + ("/status" if status else "")


def rule_path(name: str) -> str:
    return f"/apis/quarantine.io/v1alpha1/detectionrules/{name}"
