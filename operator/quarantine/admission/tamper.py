"""Tamper protection: only Quarantine may undo its containment while an Alert is active.

Pure decisions over the raw objects of an admission request. A quarantined pod keeps its
labels (they decide which NetworkPolicies and Services select it, so re-adding a detached label
would put it back under an allowing policy) and Quarantine's annotations (the undo record);
Quarantine's NetworkPolicies may be neither changed nor deleted. Everyone else is refused with
a message naming the Alert and the proper way out: release the Alert.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from quarantine.respond.naming import (
    ALERT_LABEL,
    GROUP,
    ISOLATED_POD_LABEL,
    ISOLATION_LABEL_PREFIX,
    MANAGED_BY,
    MANAGED_BY_LABEL,
)

# Kubernetes controllers that delete or clean up objects as part of normal cluster operation:
# refusing them would leave namespaces stuck in Terminating.
CLUSTER_CONTROLLER_USERS = frozenset(
    {
        "system:kube-controller-manager",
        "system:serviceaccount:kube-system:generic-garbage-collector",
        "system:serviceaccount:kube-system:namespace-controller",
    }
)


@dataclass(frozen=True)
class Requester:
    """Who sends the request, from the admission request's userInfo."""

    username: str
    groups: frozenset[str] = frozenset()

    @classmethod
    def from_userinfo(cls, userinfo: Mapping[str, Any] | None) -> Requester:
        info = userinfo or {}
        return cls(str(info.get("username") or ""), frozenset(info.get("groups") or ()))


@dataclass(frozen=True)
class TamperPolicy:
    """Who counts as Quarantine, and which keys mark Quarantine's objects."""

    trusted_users: frozenset[str]
    """Usernames allowed to change containment: Quarantine's own identity, plus the controllers."""
    trusted_groups: frozenset[str] = frozenset()
    """Groups whose members are allowed too (empty by default: system:masters is NOT trusted)."""
    quarantined_pod_label: str = ISOLATED_POD_LABEL
    isolation_label_prefix: str = ISOLATION_LABEL_PREFIX
    annotation_prefix: str = f"{GROUP}/"
    alert_label: str = ALERT_LABEL
    managed_by_label: str = MANAGED_BY_LABEL
    managed_by_value: str = MANAGED_BY

    @classmethod
    def for_identity(
        cls, own_username: str, *, also_trusted: Iterable[str] = (), groups: Iterable[str] = ()
    ) -> TamperPolicy:
        """Trust Quarantine's own username, any extra ones, and the cluster's controllers."""
        users = frozenset({own_username, *also_trusted}) | CLUSTER_CONTROLLER_USERS
        return cls(trusted_users=users, trusted_groups=frozenset(groups))

    def trusts(self, requester: Requester) -> bool:
        return requester.username in self.trusted_users or bool(
            requester.groups & self.trusted_groups
        )


_ENFORCES = "enforces the containment ordered by"


def check_pod_update(
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    requester: Requester,
    policy: TamperPolicy,
) -> str | None:
    """The refusal message for a pod update that undoes containment, or None to allow it."""
    if old is None or new is None or policy.trusts(requester) or _being_deleted(old):
        return None
    old_labels = _labels(old)
    if not _is_quarantined(old_labels, policy):
        return None  # not (yet) quarantined: adding the label is not tampering
    changes = _map_changes("label", old_labels, _labels(new))
    changes += _map_changes(
        "annotation",
        _prefixed(_annotations(old), policy.annotation_prefix),
        _prefixed(_annotations(new), policy.annotation_prefix),
    )
    if not changes:
        return None
    return _refusal(
        f"pod {_object_name(old)}",
        "is under quarantine by",
        _pod_alerts(old_labels, policy),
        requester,
        "may change its labels or Quarantine's annotations",
        changes,
        _namespace(old),
    )


