"""Bearer-token authentication of intake requests, compared in constant time."""

from __future__ import annotations

import contextlib
import hmac
import time
from pathlib import Path
from typing import Protocol


class TokenError(ValueError):
    """The configured token cannot be used (missing, empty, unreadable)."""


class TokenSource(Protocol):
    """Where the expected token comes from; `current()` may re-read it to follow rotation."""

    def current(self) -> bytes: ...


class StaticToken:
    """A token fixed for the life of the process (tests, benchmarks, a Secret read once)."""

    def __init__(self, token: str | bytes, *, origin: str = "the configured token") -> None:
        value = token.encode() if isinstance(token, str) else token
        self._token = check_token(value, origin)

    def current(self) -> bytes:
        return self._token


class FileToken:
    """A token read from a file (e.g. a mounted Secret), re-read when the file changes.

    Kubernetes updates mounted Secrets in place, so rotation works without a restart.
    """

    def __init__(self, path: Path, *, recheck_seconds: float = 5.0) -> None:
        self._path = path
        self._recheck_seconds = recheck_seconds
        self._mtime_ns = -1
        self._checked_at = 0.0
        self._token = b""
        self._reload()

    def current(self) -> bytes:
        now = time.monotonic()
        if now - self._checked_at >= self._recheck_seconds:
            # Keep the last good token rather than locking every sender out mid-rotation.
            with contextlib.suppress(TokenError):
                self._reload()
        return self._token

    def _reload(self) -> None:
        self._checked_at = time.monotonic()
        try:
            stat = self._path.stat()
            if stat.st_mtime_ns == self._mtime_ns:
                return
            raw = self._path.read_bytes()
        except OSError as error:
            raise TokenError(f"cannot read token file {self._path}: {error.strerror}") from error
        self._token = check_token(raw.strip(), f"token file {self._path}")
        self._mtime_ns = stat.st_mtime_ns


def check_token(token: bytes, origin: str) -> bytes:
    if not token:
        raise TokenError(f"{origin} is empty: refusing to accept unauthenticated events")
    return token


def bearer_token(authorization: str | None) -> bytes | None:
    """The token of an `Authorization: Bearer <token>` header, or None if there is none."""
    if not authorization:
        return None
    scheme, _, credentials = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return credentials.strip().encode()


def is_authorized(authorization: str | None, source: TokenSource) -> bool:
    presented = bearer_token(authorization)
    if presented is None:
        return False
    # compare_digest takes time independent of where the first difference is.
    return hmac.compare_digest(presented, source.current())


class RotatingToken:
    """A token replaced from outside (e.g. re-read from a Secret by a background task)."""

    def __init__(self, token: bytes, *, origin: str) -> None:
        self._origin = origin
        self._token = check_token(token, origin)

    def set(self, token: bytes) -> None:
        self._token = check_token(token, self._origin)

    def current(self) -> bytes:
        return self._token
