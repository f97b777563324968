"""The containment actions against the cluster. Each is idempotent (deterministic names,
create-or-get, write-ahead annotations), so running a step twice after a crash is harmless, and
each honours DryRun by describing the change instead of making it."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from quarantine.api import (
    AnnotateAction,
    DeletePodAction,
    IsolateAction,
    LabelAction,
    ScaleDownAction,
)
from quarantine.k8s.paths import pod_path, policy_path
from quarantine.k8s.raw import ApiError, Kube
from quarantine.respond.isolation import IsolationVerdict, assess_isolation, plan_detach
from quarantine.respond.naming import (
    DETACHED_LABELS_ANNOTATION,
    ISOLATED_POD_LABEL,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    ORIGINAL_REPLICAS_ANNOTATION,
    SCALED_DOWN_BY_ANNOTATION,
    isolation_label_key,
    policy_name,
)
from quarantine.respond.outcome import ActionRecord, Result
from quarantine.respond.policy import DnsTarget, IsolationSpec, isolation_policy, owner_reference
from quarantine.respond.workload import (
    Workload,
    controller_of,
    self_heal_warnings,
    why_not_scalable,
    workload_path,
)

_CONFLICT_RETRIES = 5


@dataclass
class StepContext:
    """What every action needs to know about the Alert it serves."""

    kube: Kube
    alert_name: str
    alert_uid: str
    namespace: str
    pod_name: str
    pod: dict[str, Any] | None
    dry_run: bool
    dns: DnsTarget = field(default_factory=DnsTarget)

    @property
    def pod_labels(self) -> dict[str, str]:
        return dict(((self.pod or {}).get("metadata") or {}).get("labels") or {})

    def refresh_pod(self) -> dict[str, Any] | None:
        self.pod = self.kube.get_or_none(pod_path(self.namespace, self.pod_name))
        return self.pod


@dataclass(frozen=True)
class StepOutcome:
    record: ActionRecord
    # What release needs to undo this step; None when there is nothing to undo.
    undo: dict[str, Any] | None = None


def _outcome(
    step: int,
    action: str,
    result: Result,
    message: str,
    details: Mapping[str, Any] | None = None,
    undo: dict[str, Any] | None = None,
) -> StepOutcome:
    return StepOutcome(ActionRecord(step, action, result, message, dict(details or {})), undo)


def _pod_gone(ctx: StepContext, step: int, action: str) -> StepOutcome:
    return _outcome(step, action, "Skipped", f"pod {ctx.namespace}/{ctx.pod_name} not found")


def patch_pod_metadata(
    ctx: StepContext, build: Callable[[dict[str, Any]], dict[str, Any] | None]
) -> dict[str, Any] | None:
    """Merge-patch the pod's metadata with optimistic concurrency: `build` sees the current pod
    and returns the metadata patch (None: nothing to do). Retried on conflict, so concurrent
    Alerts on one pod never overwrite each other's labels or annotations."""
    for _ in range(_CONFLICT_RETRIES):
        pod = ctx.pod or ctx.refresh_pod()
        if pod is None:
            return None
        patch = build(pod)
        if patch is None:
            return pod
        patch["resourceVersion"] = pod["metadata"]["resourceVersion"]
        try:
            ctx.pod = ctx.kube.merge_patch(
                pod_path(ctx.namespace, ctx.pod_name), {"metadata": patch}
            )
            return ctx.pod
        except ApiError as error:
            if error.not_found:
                ctx.pod = None
                return None
            if not error.conflict:
                raise
            ctx.pod = None  # stale: read again
    raise ApiError(409, "PATCH", pod_path(ctx.namespace, ctx.pod_name), "kept conflicting")


# --- isolate -----------------------------------------------------------------------------------


def _create_or_get_policy(kube: Kube, manifest: dict[str, Any]) -> dict[str, Any]:
    namespace = manifest["metadata"]["namespace"]
    name = manifest["metadata"]["name"]
    try:
        return kube.create(policy_path(namespace), manifest)
    except ApiError as error:
        if not error.conflict:
            raise
    existing = kube.get(policy_path(namespace, name))
    labels = existing.get("metadata", {}).get("labels") or {}
    if labels.get(MANAGED_BY_LABEL) != MANAGED_BY:
        raise ApiError(409, "POST", policy_path(namespace, name), "exists and is not Quarantine's")
    return existing