def check_network_policy_change(
    operation: str,
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    requester: Requester,
    policy: TamperPolicy,
) -> str | None:
    """The refusal message for deleting or altering one of Quarantine's NetworkPolicies."""
    if old is None or policy.trusts(requester) or _being_deleted(old):
        return None
    old_labels = _labels(old)
    if old_labels.get(policy.managed_by_label) != policy.managed_by_value:
        return None
    alert = old_labels.get(policy.alert_label)
    alerts = [alert] if alert else []
    subject = f"NetworkPolicy {_object_name(old)}"
    if operation == "DELETE":
        return _refusal(
            subject, _ENFORCES, alerts, requester, "may delete it", ["deletes it"], _namespace(old)
        )
    if new is None:
        return None
    changes: list[str] = []
    if old.get("spec") != new.get("spec"):
        changes.append("changes its spec")
    changes += _map_changes("label", old_labels, _labels(new))
    changes += _map_changes(
        "annotation",
        _prefixed(_annotations(old), policy.annotation_prefix),
        _prefixed(_annotations(new), policy.annotation_prefix),
    )
    if not changes:
        return None  # e.g. finalizers or ownerReferences by a controller
    return _refusal(
        subject, _ENFORCES, alerts, requester, "may change it", changes, _namespace(old)
    )


def _is_quarantined(labels: Mapping[str, str], policy: TamperPolicy) -> bool:
    return policy.quarantined_pod_label in labels or any(
        key.startswith(policy.isolation_label_prefix) for key in labels
    )


def _pod_alerts(labels: Mapping[str, str], policy: TamperPolicy) -> list[str]:
    """Names of the Alerts isolating a pod, from the per-Alert isolation labels."""
    return sorted(
        key.removeprefix(policy.isolation_label_prefix)
        for key in labels
        if key.startswith(policy.isolation_label_prefix)
    )


def _refusal(
    subject: str,
    relation: str,
    alerts: list[str],
    requester: Requester,
    what: str,
    changes: list[str],
    namespace: str | None,
) -> str:
    if alerts:
        plural = "Alerts" if len(alerts) > 1 else "Alert"
        where = f"{namespace}/" if namespace else ""
        by = f"{plural} {', '.join(where + name for name in alerts)}"
    else:
        by = "an Alert"
    release = (
        f"kubectl -n {namespace} patch alert {alerts[0]} --type=merge "
        """-p '{"spec":{"release":true}}'"""
        if alerts and namespace
        else "set spec.release: true on the Alert"
    )
    return (
        f"{subject} {relation} {by}; only Quarantine {what} while the Alert is "
        f"active. Refused for user {requester.username!r}: the request {'; '.join(changes)}. "
        f"To end the containment, release the Alert ({release}) or delete it."
    )


def _map_changes(kind: str, old: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    changes = [f"removes {kind} {key}" for key in sorted(old.keys() - new.keys())]
    changes += [f"adds {kind} {key}" for key in sorted(new.keys() - old.keys())]
    changes += [
        f"changes {kind} {key}" for key in sorted(old.keys() & new.keys()) if old[key] != new[key]
    ]
    return changes


def _prefixed(values: Mapping[str, str], prefix: str) -> dict[str, str]:
    return {key: value for key, value in values.items() if key.startswith(prefix)}


def _metadata(body: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = body.get("metadata")
    return metadata if isinstance(metadata, Mapping) else {}


def _labels(body: Mapping[str, Any]) -> dict[str, str]:
    return dict(_metadata(body).get("labels") or {})


def _annotations(body: Mapping[str, Any]) -> dict[str, str]:
    return dict(_metadata(body).get("annotations") or {})


def _namespace(body: Mapping[str, Any]) -> str | None:
    namespace = _metadata(body).get("namespace")
    return str(namespace) if namespace else None


def _object_name(body: Mapping[str, Any]) -> str:
    name = str(_metadata(body).get("name") or "(unnamed)")
    namespace = _namespace(body)
    return f"{namespace}/{name}" if namespace else name


def _being_deleted(body: Mapping[str, Any]) -> bool:
    # Once deletion has begun, updates only remove finalizers; blocking them helps nobody.
    return bool(_metadata(body).get("deletionTimestamp"))
