"""The Alert resource: one detection against one pod, and the record of the response to it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, Field

from quarantine.api.base import GROUP_VERSION, ApiModel, Condition, ObjectMeta
from quarantine.api.detection_rule import Severity

AlertSource = Literal["matcher", "elastic", "falco"]
AlertPhase = Literal["Pending", "Contained", "Partial", "DryRun", "Skipped", "Failed", "Released"]
ActionResultValue = Literal["Succeeded", "Failed", "Skipped", "DryRun", "Partial"]


class AlertRuleRef(ApiModel):
    """The rule that raised the alert, copied so the alert stands on its own."""

    name: str = Field(min_length=1)
    """metadata.name of the DetectionRule (or the external engine's rule name)."""
    rule_id: str | None = None
    """The rule's ruleId."""
    severity: Severity
    """Severity of the alert."""
    risk_score: int = Field(ge=0, le=100)
    """Risk score of the alert, 0 to 100."""


class WorkloadRef(ApiModel):
    """The controller that owns the pod at the top of its owner chain."""

    api_version: str = Field(min_length=1)
    """API version of the workload, e.g. apps/v1."""
    kind: str = Field(min_length=1)
    """Kind of the workload, e.g. Deployment."""
    name: str = Field(min_length=1)
    """Name of the workload."""


class AlertTarget(ApiModel):
    """The pod and container the detection is about."""

    namespace: str = Field(min_length=1)
    """Namespace of the pod (the Alert lives there too)."""
    pod: str | None = None
    """Name of the pod; absent when it could not be resolved."""
    container_id: str | None = None
    """Container id without the runtime prefix (64 hex digits for containerd)."""
    container_name: str | None = None
    """Name of the container in the pod spec."""
    node: str | None = None
    """Node the pod runs on."""
    workload: WorkloadRef | None = None
    """Owning workload, when there is one."""


class AlertSpec(ApiModel):
    """What was detected, where and when."""

    rule: AlertRuleRef
    """The rule that matched."""
    target: AlertTarget
    """The pod the detection is about."""
    source: AlertSource
    """Who detected it: matcher (Quarantine's own), elastic (Elastic Security) or falco."""
    first_seen: AwareDatetime
    """Time of the first matching event (RFC 3339)."""
    last_seen: AwareDatetime
    """Time of the latest matching event folded into this alert (RFC 3339)."""
    count: int = Field(default=1, ge=1)
    """Matches folded into this alert by suppression."""
    events: list[dict[str, Any]] = Field(default_factory=list)
    """The triggering events (ECS), trimmed to a bounded size."""
    release: bool = False
    """Set to true to undo every action the playbook took; the alert stays as an audit record."""


class ActionResult(ApiModel):
    """The outcome of one playbook action."""

    action: str = Field(min_length=1)
    """Action name, e.g. isolate."""
    result: ActionResultValue
    """Succeeded, Failed, Skipped, DryRun or Partial."""
    message: str | None = None
    """Human-readable details, e.g. why it was skipped."""
    details: dict[str, Any] = Field(default_factory=dict)
    """Action-specific facts, e.g. the NetworkPolicy created."""


class AlertStatus(ApiModel):
    """The response to the alert, written by the responder."""

    phase: AlertPhase | None = None
    """Pending, Contained, Partial, DryRun, Skipped, Failed or Released."""
    message: str | None = None
    """Human-readable summary of the phase."""
    actions: list[ActionResult] = Field(default_factory=list)
    """One entry per playbook action, in order."""
    undo: dict[str, Any] = Field(default_factory=dict)
    """What release needs to undo the actions: original replicas, removed labels, new objects."""
    contained_at: AwareDatetime | None = None
    """When containment finished (RFC 3339)."""
    released_at: AwareDatetime | None = None
    """When the actions were undone (RFC 3339)."""
    conditions: list[Condition] = Field(default_factory=list)
    """Standard conditions."""
    observed_generation: int | None = Field(default=None, ge=0)
    """metadata.generation last processed."""


class Alert(ApiModel):
    """One detection against one pod, and the audit record of the response. Namespaced: it lives
    in the pod's namespace."""

    api_version: Literal["quarantine.io/v1alpha1"] = GROUP_VERSION
    """quarantine.io/v1alpha1"""
    kind: Literal["Alert"] = "Alert"
    """Alert"""
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    """Standard object metadata."""
    spec: AlertSpec
    """What was detected."""
    status: AlertStatus | None = None
    """The response, written by the responder."""
