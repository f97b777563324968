"""Runs an Alert's playbook once, step by step, recording each step in the Alert status so a
restarted responder continues where the last one stopped; and releases it again."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from quarantine.api import (
    AlertSpec,
    AnnotateAction,
    DeletePodAction,
    IsolateAction,
    LabelAction,
    PlaybookAction,
    ResponsePlaybook,
    ScaleDownAction,
)
from quarantine.k8s.paths import alert_path, pod_path, rule_path
from quarantine.k8s.raw import ApiError, Kube
from quarantine.respond import actions, metrics
from quarantine.respond.config import ResponderConfig
from quarantine.respond.events import object_reference, post_event
from quarantine.respond.notifier import Notifier, NotifyJob
from quarantine.respond.notify import notification_body
from quarantine.respond.outcome import (
    FINAL_PHASES,
    NON_CONTAINMENT_ACTIONS,
    ActionRecord,
    Phase,
    phase_of,
    summary,
)
from quarantine.respond.release import release
from quarantine.respond.safety import ContainmentBudget, refusal_reason

log = logging.getLogger(__name__)

# API answers that retrying will not fix: record the step as Failed instead.
_PERMANENT_STATUSES = frozenset({400, 403, 404, 409, 422})


class RetryLater(Exception):
    """A transient failure (API unavailable, timeout): the handler should be retried."""


class InvalidPlaybook(ValueError):
    """The rule's response does not fit the API model (admission should have refused it)."""


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


