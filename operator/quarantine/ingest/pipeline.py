"""One batch of event lines -> detections -> resolved targets -> Alerts, with per-line results.

Steps: decode, normalise and evaluate each line (detection lane), resolve each detection's
pod, apply the rule's scope selectors, fold detections that share an Alert name into one write,
write.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, cast

from quarantine.detect import AlertDraft
from quarantine.detect.scope import ScopeCheck
from quarantine.events import FormatChoice
from quarantine.ingest.alert_sink import AlertSink
from quarantine.ingest.detection_lane import DetectionLane
from quarantine.ingest.metrics import MatcherMetrics
from quarantine.ingest.ndjson import LineError, RawLine
from quarantine.ingest.outcome import BatchOutcome, LineWarning
from quarantine.k8s.alert_manifest import MAX_ALERT_EVENTS, AlertOccurrence
from quarantine.k8s.scope import NamespaceLabels, ScopeVerdict, scope_verdict
from quarantine.k8s.targets import ResolvedTarget, TargetHint

log = logging.getLogger(__name__)


class Resolver(Protocol):
    def resolve(self, hint: TargetHint) -> ResolvedTarget: ...


class DetectionCounter(Protocol):
    def record(self, rule_name: str, count: int, when: datetime) -> None: ...


@dataclass
class _Group:
    """Detections of one batch that land in the same Alert."""

    drafts: list[AlertDraft] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    target: ResolvedTarget | None = None
    namespace: str = ""


class EventPipeline:
    def __init__(
        self,
        *,
        lane: DetectionLane,
        resolver: Resolver,
        namespaces: NamespaceLabels,
        scopes: Callable[[], Mapping[str, ScopeCheck]],
        sink: AlertSink,
        counter: DetectionCounter,
        metrics: MatcherMetrics,
        fallback_namespace: str | None = None,
    ) -> None:
        self._lane = lane
        self._resolver = resolver
        self._namespaces = namespaces
        self._scopes = scopes
        self._sink = sink
        self._counter = counter
        self._metrics = metrics
        self._fallback_namespace = fallback_namespace

    async def process(self, lines: Sequence[RawLine], event_format: str) -> BatchOutcome:
        verdicts = await self._lane.evaluate(lines, cast(FormatChoice, event_format))
        outcome = BatchOutcome()
        detections: list[tuple[int, AlertDraft]] = []
        for line, verdict in zip(lines, verdicts, strict=True):
            if verdict.error is not None:
                outcome.errors.append(LineError(line.line, verdict.error))
                self._metrics.events_rejected.labels(verdict.reason).inc()
                outcome.server_failure |= verdict.internal
                continue
            outcome.accepted += 1
            if verdict.ignored:
                outcome.ignored += 1
                self._metrics.events_ignored.inc()
            if verdict.drafts:  # most lines draft nothing
                detections.extend((line.line, draft) for draft in verdict.drafts)
        if not detections:
            return outcome

        # Resolution may read a ReplicaSet from the API server: keep it off the event loop.
        groups = await asyncio.to_thread(self._group, detections, outcome)
        results = await asyncio.gather(*(self._write(group, outcome) for group in groups))
        for name in results:
            if name is not None and name not in outcome.alerts:
                outcome.alerts.append(name)
        return outcome

    def _group(
        self, detections: list[tuple[int, AlertDraft]], outcome: BatchOutcome
    ) -> list[_Group]:
        scopes = self._scopes()
        groups: dict[tuple[str, str], _Group] = {}
        unresolved: list[AlertDraft] = []
        for line, draft in detections:
            target = self._resolver.resolve(draft.target)
            if not target.resolved:
                self._metrics.unresolved_targets.labels(draft.rule_name).inc()
                unresolved.append(draft)
            scope = scopes.get(draft.rule_name)
            if scope is not None:
                namespace_labels = (
                    self._namespaces.labels(target.namespace) if target.namespace else None
                )
                verdict = scope_verdict(scope, target, namespace_labels)
                if verdict is ScopeVerdict.OUT:
                    self._metrics.out_of_scope.labels(draft.rule_name).inc()
                    continue
                if verdict is ScopeVerdict.UNKNOWN:
                    outcome.warnings.append(
                        LineWarning(
                            line,
                            f"rule {draft.rule_name}: scope selectors could not be "
                            "checked (pod or namespace not known); alerting anyway",
                        )
                    )
            namespace = target.namespace or self._fallback_namespace
            if namespace is None:
                outcome.errors.append(
                    LineError(
                        line,
                        f"rule {draft.rule_name} matched, but the event's pod is "
                        f"unknown ({_describe_hint(draft.target)}) and it names no "
                        "namespace to record the Alert in",
                    )
                )
                continue
            if not target.resolved:
                outcome.warnings.append(
                    LineWarning(
                        line,
                        f"rule {draft.rule_name}: pod not found "
                        f"({_describe_hint(draft.target)}); Alert recorded with what the "
                        "event names",
                    )
                )
            group = groups.setdefault(
                (namespace, draft.alert_name), _Group(target=target, namespace=namespace)
            )
            group.drafts.append(draft)
            group.lines.append(line)
        if unresolved:
            # One line per batch: a flood of events from an unknown pod must not flood the log.
            log.warning(
                "%d detection(s) in a batch name a pod not in the pod index, e.g. rule %s (%s)",
                len(unresolved),
                unresolved[0].rule_name,
                _describe_hint(unresolved[0].target),
            )
        return list(groups.values())

    async def _write(self, group: _Group, outcome: BatchOutcome) -> str | None:
        occurrence = _occurrence(group)
        rule = occurrence.rule_name
        try:
            written = await self._sink.write(occurrence)
        except Exception as error:  # reported per line; the sender resends the batch
            log.error("cannot write Alert %s/%s: %s", occurrence.namespace, occurrence.name, error)
            self._metrics.alert_write_failures.labels(rule).inc()
            outcome.server_failure = True
            for line in group.lines:
                outcome.errors.append(
                    LineError(
                        line,
                        f"Alert {occurrence.namespace}/{occurrence.name} could not be written "
                        f"(resend the batch): {error}",
                    )
                )
            return None
        (
            self._metrics.alerts_created
            if written.result == "created"
            else self._metrics.alerts_updated
        ).labels(rule).inc()
        self._counter.record(rule, occurrence.count, occurrence.last_seen)
        return f"{occurrence.namespace}/{written.name}"


def _occurrence(group: _Group) -> AlertOccurrence:
    first = group.drafts[0]
    assert group.target is not None
    times = [_aware(draft.timestamp) for draft in group.drafts]
    events: list[Mapping[str, Any]] = []
    for draft in group.drafts:
        events.extend(draft.events[: MAX_ALERT_EVENTS - len(events)])
    return AlertOccurrence(
        name=first.alert_name,
        namespace=group.namespace,
        rule_name=first.rule_name,
        rule_id=first.rule_id or None,
        severity=first.severity,
        risk_score=first.risk_score,
        target=group.target,
        first_seen=min(times),
        last_seen=max(times),
        count=len(group.drafts),
        events=events,
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _describe_hint(hint: TargetHint) -> str:
    parts = []
    if hint.container_id:
        parts.append(f"container.id {hint.container_id[:12]}")
    if hint.namespace or hint.pod:
        parts.append(f"pod {hint.namespace or '?'}/{hint.pod or '?'}")
    return ", ".join(parts) or "no container id or pod name"