def isolate(ctx: StepContext, params: IsolateAction, step: int) -> StepOutcome:
    """Deny-all NetworkPolicy selecting the pod by this Alert's own label; detach the pod from
    policies that would still let traffic through, or report them, as the playbook says."""
    if ctx.pod is None:
        return _pod_gone(ctx, step, "isolate")
    label_key = isolation_label_key(ctx.alert_name)
    # resourceVersion=0 reads the API server's watch cache: a consistent list would wait for
    # the cache to catch up with etcd (tens of ms), and the cache is milliseconds behind at most.
    policies = ctx.kube.list_items(policy_path(ctx.namespace), resourceVersion="0")
    detach = params.when_bypassed == "Detach"
    if detach:
        plan = plan_detach(ctx.pod_labels, policies)
        removed, remaining = plan.removed, plan.remaining
    else:
        removed, remaining = {}, assess_isolation(ctx.pod_labels, policies)
    manifest = isolation_policy(
        IsolationSpec(
            namespace=ctx.namespace,
            name=policy_name(ctx.alert_name),
            alert_name=ctx.alert_name,
            label_key=label_key,
            label_value="true",
            allow_dns=params.allow_dns,
            egress_cidrs=params.allow_egress_cidrs,
            ingress_cidrs=params.allow_ingress_cidrs,
            owner=owner_reference("quarantine.io/v1alpha1", "Alert", ctx.alert_name, ctx.alert_uid),
        ),
        ctx.dns,
    )
    details: dict[str, Any] = {
        "networkPolicy": manifest["metadata"]["name"],
        "podLabel": {label_key: "true"},
        "detachedLabels": removed,
        "bypassingPolicies": remaining.policy_names,
    }
    if ctx.dry_run:
        details["plannedNetworkPolicy"] = manifest
        message = f"would create NetworkPolicy {manifest['metadata']['name']} and label the pod"
        if removed:
            message += f", and remove labels {', '.join(sorted(removed))}"
        return _outcome(step, "isolate", "DryRun", _with_bypass(message, remaining), details)

    _create_or_get_policy(ctx.kube, manifest)
    pod = patch_pod_metadata(ctx, lambda pod: _isolation_patch(pod, label_key, removed))
    if pod is None:
        return _pod_gone(ctx, step, "isolate")
    detached = detached_labels(pod)
    details["detachedLabels"] = {k: v for k, v in detached.items() if k in removed} or removed
    undo = {
        "action": "isolate",
        "step": step,
        "networkPolicy": manifest["metadata"]["name"],
        "labelKey": label_key,
        "detachedLabels": details["detachedLabels"],
    }
    message = f"NetworkPolicy {manifest['metadata']['name']} denies all traffic of the pod"
    if removed:
        message += f"; removed labels {', '.join(sorted(removed))} that other policies select on"
    result: Result = "Partial" if remaining.bypasses else "Succeeded"
    return _outcome(step, "isolate", result, _with_bypass(message, remaining), details, undo)


def _with_bypass(message: str, remaining: IsolationVerdict) -> str:
    if remaining.isolated:
        return message
    return f"{message}; not isolated: {remaining.describe()}"


def detached_labels(pod: Mapping[str, Any]) -> dict[str, str]:
    raw = ((pod.get("metadata") or {}).get("annotations") or {}).get(DETACHED_LABELS_ANNOTATION)
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _isolation_patch(
    pod: Mapping[str, Any], label_key: str, removed: Mapping[str, str]
) -> dict[str, Any] | None:
    labels = (pod.get("metadata") or {}).get("labels") or {}
    to_remove = {key: value for key, value in removed.items() if key in labels}
    marked = labels.get(label_key) == "true" and labels.get(ISOLATED_POD_LABEL) == "true"
    if marked and not to_remove:
        return None
    patch: dict[str, Any] = {
        "labels": {label_key: "true", ISOLATED_POD_LABEL: "true", **dict.fromkeys(to_remove)}
    }
    if to_remove:
        # Shared by every Alert on the pod: the last one released puts these labels back.
        detached = {**detached_labels(pod), **to_remove}
        patch["annotations"] = {DETACHED_LABELS_ANNOTATION: json.dumps(detached, sort_keys=True)}
    return patch


# --- scaleDown ---------------------------------------------------------------------------------


def owning_workload(ctx: StepContext) -> Workload | None:
    """The top scalable owner: a Deployment through its ReplicaSet, else the direct controller."""
    owner = controller_of((ctx.pod or {}).get("metadata") or {})
    if owner is not None and (owner.api_version, owner.kind) == ("apps/v1", "ReplicaSet"):
        replica_set = ctx.kube.get_or_none(workload_path(owner, ctx.namespace) or "")
        top = controller_of((replica_set or {}).get("metadata") or {})
        if top is not None and (top.api_version, top.kind) == ("apps/v1", "Deployment"):
            return top
    return owner


