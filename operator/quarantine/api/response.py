"""The response playbook of a DetectionRule: an ordered list of containment actions."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from quarantine.api.base import KEEP_UNKNOWN_FIELDS_FOR_ADMISSION, AdmissionCheckedModel, ApiModel


def _valid_cidr(text: str) -> str:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError as error:
        raise ValueError(f"{text!r} is not a CIDR such as 10.0.0.0/8: {error}") from None
    return text


Cidr = Annotated[str, AfterValidator(_valid_cidr)]


class IsolateAction(AdmissionCheckedModel):
    """Cut the pod's network with a deny-all NetworkPolicy that selects it by a quarantine label."""

    allow_dns: bool = Field(default=False, alias="allowDNS")
    """Keep egress to cluster DNS (UDP and TCP port 53) open, e.g. so the workload logs errors."""
    allow_egress_cidrs: list[Cidr] = Field(default_factory=list, alias="allowEgressCIDRs")
    """CIDRs the pod may still reach, e.g. a forensics collector."""
    allow_ingress_cidrs: list[Cidr] = Field(default_factory=list, alias="allowIngressCIDRs")
    """CIDRs that may still reach the pod, e.g. a forensics workstation."""
    when_bypassed: Literal["Detach", "Report"] = "Detach"
    """What to do when another NetworkPolicy selecting the pod allows traffic (policies add up, so
    it would defeat the deny-all): Detach removes the labels that policy selects on (the pod also
    leaves its Services and ReplicaSet); Report leaves the pod as is and marks isolation Partial."""


class ScaleDownAction(AdmissionCheckedModel):
    """Scale the pod's owning workload (Deployment, StatefulSet, ReplicaSet, ReplicationController)
    to zero replicas through the scale subresource, remembering the original count for release."""

    fallback: Literal["Isolate", "Delete", "Skip"] = "Isolate"
    """What to do when the workload cannot be scaled (DaemonSet, Job, bare pod)."""


class LabelAction(AdmissionCheckedModel):
    """Add labels to the pod (removed again on release)."""

    labels: dict[str, str] = Field(min_length=1)
    """Labels to set on the pod."""


class AnnotateAction(AdmissionCheckedModel):
    """Add annotations to the pod (removed again on release)."""

    annotations: dict[str, str] = Field(min_length=1)
    """Annotations to set on the pod."""


class DeletePodAction(AdmissionCheckedModel):
    """Delete the pod. This cannot be undone by release."""

    grace_period_seconds: int | None = Field(default=None, ge=0)
    """Seconds the pod gets to stop; absent means the pod's own terminationGracePeriodSeconds."""


class SecretKeyRef(AdmissionCheckedModel):
    """A key of a Secret in Quarantine's own namespace."""

    name: str = Field(min_length=1)
    """Name of the Secret."""
    key: str = Field(default="url", min_length=1)
    """Key in the Secret whose value is used."""


class NotifyAction(AdmissionCheckedModel):
    """Send the alert to a webhook. Failures are recorded but never block containment."""

    secret_ref: SecretKeyRef
    """Secret holding the webhook URL."""
    format: Literal["json", "slack"] = "json"
    """Body format: the alert as JSON, or a Slack-compatible message."""


ActionName = Literal["isolate", "scaleDown", "label", "annotate", "deletePod", "notify"]
ACTION_NAMES: tuple[ActionName, ...] = (
    "isolate",
    "scaleDown",
    "label",
    "annotate",
    "deletePod",
    "notify",
)

ActionParams = (
    IsolateAction | ScaleDownAction | LabelAction | AnnotateAction | DeletePodAction | NotifyAction
)


class PlaybookAction(ApiModel):
    """One step of the playbook. Exactly one key, naming the action, must be set."""

    # The API server enforces the one-key rule too (the Python check is in the validator below).
    # Unknown keys are kept for the webhook, so the schema itself also demands a known action:
    # with the webhook disabled, an unknown action is still refused rather than stored.
    model_config = ApiModel.model_config | {
        "json_schema_extra": {
            "minProperties": 1,
            "maxProperties": 1,
            **KEEP_UNKNOWN_FIELDS_FOR_ADMISSION,
            "x-kubernetes-validations": [
                {
                    "rule": " || ".join(f"has(self.{name})" for name in ACTION_NAMES),
                    "message": f"each action item needs one of: {', '.join(ACTION_NAMES)}",
                }
            ],
        }
    }

    isolate: IsolateAction | None = None
    """Isolate the pod with a deny-all NetworkPolicy."""
    scale_down: ScaleDownAction | None = None
    """Scale the owning workload to zero."""
    label: LabelAction | None = None
    """Label the pod."""
    annotate: AnnotateAction | None = None
    """Annotate the pod."""
    delete_pod: DeletePodAction | None = None
    """Delete the pod."""
    notify: NotifyAction | None = None
    """Notify a webhook."""

    @model_validator(mode="before")
    @classmethod
    def _exactly_one_known_action(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        known = {*ACTION_NAMES, "scale_down", "delete_pod"}
        unknown = sorted(str(key) for key in data if key not in known)
        if unknown:
            raise ValueError(
                f"unknown action {', '.join(unknown)}; expected one of {', '.join(ACTION_NAMES)}"
            )
        if len(data) != 1:
            found = ", ".join(str(key) for key in data) or "none"
            raise ValueError(f"each action item needs exactly one action key, found: {found}")
        ((key, value),) = data.items()
        if value is None:
            raise ValueError(f"action {key} needs an object of settings (use {{}} for defaults)")
        return data

    @model_serializer(mode="wrap")
    def _only_the_chosen_action(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # The unset alternatives are None; emitting them would break the one-key rule.
        dumped: dict[str, Any] = handler(self)
        return {key: value for key, value in dumped.items() if value is not None}

    @property
    def name(self) -> ActionName:
        """The action's YAML name, e.g. "scaleDown"."""
        return self._chosen()[0]

    @property
    def params(self) -> ActionParams:
        """The settings of the chosen action."""
        return self._chosen()[1]

    def _chosen(self) -> tuple[ActionName, ActionParams]:
        candidates: tuple[tuple[ActionName, ActionParams | None], ...] = (
            ("isolate", self.isolate),
            ("scaleDown", self.scale_down),
            ("label", self.label),
            ("annotate", self.annotate),
            ("deletePod", self.delete_pod),
            ("notify", self.notify),
        )
        for name, params in candidates:
            if params is not None:
                return name, params
        raise ValueError("playbook action has no action set")


class ResponsePlaybook(ApiModel):
    """What Quarantine does to the offending pod when the rule matches."""

    mode: Literal["Enforce", "DryRun"] = "Enforce"
    """Enforce runs the actions; DryRun records, counts and notifies but changes nothing else."""
    actions: list[PlaybookAction] = Field(default_factory=list)
    """Actions run in order, each once and idempotently. Empty means alert only."""