class Responder:
    """The responder's use cases: run a playbook, release it, and recall past containments."""

    def __init__(
        self,
        kube: Kube,
        config: ResponderConfig,
        *,
        notifier: Notifier,
        budget: ContainmentBudget | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.kube = kube
        self.config = config
        self.notifier = notifier
        self.budget = budget or ContainmentBudget(config.limits)
        self.clock = clock

    # --- run ---------------------------------------------------------------------------------

    def run_playbook(self, body: Mapping[str, Any]) -> str:
        """Run the steps of the playbook that have no record yet; return the Alert phase."""
        metadata = body.get("metadata") or {}
        name, namespace = str(metadata["name"]), str(metadata["namespace"])
        try:
            spec = AlertSpec.model_validate(body.get("spec") or {})
        except ValidationError as error:
            return self._finish_invalid(body, f"the Alert spec is invalid: {error}")
        if spec.release:
            return self.release(body)
        status = body.get("status") or {}
        phase = status.get("phase")
        if phase == "Released":
            return "Released"
        records = [ActionRecord.from_status(entry) for entry in status.get("actions") or []]
        undo: dict[str, Any] = dict(status.get("undo") or {})
        try:
            playbook = self._playbook(spec.rule.name, undo)
        except InvalidPlaybook as error:
            return self._finish_invalid(body, str(error))
        if playbook is None:
            message = f"no DetectionRule named {spec.rule.name}; nothing to run"
            return self._write_final(body, spec, "Skipped", message, records, undo)
        dry_run = playbook.mode == "DryRun"
        if phase in FINAL_PHASES:
            self._send_notifications(body, playbook, str(phase), records, dry_run)
            return str(phase)

        ctx = actions.StepContext(
            kube=self.kube,
            alert_name=name,
            alert_uid=str(metadata.get("uid", "")),
            namespace=namespace,
            pod_name=spec.target.pod or "",
            pod=None,
            dry_run=dry_run,
            dns=self.config.dns,
        )
        pending = self._pending_steps(playbook, records)
        acting = any(action.name not in self.config.disabled_actions for _, action in pending)
        refusal = self._refusal(ctx, spec, name, dry_run) if acting else None
        undo_steps: list[dict[str, Any]] = list(undo.get("steps") or [])
        for index, (step, action) in enumerate(pending):
            outcome = self._run_step(ctx, action, step, refusal)
            records.append(outcome.record)
            if outcome.undo:
                undo_steps.append(outcome.undo)
            undo["steps"] = undo_steps
            if index < len(pending) - 1:
                progress = {"phase": "Pending", "actions": _rows(records), "undo": undo}
                self._write_status(namespace, name, progress)
        final = phase_of(records, dry_run=dry_run)
        self._write_final(body, spec, final, summary(records, final), records, undo)
        self._announce(body, spec, ctx, final, records)
        self._send_notifications(body, playbook, final, records, dry_run)
        return final

    def _pending_steps(
        self, playbook: ResponsePlaybook, records: list[ActionRecord]
    ) -> list[tuple[int, PlaybookAction]]:
        """Steps without a record, in order. notify is sent after containment, in the
        background, unless it is disabled: then it is recorded as Skipped here."""
        done = {record.step for record in records}
        disabled = self.config.disabled_actions
        return [
            (step, action)
            for step, action in enumerate(playbook.actions)
            if step not in done
            and (action.name not in NON_CONTAINMENT_ACTIONS or action.name in disabled)
        ]

    def _run_step(
        self, ctx: actions.StepContext, action: PlaybookAction, step: int, refusal: str | None
    ) -> actions.StepOutcome:
        if action.name in self.config.disabled_actions:
            reason = f"the {action.name} action is disabled in this installation"
            outcome = actions.StepOutcome(ActionRecord(step, action.name, "Skipped", reason))
        elif refusal:
            outcome = actions.StepOutcome(ActionRecord(step, action.name, "Skipped", refusal))
        else:
            outcome = self._execute(ctx, action, step)
        record = outcome.record
        metrics.ACTIONS.labels(record.action, record.result).inc()
        log.info(
            "alert %s/%s: %s %s: %s",
            ctx.namespace,
            ctx.alert_name,
            record.action,
            record.result,
            record.message,
        )
        return outcome

    def _playbook(self, rule_name: str, undo: dict[str, Any]) -> ResponsePlaybook | None:
        """The playbook as it was when the Alert was first handled (snapshotted in the undo record),
        so a rule edited meanwhile does not change a half-run playbook."""
        snapshot = undo.get("playbook")
        if snapshot is not None:
            return ResponsePlaybook.model_validate(snapshot)
        rule = self._read(rule_path(rule_name))
        if rule is None:
            return None
        raw = (rule.get("spec") or {}).get("response") or {}
        try:
            playbook = ResponsePlaybook.model_validate(raw)
        except ValidationError as error:
            message = f"DetectionRule {rule_name} has an invalid response: {error}"
            raise InvalidPlaybook(message) from None
        undo["rule"] = rule_name
        undo["playbook"] = playbook.model_dump(by_alias=True, exclude_none=True, mode="json")
        undo.setdefault("steps", [])
        return playbook

    def _refusal(
        self, ctx: actions.StepContext, spec: AlertSpec, alert_name: str, dry_run: bool
    ) -> str | None:
        if not spec.target.pod:
            return "the Alert names no pod"
        safety = self.config.safety
        if ctx.namespace in safety.all_protected_namespaces:
            return f"namespace {ctx.namespace} is protected"
        pod = self._read(pod_path(ctx.namespace, ctx.pod_name))
        ctx.pod = pod
        if pod is None:
            return f"pod {ctx.namespace}/{ctx.pod_name} not found"
        namespace = self._read(f"/api/v1/namespaces/{ctx.namespace}") or {}
        reason = refusal_reason(
            safety,
            namespace=ctx.namespace,
            namespace_labels=(namespace.get("metadata") or {}).get("labels") or {},
            pod_labels=ctx.pod_labels,
        )
        if reason:
            return reason
        pod_key = f"{ctx.namespace}/{ctx.pod_name}"
        alert_key = f"{ctx.namespace}/{alert_name}"
        check = self.budget.preview if dry_run else self.budget.admit
        admission = check(alert_key, spec.rule.name, pod_key, self.clock())
        return None if admission.allowed else admission.reason

    def _read(self, path: str) -> dict[str, Any] | None:
        try:
            return self.kube.get_or_none(path)
        except ApiError as error:
            raise RetryLater(str(error)) from error

    def _execute(
        self, ctx: actions.StepContext, action: PlaybookAction, step: int
    ) -> actions.StepOutcome:
        params = action.params
        try:
            match params:
                case IsolateAction():
                    return actions.isolate(ctx, params, step)
                case ScaleDownAction():
                    fallbacks = {
                        "Isolate": lambda: actions.isolate(ctx, IsolateAction(), step),
                        "Delete": lambda: actions.delete_pod(
                            ctx, DeletePodAction(), step, "scaleDown"
                        ),
                    }
                    return actions.scale_down(ctx, params, step, fallbacks)
                case LabelAction():
                    return actions.label(ctx, params, step)
                case AnnotateAction():
                    return actions.annotate(ctx, params, step)
                case DeletePodAction():
                    return actions.delete_pod(ctx, params, step, "deletePod")
        except ApiError as error:
            if error.status not in _PERMANENT_STATUSES:
                raise RetryLater(str(error)) from error
            return actions.StepOutcome(ActionRecord(step, action.name, "Failed", str(error)))
        raise ValueError(f"step {step}: {action.name} is not a containment action")

    # --- status, events, notifications -------------------------------------------------------

    def _write_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        try:
            self.kube.merge_patch(
                alert_path(namespace, name, status=True), {"status": dict(status)}
            )
        except ApiError as error:
            if error.not_found:
                return  # the Alert was deleted meanwhile; its release handler takes over
            raise RetryLater(str(error)) from error

    def _write_final(
        self,
        body: Mapping[str, Any],
        spec: AlertSpec,
        phase: Phase,
        message: str,
        records: list[ActionRecord],
        undo: Mapping[str, Any],
    ) -> str:
        metadata = body.get("metadata") or {}
        now = self.clock()
        status: dict[str, Any] = {
            "phase": phase,
            "message": message,
            "actions": _rows(records),
            "undo": dict(undo),
            "observedGeneration": metadata.get("generation"),
        }
        if phase in ("Contained", "Partial"):
            status["containedAt"] = _timestamp(now)
            created = _parse_time(metadata.get("creationTimestamp"))
            if created:
                metrics.CONTAINMENT_LATENCY.labels("alert_created").observe(
                    max(0.0, (now - created).total_seconds())
                )
            metrics.CONTAINMENT_LATENCY.labels("first_event").observe(
                max(0.0, (now - spec.first_seen).total_seconds())
            )
        self._write_status(str(metadata["namespace"]), str(metadata["name"]), status)
        metrics.ALERTS_HANDLED.labels(phase).inc()
        return phase

    def _finish_invalid(self, body: Mapping[str, Any], message: str) -> str:
        metadata = body.get("metadata") or {}
        status = {"phase": "Failed", "message": message[:2000]}
        self._write_status(str(metadata["namespace"]), str(metadata["name"]), status)
        metrics.ALERTS_HANDLED.labels("Failed").inc()
        return "Failed"

    def _announce(
        self,
        body: Mapping[str, Any],
        spec: AlertSpec,
        ctx: actions.StepContext,
        phase: Phase,
        records: list[ActionRecord],
    ) -> None:
        text = summary(records, phase)
        warning = phase in ("Contained", "Partial", "Failed")
        reason = {"Contained": "Contained", "Partial": "PartiallyContained"}.get(phase, phase)
        alert_ref = object_reference(body)
        post_event(
            self.kube, alert_ref, "Warning" if phase != "Contained" else "Normal", reason, text
        )
        if ctx.pod is not None:
            pod_ref = object_reference({"apiVersion": "v1", "kind": "Pod", **ctx.pod})
            pod_text = f"Alert {alert_ref['name']} (rule {spec.rule.name}): {text}"
            post_event(self.kube, pod_ref, "Warning" if warning else "Normal", reason, pod_text)

    def _send_notifications(
        self,
        body: Mapping[str, Any],
        playbook: ResponsePlaybook,
        phase: str,
        records: list[ActionRecord],
        dry_run: bool,
    ) -> None:
        recorded = {record.step for record in records}
        rows = _rows(records)
        for step, action in enumerate(playbook.actions):
            if action.notify is None or step in recorded:
                continue
            message = notification_body(
                fmt=action.notify.format, alert=body, phase=phase, actions=rows, dry_run=dry_run
            )
            self.notifier.submit(
                NotifyJob(object_reference(body), step, action.notify, message, dry_run)
            )

    # --- release -----------------------------------------------------------------------------

    def release(self, body: Mapping[str, Any], *, deleting: bool = False) -> str:
        """Undo the playbook. Safe to repeat; objects already gone are fine."""
        metadata = body.get("metadata") or {}
        name, namespace = str(metadata["name"]), str(metadata["namespace"])
        status = body.get("status") or {}
        undo = status.get("undo") or {}
        pod_name = str(((body.get("spec") or {}).get("target") or {}).get("pod") or "")
        ctx = actions.StepContext(
            kube=self.kube,
            alert_name=name,
            alert_uid=str(metadata.get("uid", "")),
            namespace=namespace,
            pod_name=pod_name,
            pod=None,
            dry_run=False,
            dns=self.config.dns,
        )
        try:
            notes = release(ctx, list(undo.get("steps") or [])) if pod_name else []
        except ApiError as error:
            raise RetryLater(str(error)) from error
        message = "Released: " + ("; ".join(notes) if notes else "nothing to undo")
        log.info("alert %s/%s: %s", namespace, name, message)
        if status.get("phase") == "Released":
            return "Released"  # a repeat (e.g. deleting a released Alert): nothing new to say
        if not deleting:
            released = {
                "phase": "Released",
                "message": message,
                "releasedAt": _timestamp(self.clock()),
            }
            self._write_status(namespace, name, released)
        post_event(self.kube, object_reference(body), "Normal", "Released", message)
        metrics.ALERTS_HANDLED.labels("Released").inc()
        return "Released"

    # --- restart -----------------------------------------------------------------------------

    def recall_containments(self, namespaces: Sequence[str] = ()) -> int:
        """Count the containments recorded in Alert statuses (in `namespaces`, or everywhere)
        into the blast-radius budget and the pod cooldowns, so a restart does not reset them.
        Returns how many were found."""
        paths = [alert_path(ns) for ns in namespaces] or ["/apis/quarantine.io/v1alpha1/alerts"]
        alerts = [alert for path in paths for alert in self.kube.list_items(path)]
        found = 0
        for alert in alerts:
            status = alert.get("status") or {}
            at = _parse_time(status.get("containedAt"))
            if at is None or status.get("phase") not in ("Contained", "Partial"):
                continue
            metadata = alert.get("metadata") or {}
            spec = alert.get("spec") or {}
            namespace = str(metadata.get("namespace"))
            self.budget.remember(
                f"{namespace}/{metadata.get('name')}",
                str((spec.get("rule") or {}).get("name")),
                f"{namespace}/{(spec.get('target') or {}).get('pod')}",
                at,
            )
            found += 1
        return found


def _rows(records: list[ActionRecord]) -> list[dict[str, Any]]:
    return [record.to_status() for record in sorted(records, key=lambda r: r.step)]