def scale_down(
    ctx: StepContext,
    params: ScaleDownAction,
    step: int,
    fallbacks: Mapping[str, Callable[[], StepOutcome]],
) -> StepOutcome:
    """Scale the owning workload to zero via its scale subresource; otherwise do what the
    playbook's fallback says and say why."""
    if ctx.pod is None:
        return _pod_gone(ctx, step, "scaleDown")
    workload = owning_workload(ctx)
    path = workload_path(workload, ctx.namespace) if workload else None
    if workload is None or path is None:
        return _fallback(step, why_not_scalable(workload), params, fallbacks)
    current = ctx.kube.get_or_none(path)
    if current is None:
        return _fallback(step, f"{workload.describe()} not found", params, fallbacks)
    metadata = current.get("metadata") or {}
    annotations = metadata.get("annotations") or {}
    holder = annotations.get(SCALED_DOWN_BY_ANNOTATION)
    details: dict[str, Any] = {"workload": workload.as_dict()}
    warnings = self_heal_warnings(metadata)
    if holder and holder != ctx.alert_name:
        message = f"{workload.describe()} is already scaled to zero by Alert {holder}"
        return _outcome(step, "scaleDown", "Succeeded", message, details)
    # A resumed step finds the count it wrote ahead; reading spec.replicas would give 0.
    original = int(
        annotations.get(ORIGINAL_REPLICAS_ANNOTATION)
        or (current.get("spec") or {}).get("replicas")
        or 0
    )
    details["originalReplicas"] = original
    note = f" (warning: {'; '.join(warnings)})" if warnings else ""
    if ctx.dry_run:
        message = f"would scale {workload.describe()} from {original} to 0 replicas{note}"
        return _outcome(step, "scaleDown", "DryRun", message, details)
    ctx.kube.merge_patch(
        path,
        {
            "metadata": {
                "annotations": {
                    ORIGINAL_REPLICAS_ANNOTATION: str(original),
                    SCALED_DOWN_BY_ANNOTATION: ctx.alert_name,
                }
            }
        },
    )
    ctx.kube.merge_patch(f"{path}/scale", {"spec": {"replicas": 0}})
    undo = {
        "action": "scaleDown",
        "step": step,
        "workload": workload.as_dict(),
        "path": path,
        "replicas": original,
    }
    message = f"scaled {workload.describe()} from {original} to 0 replicas{note}"
    return _outcome(step, "scaleDown", "Succeeded", message, details, undo)


def _fallback(
    step: int,
    reason: str,
    params: ScaleDownAction,
    fallbacks: Mapping[str, Callable[[], StepOutcome]],
) -> StepOutcome:
    if params.fallback == "Skip":
        return _outcome(step, "scaleDown", "Skipped", f"cannot scale down: {reason}")
    done = fallbacks[params.fallback]()
    record = done.record
    message = (
        f"cannot scale down: {reason}; fallback {params.fallback}: {record.result}: "
        f"{record.message}"
    )
    details = {"fallback": params.fallback, **record.details}
    undo = {**done.undo, "step": step, "fallbackOf": "scaleDown"} if done.undo else None
    return _outcome(step, "scaleDown", record.result, message, details, undo)


# --- label / annotate / deletePod --------------------------------------------------------------


def _set_metadata(
    ctx: StepContext, step: int, action: str, section: str, wanted: Mapping[str, str]
) -> StepOutcome:
    if ctx.pod is None:
        return _pod_gone(ctx, step, action)
    noun = "labels" if section == "labels" else "annotations"
    current = (ctx.pod.get("metadata") or {}).get(section) or {}
    # Status is written with merge patches, where null deletes: keep absent keys in a list.
    previous = {k: current[k] for k in wanted if k in current and current[k] != wanted[k]}
    added = sorted(k for k in wanted if k not in current)
    details = {noun: dict(wanted)}
    if ctx.dry_run:
        return _outcome(step, action, "DryRun", f"would set {noun} {_pairs(wanted)}", details)
    pod = patch_pod_metadata(
        ctx,
        lambda pod: (
            None
            if all(((pod["metadata"].get(section) or {}).get(k) == v) for k, v in wanted.items())
            else {section: dict(wanted)}
        ),
    )
    if pod is None:
        return _pod_gone(ctx, step, action)
    undo = {
        "action": action,
        "step": step,
        "set": dict(wanted),
        "previous": previous,
        "added": added,
    }
    return _outcome(step, action, "Succeeded", f"set {noun} {_pairs(wanted)}", details, undo)


def _pairs(values: Mapping[str, str]) -> str:
    return ", ".join(f"{key}={value}" for key, value in sorted(values.items()))


def label(ctx: StepContext, params: LabelAction, step: int) -> StepOutcome:
    return _set_metadata(ctx, step, "label", "labels", params.labels)


def annotate(ctx: StepContext, params: AnnotateAction, step: int) -> StepOutcome:
    return _set_metadata(ctx, step, "annotate", "annotations", params.annotations)


def delete_pod(ctx: StepContext, params: DeletePodAction, step: int, action: str) -> StepOutcome:
    if ctx.pod is None:
        return _pod_gone(ctx, step, action)
    grace = params.grace_period_seconds
    details: dict[str, Any] = {"pod": ctx.pod_name, "gracePeriodSeconds": grace}
    if ctx.dry_run:
        return _outcome(step, action, "DryRun", f"would delete pod {ctx.pod_name}", details)
    options: dict[str, Any] = {"apiVersion": "v1", "kind": "DeleteOptions"}
    if grace is not None:
        options["gracePeriodSeconds"] = grace
    gone_already = not ctx.kube.delete_if_exists(pod_path(ctx.namespace, ctx.pod_name), options)
    message = "pod was already gone" if gone_already else f"deleted pod {ctx.pod_name}"
    undo = {"action": action, "step": step, "irreversible": True}
    return _outcome(step, action, "Succeeded", message, details, undo)
