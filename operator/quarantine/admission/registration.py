"""Registering Quarantine's ValidatingWebhookConfiguration with the API server (local runs only).

In a cluster the chart owns the configuration and the operator needs no right to change webhook
configurations: a service account that may register webhooks can intercept every API write.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from kubernetes import client

from quarantine.k8s.raw import ApiError, request_json

log = logging.getLogger(__name__)

_COLLECTION = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
_HTTP_NOT_FOUND = 404
_HTTP_CONFLICT = 409
_ATTEMPTS = 5


def register_configuration(api: client.ApiClient, configuration: Mapping[str, Any]) -> None:
    """Create the configuration, or replace an existing one of that name (a previous run's)."""
    name = str(configuration["metadata"]["name"])
    for _ in range(_ATTEMPTS):
        try:
            existing = request_json(api, "GET", f"{_COLLECTION}/{name}")
        except ApiError as error:
            if error.status != _HTTP_NOT_FOUND:
                raise
            try:
                request_json(api, "POST", _COLLECTION, body=configuration)
                return
            except ApiError as create_error:
                if create_error.status != _HTTP_CONFLICT:
                    raise
                continue  # created concurrently: replace it
        replacement = {
            **configuration,
            "metadata": {
                **configuration["metadata"],
                "resourceVersion": existing["metadata"]["resourceVersion"],
            },
        }
        try:
            request_json(api, "PUT", f"{_COLLECTION}/{name}", body=replacement)
            return
        except ApiError as error:
            if error.status not in (_HTTP_CONFLICT, _HTTP_NOT_FOUND):
                raise
            log.debug("webhook configuration %s changed meanwhile, retrying: %s", name, error)
    raise RuntimeError(f"could not register webhook configuration {name} after {_ATTEMPTS} tries")


def unregister_configuration(api: client.ApiClient, name: str) -> None:
    """Delete the configuration; already gone is fine."""
    try:
        request_json(api, "DELETE", f"{_COLLECTION}/{name}")
    except ApiError as error:
        if error.status != _HTTP_NOT_FOUND:
            raise
