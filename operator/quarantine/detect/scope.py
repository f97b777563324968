"""Rule scope: which pods a rule applies to."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from quarantine.api import LabelSelector, RuleScope


def selector_matches(selector: LabelSelector | None, labels: Mapping[str, str]) -> bool:
    """Whether `labels` satisfy a Kubernetes label selector (absent or empty selects all)."""
    if selector is None:
        return True
    for key, value in selector.match_labels.items():
        if labels.get(key) != value:
            return False
    for requirement in selector.match_expressions:
        present = requirement.key in labels
        operator = requirement.operator
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
        if operator == "In" and (not present or labels[requirement.key] not in requirement.values):
            return False
        if operator == "NotIn" and present and labels[requirement.key] in requirement.values:
            return False
    return True


@dataclass(frozen=True)
class ScopeCheck:
    """A rule's scope, ready to check. The detector checks namespaces when the event names
    one; label selectors need the pod and its namespace, so the matcher checks them with
    `admits` once it has resolved the target."""

    namespaces: frozenset[str] | None = None
    namespace_selector: LabelSelector | None = None
    pod_selector: LabelSelector | None = None

    @classmethod
    def from_scope(cls, scope: RuleScope | None) -> ScopeCheck:
        if scope is None:
            return cls()
        return cls(
            namespaces=frozenset(scope.namespaces) if scope.namespaces else None,
            namespace_selector=scope.namespace_selector,
            pod_selector=scope.pod_selector,
        )

    @property
    def is_everything(self) -> bool:
        """Whether the rule applies to every pod."""
        return (
            self.namespaces is None
            and _selects_all(self.namespace_selector)
            and _selects_all(self.pod_selector)
        )

    @property
    def needs_labels(self) -> bool:
        """Whether deciding needs the labels of the pod or of its namespace."""
        return not (_selects_all(self.namespace_selector) and _selects_all(self.pod_selector))

    def admits_namespace(self, namespace: str | None) -> bool:
        """False only when the namespace is known and outside `namespaces`."""
        return namespace is None or self.namespaces is None or namespace in self.namespaces

    def admits(
        self,
        namespace: str,
        *,
        namespace_labels: Mapping[str, str],
        pod_labels: Mapping[str, str],
    ) -> bool:
        """The full check, for a resolved pod."""
        return (
            self.admits_namespace(namespace)
            and selector_matches(self.namespace_selector, namespace_labels)
            and selector_matches(self.pod_selector, pod_labels)
        )


def _selects_all(selector: LabelSelector | None) -> bool:
    return selector is None or not (selector.match_labels or selector.match_expressions)
