"""The DetectionRule resource: one Elastic-style EQL rule plus scope, exceptions and response."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from quarantine.api.base import GROUP_VERSION, ApiModel, Condition, LabelSelector, ObjectMeta
from quarantine.api.durations import Duration
from quarantine.api.response import ResponsePlaybook

Severity = Literal["low", "medium", "high", "critical"]


class ThreatReference(ApiModel):
    """A MITRE ATT&CK tactic, technique or sub-technique."""

    id: str = Field(min_length=1)
    """Identifier, e.g. TA0006, T1552 or T1552.001."""
    name: str = Field(min_length=1)
    """Name, e.g. Credential Access."""
    reference: str = Field(min_length=1)
    """URL of the entry on attack.mitre.org."""


class ThreatTechnique(ThreatReference):
    """A technique with its sub-techniques."""

    subtechnique: list[ThreatReference] = Field(default_factory=list)
    """Sub-techniques of this technique that the rule detects."""


class ThreatMapping(ApiModel):
    """Where the rule sits in a threat framework."""

    framework: str = Field(min_length=1)
    """Framework name, e.g. MITRE ATT&CK."""
    tactic: ThreatReference
    """The tactic (the adversary's goal)."""
    technique: list[ThreatTechnique] = Field(default_factory=list)
    """Techniques (how the goal is reached) that the rule detects."""


class RuleScope(ApiModel):
    """Which pods the rule applies to. Every part given must match; empty means every pod."""

    namespaces: list[str] = Field(default_factory=list)
    """Namespace names the pod must be in."""
    namespace_selector: LabelSelector | None = None
    """Labels the pod's namespace must have."""
    pod_selector: LabelSelector | None = None
    """Labels the pod must have."""


class RuleException(ApiModel):
    """A known-good case: events matching the condition never raise an alert for this rule."""

    name: str = Field(min_length=1)
    """Short name saying what is excluded and why."""
    condition: str = Field(min_length=1)
    """EQL boolean condition, evaluated as `any where <condition>`,
    e.g. `process.parent.name == "backup.sh"`."""


class AlertSuppression(ApiModel):
    """Folds repeated matches into one Alert (its count goes up) instead of a new one each time."""

    group_by: list[str] = Field(default_factory=list)
    """ECS fields whose values form the group, e.g. [container.id]; empty means the target pod."""
    duration: Duration | None = None
    """How long a group keeps folding matches into one Alert; absent means the rule's interval."""


class DetectionRuleSpec(ApiModel):
    """The rule: what Elastic Security knows about it, plus what Kubernetes needs."""

    query: str = Field(min_length=1)
    """EQL query in Elasticsearch's dialect, e.g. `process where process.name == "nc"`."""
    language: Literal["eql"] = "eql"
    """Query language. Only eql is supported."""
    rule_id: str = Field(min_length=1)
    """Stable rule identifier, Elastic's rule_id (a UUID for imported rules)."""
    display_name: str | None = None
    """Human-readable rule name (Elastic's name)."""
    description: str | None = None
    """What the rule detects."""
    severity: Severity
    """Severity of an alert from this rule: low, medium, high or critical."""
    risk_score: int = Field(ge=0, le=100)
    """Risk score of an alert from this rule, 0 to 100."""
    interval: Duration = "5m"
    """Rate window: at most maxSignals alerts are raised per interval (Elastic's schedule)."""
    lookback: Duration = "6m"
    """How old an event may be and still be evaluated (Elastic's `from: now-6m`)."""
    max_signals: int = Field(default=100, ge=1)
    """Most alerts this rule raises per interval; further matches are counted, not raised."""
    timestamp_field: str | None = None
    """Event field holding the event time, e.g. event.ingested; @timestamp when absent or
    missing from an event (Elastic's timestamp_override)."""
    indices: list[str] = Field(default_factory=list)
    """Elasticsearch index patterns the rule reads in Elastic; informational here."""
    tags: list[str] = Field(default_factory=list)
    """Free-form tags."""
    threat: list[ThreatMapping] = Field(default_factory=list)
    """Threat framework mapping (MITRE ATT&CK)."""
    investigation_guide: str | None = None
    """Markdown guide for the analyst (Elastic's note)."""
    false_positives: list[str] = Field(default_factory=list)
    """Known benign causes of alerts."""
    references: list[str] = Field(default_factory=list)
    """Links with background."""
    author: list[str] = Field(default_factory=list)
    """Rule authors."""
    license: str | None = None
    """Licence of the rule text."""
    version: int | None = Field(default=None, ge=1)
    """Revision of the rule."""
    enabled: bool = True
    """Whether the rule is evaluated."""
    scope: RuleScope | None = None
    """Which pods the rule applies to; absent means every pod."""
    exceptions: list[RuleException] = Field(default_factory=list)
    """Known-good cases that never raise an alert."""
    suppression: AlertSuppression | None = None
    """How repeated matches fold into one Alert; absent means per target pod for one interval."""
    response: ResponsePlaybook | None = None
    """What to do to the offending pod; absent means alert only."""


class QueryError(ApiModel):
    """Where the query failed to compile."""

    line: int = Field(ge=1)
    """1-based line in the query."""
    column: int = Field(ge=1)
    """1-based column in the line."""
    message: str
    """What is wrong."""


class DetectionRuleStatus(ApiModel):
    """State observed by Quarantine."""

    conditions: list[Condition] = Field(default_factory=list)
    """Ready is True when the query and exceptions compiled and the rule is evaluated; when the
    query does not compile it is False with reason QueryInvalid."""
    observed_generation: int | None = Field(default=None, ge=0)
    """metadata.generation last processed."""
    alert_count: int = Field(default=0, ge=0)
    """Alerts raised by this rule so far."""
    last_alert_time: AwareDatetime | None = None
    """When the rule last raised an alert (RFC 3339)."""
    query_error: QueryError | None = None
    """Compile error of the query; absent when it compiles."""


class DetectionRule(ApiModel):
    """A detection rule: an EQL query over container process events and the response to a match.
    Cluster-scoped."""

    api_version: Literal["quarantine.io/v1alpha1"] = GROUP_VERSION
    """quarantine.io/v1alpha1"""
    kind: Literal["DetectionRule"] = "DetectionRule"
    """DetectionRule"""
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    """Standard object metadata."""
    spec: DetectionRuleSpec
    """The rule."""
    status: DetectionRuleStatus | None = None
    """State observed by Quarantine."""
