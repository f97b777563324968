"""Deterministic names and keys the responder puts on the cluster, derived from the Alert name, so
a retry or a restart finds the object it already made instead of making a second one."""

from __future__ import annotations

import hashlib
import re

GROUP = "quarantine.io"
MANAGED_BY = "quarantine"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
ALERT_LABEL = f"{GROUP}/alert"
ISOLATION_LABEL_PREFIX = f"isolated.{GROUP}/"
# Set while any Alert isolates the pod: one fixed key for selectors (e.g. the tamper webhook).
ISOLATED_POD_LABEL = f"{GROUP}/isolated"
DETACHED_LABELS_ANNOTATION = f"{GROUP}/detached-labels"
ORIGINAL_REPLICAS_ANNOTATION = f"{GROUP}/original-replicas"
SCALED_DOWN_BY_ANNOTATION = f"{GROUP}/scaled-down-by"
PROTECTED_LABEL = f"{GROUP}/protected"
RELEASE_FINALIZER = f"{GROUP}/release"

_LABEL_NAME_MAX = 63
_OBJECT_NAME_MAX = 253
_POLICY_PREFIX = "quarantine-"
_NOT_LABEL_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")


def _digest(text: str, length: int = 10) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def _fit(text: str, limit: int) -> str:
    """`text` when it fits, else a prefix plus a digest of the whole, so distinct inputs stay
    distinct after truncation."""
    if len(text) <= limit:
        return text
    digest = _digest(text)
    return f"{text[: limit - len(digest) - 1].rstrip('-.')}-{digest}"


def isolation_label_key(alert_name: str) -> str:
    """The pod label that one Alert's NetworkPolicy selects. One key per Alert, so two Alerts on
    one pod each own their label and policy and release independently."""
    name = _NOT_LABEL_CHARS.sub("-", alert_name).strip("-_.") or _digest(alert_name)
    return ISOLATION_LABEL_PREFIX + _fit(name, _LABEL_NAME_MAX)


def is_isolation_label(key: str) -> bool:
    """Whether a label key is one of Quarantine's isolation labels."""
    return key.startswith(ISOLATION_LABEL_PREFIX)


def is_quarantine_label(key: str) -> bool:
    """Whether a label key is Quarantine's own (never removed when detaching a pod)."""
    return key == ISOLATED_POD_LABEL or is_isolation_label(key)


def policy_name(alert_name: str) -> str:
    """Name of the deny-all NetworkPolicy made for an Alert."""
    return _fit(_POLICY_PREFIX + alert_name, _OBJECT_NAME_MAX)


def label_value(text: str) -> str:
    """`text` made into a valid label value (<= 63 chars, alphanumerics and -_. inside)."""
    cleaned = _NOT_LABEL_CHARS.sub("-", text).strip("-_.")
    return _fit(cleaned, _LABEL_NAME_MAX).strip("-_.")
