"""Safety rules (pure): which pods Quarantine must never touch, and how many containments it may
make per rule and overall in a window, with a cooldown per pod."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from quarantine.respond.naming import PROTECTED_LABEL

DEFAULT_PROTECTED_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})


@dataclass(frozen=True)
class SafetySettings:
    """Who is off limits. `own_namespace` is always protected, so Quarantine's own pods are;
    `self_labels` also marks its pods wherever else they run."""

    own_namespace: str
    protected_namespaces: frozenset[str] = DEFAULT_PROTECTED_NAMESPACES
    # Labels that mark Quarantine's own pods wherever they run (all must match).
    self_labels: Mapping[str, str] = field(
        default_factory=lambda: {"app.kubernetes.io/name": "quarantine"}
    )

    @property
    def all_protected_namespaces(self) -> frozenset[str]:
        return self.protected_namespaces | {self.own_namespace}


def _opted_out(labels: Mapping[str, str]) -> bool:
    return labels.get(PROTECTED_LABEL, "").lower() == "true"


def refusal_reason(
    settings: SafetySettings,
    *,
    namespace: str,
    namespace_labels: Mapping[str, str],
    pod_labels: Mapping[str, str],
) -> str | None:
    """Why the pod must not be acted on, or None when it may be."""
    if namespace in settings.all_protected_namespaces:
        return f"namespace {namespace} is protected"
    if _opted_out(namespace_labels):
        return f"namespace {namespace} is labelled {PROTECTED_LABEL}=true"
    if _opted_out(pod_labels):
        return f"the pod is labelled {PROTECTED_LABEL}=true"
    if settings.self_labels and all(
        pod_labels.get(key) == value for key, value in settings.self_labels.items()
    ):
        return "the pod is one of Quarantine's own pods"
    return None


@dataclass(frozen=True)
class Limits:
    """Blast-radius limits: at most `per_rule` / `overall` containments per `window`; a pod
    contained once is left alone by other Alerts for `pod_cooldown`. Zero disables a limit."""

    per_rule: int = 10
    overall: int = 50
    window: timedelta = timedelta(minutes=10)
    pod_cooldown: timedelta = timedelta(minutes=5)


@dataclass(frozen=True)
class Admission:
    allowed: bool
    reason: str = ""


@dataclass
class _Grant:
    alert: str
    rule: str
    pod: str
    at: datetime


class ContainmentBudget:
    """Counts containments in a sliding window. Thread-safe, because sync kopf handlers run in a
    thread pool. Admitting the same Alert twice counts once, so a retried or resumed playbook
    does not use up budget."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._lock = threading.Lock()
        self._grants: deque[_Grant] = deque()
        self._by_alert: dict[str, _Grant] = {}

    def _expire(self, now: datetime) -> None:
        horizon = now - max(self.limits.window, self.limits.pod_cooldown)
        while self._grants and self._grants[0].at < horizon:
            old = self._grants.popleft()
            if self._by_alert.get(old.alert) is old:
                del self._by_alert[old.alert]

    def _verdict(self, alert: str, rule: str, pod: str, now: datetime) -> Admission:
        limits = self.limits
        if limits.pod_cooldown:
            since = now - limits.pod_cooldown
            for grant in reversed(self._grants):
                if grant.pod == pod and grant.alert != alert and grant.at >= since:
                    return Admission(
                        False,
                        f"pod {pod} was contained by Alert {grant.alert} at "
                        f"{grant.at.isoformat()}; per-pod cooldown is {limits.pod_cooldown}",
                    )
        in_window = [grant for grant in self._grants if grant.at >= now - limits.window]
        if limits.per_rule and sum(g.rule == rule for g in in_window) >= limits.per_rule:
            return Admission(
                False,
                f"blast-radius limit: rule {rule} already made {limits.per_rule} containments "
                f"in the last {limits.window}",
            )
        if limits.overall and len(in_window) >= limits.overall:
            return Admission(
                False,
                f"blast-radius limit: {limits.overall} containments in the last {limits.window} "
                "across all rules",
            )
        return Admission(True)

    def admit(self, alert: str, rule: str, pod: str, now: datetime) -> Admission:
        """Take one containment from the budget for this Alert, or say why not."""
        with self._lock:
            self._expire(now)
            if alert in self._by_alert:
                return Admission(True)
            admission = self._verdict(alert, rule, pod, now)
            if admission.allowed:
                self._remember(alert, rule, pod, now)
            return admission

    def preview(self, alert: str, rule: str, pod: str, now: datetime) -> Admission:
        """What `admit` would say, without taking budget (for DryRun)."""
        with self._lock:
            self._expire(now)
            if alert in self._by_alert:
                return Admission(True)
            return self._verdict(alert, rule, pod, now)

    def remember(self, alert: str, rule: str, pod: str, at: datetime) -> None:
        """Count a containment made earlier (e.g. found in Alert statuses after a restart)."""
        with self._lock:
            if alert not in self._by_alert:
                self._remember(alert, rule, pod, at)

    def _remember(self, alert: str, rule: str, pod: str, at: datetime) -> None:
        grant = _Grant(alert, rule, pod, at)
        # Keep time order even when older containments are remembered late.
        position = len(self._grants)
        while position and self._grants[position - 1].at > at:
            position -= 1
        self._grants.insert(position, grant)
        self._by_alert[alert] = grant
