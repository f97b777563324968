"""Keeps the matcher's rules in step with the DetectionRules in the cluster.

Every spec change rebuilds the catalog (the detector keeps state of unchanged rules) and then
brings each rule's Ready condition up to date.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from quarantine.k8s.rule_catalog import RuleCatalog, build_catalog
from quarantine.k8s.rule_status import RuleStatusWriter

log = logging.getLogger(__name__)

DETECTION_RULES_PATH = "/apis/quarantine.io/v1alpha1/detectionrules"


class RuleWatchHandler:
    """The `WatchHandler` of the DetectionRule watch."""

    def __init__(
        self,
        on_catalog: Callable[[RuleCatalog], None],
        status_writer: RuleStatusWriter,
        build: Callable[[Mapping[str, Mapping[str, Any]]], RuleCatalog] = build_catalog,
    ) -> None:
        self._on_catalog = on_catalog
        self._status_writer = status_writer
        self._build = build
        self._objects: dict[str, dict[str, Any]] = {}
        self._compiled_specs: dict[str, Any] | None = None
        self._catalog: RuleCatalog | None = None
        self.loaded = threading.Event()
        """Set once the first catalog has reached the detector."""

    def get(self, name: str) -> Mapping[str, Any] | None:
        """The DetectionRule `name` as the watch last saw it (None: not seen, or deleted).
        Safe from other threads: a lookup in a dict the watch thread replaces or updates."""
        return self._objects.get(name)

    def replace(self, objects: list[dict[str, Any]]) -> None:
        self._objects = {_name(obj): obj for obj in objects}
        self._rebuild_if_changed()
        for obj in self._objects.values():
            self._sync_status(obj)
        self.loaded.set()

    def apply(self, event_type: str, obj: Mapping[str, Any]) -> None:
        name = _name(obj)
        if event_type == "DELETED":
            self._objects.pop(name, None)
        else:
            self._objects[name] = dict(obj)
        rebuilt = self._rebuild_if_changed()
        if rebuilt:
            # A rebuild can change any rule's problem (e.g. a duplicate name); recheck all.
            for other in self._objects.values():
                self._sync_status(other)
        elif event_type != "DELETED":
            self._sync_status(self._objects[name])

    def _rebuild_if_changed(self) -> bool:
        specs = {name: obj.get("spec") for name, obj in self._objects.items()}
        if specs == self._compiled_specs:
            return False
        catalog = self._build(self._objects)
        self._on_catalog(catalog)
        self._catalog = catalog
        self._compiled_specs = specs
        log.info(
            "rules loaded: %d active, %d not ready",
            catalog.active_count,
            len(catalog.problems),
        )
        return True

    def _sync_status(self, obj: Mapping[str, Any]) -> None:
        if self._catalog is None:
            return
        self._status_writer.ensure_ready_status(obj, self._catalog.problems.get(_name(obj)))


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))
