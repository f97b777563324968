"""A rule's scope checked against a resolved target, admitting "cannot tell" as an answer.

The detector already drops events from namespaces outside `scope.namespaces`; the label
selectors need the pod's and the namespace's labels, which only the matcher knows.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Protocol

from quarantine.api import LabelSelector
from quarantine.detect.scope import ScopeCheck, selector_matches
from quarantine.k8s.targets import ResolvedTarget


class NamespaceLabels(Protocol):
    """Where namespace labels come from (the matcher's watch of namespaces)."""

    def labels(self, name: str) -> Mapping[str, str] | None: ...


class ScopeVerdict(enum.Enum):
    IN = "in"
    OUT = "out"
    UNKNOWN = "unknown"
    """A selector could not be checked because the pod or its namespace is not known."""


def scope_verdict(
    scope: ScopeCheck, target: ResolvedTarget, namespace_labels: Mapping[str, str] | None
) -> ScopeVerdict:
    if not scope.admits_namespace(target.namespace):
        return ScopeVerdict.OUT
    unknown = scope.namespaces is not None and target.namespace is None
    if not _selects_all(scope.namespace_selector):
        if namespace_labels is None:
            unknown = True
        elif not selector_matches(scope.namespace_selector, namespace_labels):
            return ScopeVerdict.OUT
    if not _selects_all(scope.pod_selector):
        if target.pod_labels is None:
            unknown = True
        elif not selector_matches(scope.pod_selector, target.pod_labels):
            return ScopeVerdict.OUT
    return ScopeVerdict.UNKNOWN if unknown else ScopeVerdict.IN


def _selects_all(selector: LabelSelector | None) -> bool:
    return selector is None or not (selector.match_labels or selector.match_expressions)
