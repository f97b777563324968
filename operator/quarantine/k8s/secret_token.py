"""Reading the intake bearer token from a Secret (`--token-secret namespace/name`, key `token`)."""

from __future__ import annotations

import base64
import binascii

from kubernetes import client

from quarantine.k8s.raw import ApiError, get_json

TOKEN_KEY = "token"


class SecretTokenError(ValueError):
    pass


def parse_secret_ref(text: str) -> tuple[str, str]:
    namespace, sep, name = text.partition("/")
    if not sep or not namespace or not name or "/" in name:
        raise SecretTokenError(f"--token-secret {text!r} must be NAMESPACE/NAME")
    return namespace, name


def read_secret_token(api: client.ApiClient, namespace: str, name: str) -> bytes:
    where = f"Secret {namespace}/{name}"
    try:
        secret = get_json(api, f"/api/v1/namespaces/{namespace}/secrets/{name}")
    except ApiError as error:
        raise SecretTokenError(f"cannot read {where}: {error}") from error
    encoded = (secret.get("data") or {}).get(TOKEN_KEY)
    if not encoded:
        raise SecretTokenError(f"{where} has no key {TOKEN_KEY!r}")
    try:
        return base64.b64decode(encoded, validate=True).strip()
    except (binascii.Error, ValueError) as error:
        raise SecretTokenError(f"{where} key {TOKEN_KEY!r} is not valid base64") from error
