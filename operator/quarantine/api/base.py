"""Shared building blocks of the Quarantine API models: the base model and common object types."""

from __future__ import annotations

from datetime import datetime
from typing import Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel
from pydantic.config import JsonDict

API_GROUP: Final = "quarantine.io"
API_VERSION: Final = "v1alpha1"
GROUP_VERSION: Final = "quarantine.io/v1alpha1"


class ApiModel(BaseModel):
    """Base of every API object: camelCase in YAML/JSON, snake_case in Python, no unknown keys."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        # Field docstrings become schema descriptions, so `kubectl explain` shows them.
        use_attribute_docstrings=True,
    )


KEEP_UNKNOWN_FIELDS_FOR_ADMISSION: Final[JsonDict] = {"x-kubernetes-preserve-unknown-fields": True}
"""CRD schema marker for objects whose unknown fields must reach the validating webhook.

A structural CRD prunes unknown fields before admission, so a client that skips strict field
validation (`kubectl apply --validate=false`, most API libraries) would have a misspelt option
silently dropped. Keeping them lets the webhook's models (extra="forbid") refuse them by path.
The declared properties stay in the schema, so `kubectl explain` still documents them."""


class AdmissionCheckedModel(ApiModel):
    """An ApiModel whose CRD schema keeps unknown fields for the webhook to refuse."""

    # Pydantic merges this with ApiModel's config.
    model_config = ConfigDict(json_schema_extra=KEEP_UNKNOWN_FIELDS_FOR_ADMISSION)


class ObjectMeta(BaseModel):
    """Standard Kubernetes object metadata. Only the fields Quarantine reads are typed."""

    # The API server adds many fields (managedFields, finalizers ...); keep them all untouched.
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="allow",
        use_attribute_docstrings=True,
    )

    name: str | None = None
    """Name of the object, unique per namespace (or per cluster for cluster-scoped kinds)."""
    namespace: str | None = None
    """Namespace of the object; absent for cluster-scoped kinds."""
    labels: dict[str, str] = Field(default_factory=dict)
    """Labels of the object."""
    annotations: dict[str, str] = Field(default_factory=dict)
    """Annotations of the object."""
    uid: str | None = None
    """Unique id the API server assigned."""
    generation: int | None = None
    """Generation of the desired state, incremented by the API server on each spec change."""
    resource_version: str | None = None
    """Opaque version used for optimistic concurrency."""
    creation_timestamp: datetime | None = None
    """When the object was created."""


ConditionStatus = Literal["True", "False", "Unknown"]


class Condition(ApiModel):
    """One aspect of the object's state, in the standard Kubernetes condition shape."""

    type: str = Field(min_length=1)
    """Kind of condition, e.g. Ready."""
    status: ConditionStatus
    """Whether the condition holds: True, False or Unknown."""
    reason: str | None = None
    """One CamelCase word saying why the condition has its status, e.g. QueryInvalid."""
    message: str | None = None
    """Human-readable details."""
    last_transition_time: AwareDatetime | None = None
    """When the status last changed (RFC 3339)."""
    observed_generation: int | None = Field(default=None, ge=0)
    """metadata.generation the condition was computed from."""


class LabelSelectorRequirement(ApiModel):
    """One set-based label requirement."""

    key: str = Field(min_length=1)
    """Label key the requirement applies to."""
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    """How the key relates to the values."""
    values: list[str] = Field(default_factory=list)
    """Values for In and NotIn; must be empty for Exists and DoesNotExist."""

    @model_validator(mode="after")
    def _values_fit_operator(self) -> LabelSelectorRequirement:
        needs_values = self.operator in ("In", "NotIn")
        if needs_values and not self.values:
            raise ValueError(f"operator {self.operator} needs at least one value")
        if not needs_values and self.values:
            raise ValueError(f"operator {self.operator} takes no values")
        return self


class LabelSelector(ApiModel):
    """Standard Kubernetes label selector; an empty selector selects everything."""

    match_labels: dict[str, str] = Field(default_factory=dict)
    """Labels that must all be present with exactly these values."""
    match_expressions: list[LabelSelectorRequirement] = Field(default_factory=list)
    """Set-based requirements that must all hold."""
