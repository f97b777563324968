"""Namespace labels, fed by a namespace watch, for rules scoped with a namespaceSelector."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any


class NamespaceIndex:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._labels: dict[str, dict[str, str]] = {}

    def replace(self, namespaces: Iterable[Mapping[str, Any]]) -> None:
        fresh = {_name(ns): _labels(ns) for ns in namespaces}
        with self._lock:
            self._labels = fresh

    def apply(self, event_type: str, namespace: Mapping[str, Any]) -> None:
        with self._lock:
            if event_type == "DELETED":
                self._labels.pop(_name(namespace), None)
            else:
                self._labels[_name(namespace)] = _labels(namespace)

    def labels(self, name: str) -> Mapping[str, str] | None:
        """The namespace's labels, or None if the namespace is not known."""
        with self._lock:
            return self._labels.get(name)


def _name(namespace: Mapping[str, Any]) -> str:
    return str((namespace.get("metadata") or {}).get("name", ""))


def _labels(namespace: Mapping[str, Any]) -> dict[str, str]:
    return dict((namespace.get("metadata") or {}).get("labels") or {})
