"""Release: undo what an Alert's playbook did. Idempotent: objects already gone are fine, and the
isolation is cleaned up by its deterministic names even when the undo record is incomplete."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quarantine.k8s.paths import policy_path
from quarantine.k8s.raw import ApiError, Kube
from quarantine.respond.actions import StepContext, detached_labels, patch_pod_metadata
from quarantine.respond.naming import (
    DETACHED_LABELS_ANNOTATION,
    ISOLATED_POD_LABEL,
    ORIGINAL_REPLICAS_ANNOTATION,
    SCALED_DOWN_BY_ANNOTATION,
    is_isolation_label,
    isolation_label_key,
    policy_name,
)


def release(ctx: StepContext, undo_steps: list[Mapping[str, Any]]) -> list[str]:
    """Undo the steps in reverse order; return one note per thing done or found."""
    notes: list[str] = []
    for undo in reversed(undo_steps):
        action = undo.get("action")
        if action == "scaleDown":
            notes.append(_restore_replicas(ctx.kube, ctx.alert_name, undo))
        elif action in ("label", "annotate"):
            notes.append(_restore_metadata(ctx, undo))
        elif action == "deletePod":
            notes.append("the deleted pod cannot be brought back")
    # Isolation last and always: it is keyed by the Alert name, not by the record.
    notes.extend(_release_isolation(ctx))
    return notes


def _release_isolation(ctx: StepContext) -> list[str]:
    notes = []
    name = policy_name(ctx.alert_name)
    if ctx.kube.delete_if_exists(policy_path(ctx.namespace, name)):
        notes.append(f"deleted NetworkPolicy {name}")
    label_key = isolation_label_key(ctx.alert_name)
    restored: dict[str, str] = {}
    unlabelled: list[str] = []

    def build(pod: dict[str, Any]) -> dict[str, Any] | None:
        labels = pod["metadata"].get("labels") or {}
        others = [k for k in labels if is_isolation_label(k) and k != label_key]
        patch: dict[str, Any] = {}
        removals: dict[str, Any] = {}
        if label_key in labels:
            removals[label_key] = None
            unlabelled.append(label_key)
        # The annotation is written in the same patch that detached the labels, so it is the
        # truth about what to put back (the undo record may predate a crash).
        detached = detached_labels(pod)
        restored.clear()
        unlabelled.clear()
        # The last Alert released on the pod unmarks it and puts the detached labels back.
        if not others:
            if ISOLATED_POD_LABEL in labels:
                removals[ISOLATED_POD_LABEL] = None
            if detached:
                restored.update(detached)
                removals.update(detached)
                patch["annotations"] = {DETACHED_LABELS_ANNOTATION: None}
        if removals:
            patch["labels"] = removals
        return patch or None

    pod = patch_pod_metadata(ctx, build)
    if pod is None:
        notes.append(f"pod {ctx.namespace}/{ctx.pod_name} is gone; nothing to restore on it")
        return notes
    if unlabelled:
        notes.append(f"removed label {label_key}")
    if restored:
        notes.append(f"restored labels {', '.join(sorted(restored))}")
    return notes


def _restore_replicas(kube: Kube, alert_name: str, undo: Mapping[str, Any]) -> str:
    path = str(undo.get("path", ""))
    kind_name = (
        f"{(undo.get('workload') or {}).get('kind')} {(undo.get('workload') or {}).get('name')}"
    )
    current = kube.get_or_none(path) if path else None
    if current is None:
        return f"{kind_name} is gone; nothing to scale back"
    annotations = (current.get("metadata") or {}).get("annotations") or {}
    holder = annotations.get(SCALED_DOWN_BY_ANNOTATION)
    if holder not in (None, alert_name):
        return f"{kind_name} is held at zero by Alert {holder}; left as is"
    if holder is None and ORIGINAL_REPLICAS_ANNOTATION not in annotations:
        return f"{kind_name} was already restored"
    replicas = int(undo.get("replicas") or annotations.get(ORIGINAL_REPLICAS_ANNOTATION) or 0)
    kube.merge_patch(f"{path}/scale", {"spec": {"replicas": replicas}})
    kube.merge_patch(
        path,
        {
            "metadata": {
                "annotations": {ORIGINAL_REPLICAS_ANNOTATION: None, SCALED_DOWN_BY_ANNOTATION: None}
            }
        },
    )
    return f"scaled {kind_name} back to {replicas} replicas"


def _restore_metadata(ctx: StepContext, undo: Mapping[str, Any]) -> str:
    section = "labels" if undo.get("action") == "label" else "annotations"
    wanted: Mapping[str, str] = undo.get("set") or {}
    previous: Mapping[str, str] = undo.get("previous") or {}
    added = set(undo.get("added") or [])

    def build(pod: dict[str, Any]) -> dict[str, Any] | None:
        current = pod["metadata"].get(section) or {}
        # Only undo values that are still ours; someone may have changed them since.
        ours = [key for key, value in wanted.items() if current.get(key) == value]
        changes: dict[str, str | None] = {key: previous[key] for key in ours if key in previous}
        changes.update({key: None for key in ours if key in added})
        return {section: changes} if changes else None

    try:
        pod = patch_pod_metadata(ctx, build)
    except ApiError as error:
        return f"could not restore {section}: {error}"
    if pod is None:
        return f"pod is gone; {section} need no restoring"
    return f"restored {section} {', '.join(sorted(wanted))}"
