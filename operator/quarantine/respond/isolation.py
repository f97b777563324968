"""The isolation verdict (pure): does a deny-all NetworkPolicy really isolate a pod, given every
other NetworkPolicy in its namespace? Policies only add up, so any other policy that selects the
pod and allows a direction defeats the deny-all for that direction."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from quarantine.respond.naming import MANAGED_BY, MANAGED_BY_LABEL, is_quarantine_label
from quarantine.respond.selectors import keys_needed_for_match, selector_matches

INGRESS = "Ingress"
EGRESS = "Egress"


@dataclass(frozen=True)
class Bypass:
    """A policy that selects the pod and lets traffic through in `directions`."""

    policy: str
    directions: tuple[str, ...]
    # Pod label keys whose removal stops the policy selecting the pod; empty means no label
    # removal helps (e.g. `podSelector: {}` selects every pod in the namespace).
    detach_keys: frozenset[str]


@dataclass(frozen=True)
class IsolationVerdict:
    """Which policies would still let traffic reach or leave the pod."""

    bypasses: tuple[Bypass, ...] = ()

    @property
    def isolated(self) -> bool:
        return not self.bypasses

    @property
    def policy_names(self) -> list[str]:
        return [bypass.policy for bypass in self.bypasses]

    def describe(self) -> str:
        return "; ".join(
            f"NetworkPolicy {b.policy} allows {' and '.join(b.directions)}" for b in self.bypasses
        )


@dataclass(frozen=True)
class DetachPlan:
    """Labels to take off the pod so that no other policy selects it, and what remains after."""

    removed: dict[str, str] = field(default_factory=dict)
    remaining: IsolationVerdict = IsolationVerdict()


def is_quarantine_policy(policy: Mapping[str, Any]) -> bool:
    """Our own isolation policies deny by design; they never count as a bypass."""
    labels = (policy.get("metadata") or {}).get("labels") or {}
    return bool(labels.get(MANAGED_BY_LABEL) == MANAGED_BY)


def effective_policy_types(spec: Mapping[str, Any]) -> tuple[str, ...]:
    """policyTypes as the API server defaults them: Ingress always, Egress when egress rules
    exist."""
    declared = spec.get("policyTypes")
    if declared:
        return tuple(declared)
    return (INGRESS, EGRESS) if spec.get("egress") else (INGRESS,)


def allowed_directions(spec: Mapping[str, Any]) -> tuple[str, ...]:
    """Directions in which a policy allows some traffic to the pods it selects. A direction it
    governs with no rules allows nothing; any rule at all allows something."""
    types = effective_policy_types(spec)
    allowed = []
    if INGRESS in types and spec.get("ingress"):
        allowed.append(INGRESS)
    if EGRESS in types and spec.get("egress"):
        allowed.append(EGRESS)
    return tuple(allowed)


def assess_isolation(
    pod_labels: Mapping[str, str], policies: Iterable[Mapping[str, Any]]
) -> IsolationVerdict:
    """Every non-Quarantine policy that selects the pod and allows a direction. `policies` must
    all come from the pod's namespace (a podSelector only sees its own namespace)."""
    bypasses = []
    for policy in policies:
        if is_quarantine_policy(policy):
            continue
        spec = policy.get("spec") or {}
        selector = spec.get("podSelector") or {}
        if not selector_matches(selector, pod_labels):
            continue
        directions = allowed_directions(spec)
        if directions:
            name = str((policy.get("metadata") or {}).get("name", "?"))
            needed = keys_needed_for_match(selector)
            keys = frozenset(k for k in needed if not is_quarantine_label(k))
            bypasses.append(Bypass(name, directions, keys))
    return IsolationVerdict(tuple(sorted(bypasses, key=lambda b: b.policy)))


def plan_detach(pod_labels: Mapping[str, str], policies: Iterable[Mapping[str, Any]]) -> DetachPlan:
    """Labels to remove so no bypassing policy selects the pod any more. Removing a key can make a
    NotIn/DoesNotExist selector start matching, so the verdict is recomputed until it settles."""
    policy_list = list(policies)
    labels = dict(pod_labels)
    removed: dict[str, str] = {}
    while True:
        verdict = assess_isolation(labels, policy_list)
        keys = {key for bypass in verdict.bypasses for key in bypass.detach_keys if key in labels}
        if not keys:
            return DetachPlan(removed, verdict)
        for key in sorted(keys):
            removed[key] = labels.pop(key)
