"""Turns an ExternalAlert into an Alert in the cluster: find the pod, take the playbook rule,
check the pod is in that rule's scope, and write through the matcher's own AlertWriter
(create, or count a resend)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from kubernetes import client
from pydantic import ValidationError

from quarantine.api.detection_rule import RuleScope
from quarantine.detect.scope import ScopeCheck
from quarantine.detect.trim import trim_event
from quarantine.ingest.external_alerts import ExternalAlert, ExternalAlertError
from quarantine.k8s.alert_manifest import AlertOccurrence
from quarantine.k8s.alert_writer import AlertWriter
from quarantine.k8s.raw import ApiError, request_json
from quarantine.k8s.rule_status import AlertCounter
from quarantine.k8s.scope import NamespaceLabels, ScopeVerdict, scope_verdict
from quarantine.k8s.targets import ResolvedTarget, TargetHint

DETECTION_RULES = "/apis/quarantine.io/v1alpha1/detectionrules"
# DetectionRules are cluster-scoped objects, so their names are DNS-1123 subdomains.
_RULE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_RULE_NAME_LIMIT = 253


def check_rule_name(name: str) -> str:
    """`name` if it can name a DetectionRule; otherwise a ValueError saying why not."""
    if len(name) > _RULE_NAME_LIMIT or not _RULE_NAME.match(name):
        raise ValueError(
            f"{name!r} cannot name a DetectionRule: use lowercase letters, digits, '-' and '.', "
            f"starting and ending with a letter or digit, at most {_RULE_NAME_LIMIT} characters"
        )
    return name


class PlaybookRuleMissing(LookupError):
    """The DetectionRule that should provide the playbook does not exist."""


class OutsideRuleScope(Exception):
    """The alert's pod is outside the playbook rule's scope: no Alert, by the rule's own terms."""


class TargetResolving(Protocol):
    def resolve(self, hint: TargetHint) -> ResolvedTarget: ...


@dataclass(frozen=True)
class _PlaybookRule:
    rule_id: str | None
    scope: ScopeCheck


@dataclass(frozen=True)
class Recorded:
    """An Alert written for one external alert."""

    namespace: str
    name: str
    result: Literal["created", "updated"]
    warning: str | None = None


class AlertRecording(Protocol):
    """What the intake routes need: the playbook rule's id, and writing one alert."""

    def playbook_rule_id(self, rule_name: str) -> str | None: ...

    def record(self, alert: ExternalAlert, playbook_rule: str) -> Recorded: ...


class ExternalAlertRecorder:
    """Creates (or, for a resent alert, counts again) the Alert for an ExternalAlert.

    Blocking client calls; the routes run them in threads. Write failures surface as
    `AlertWriteError`, whose `retryable` says whether the sender should try again. With a
    `counter`, each write also adds to the playbook rule's `status.alertCount`.
    """

    def __init__(
        self,
        api: client.ApiClient,
        resolver: TargetResolving,
        *,
        writer: AlertWriter | None = None,
        counter: AlertCounter | None = None,
        namespaces: NamespaceLabels | None = None,
        watched_rules: Callable[[str], Mapping[str, Any] | None] | None = None,
        rule_cache_seconds: float = 30.0,
    ) -> None:
        self._api = api
        self._resolver = resolver
        self._writer = writer or AlertWriter(api)
        self._counter = counter
        self._namespaces = namespaces
        self._watched_rules = watched_rules
        self._rule_cache_seconds = rule_cache_seconds
        self._rules: dict[str, tuple[float, _PlaybookRule]] = {}

    def playbook_rule_id(self, rule_name: str) -> str | None:
        """The ruleId of DetectionRule `rule_name`; PlaybookRuleMissing when there is none."""
        return self._playbook_rule(rule_name).rule_id

    def _playbook_rule(self, rule_name: str) -> _PlaybookRule:
        """The rule's id and scope: as the matcher's watch of DetectionRules has it, so a
        change applies at once; a rule the watch has not seen (yet) is read from the API
        server, and that answer kept for `rule_cache_seconds`."""
        watched = self._watched_rules(rule_name) if self._watched_rules is not None else None
        if watched is not None:
            return _read_playbook_rule(rule_name, watched)
        cached = self._rules.get(rule_name)
        if cached and time.monotonic() - cached[0] < self._rule_cache_seconds:
            return cached[1]
        try:
            rule = request_json(self._api, "GET", f"{DETECTION_RULES}/{rule_name}")
        except ApiError as error:
            if error.status == 404:
                raise PlaybookRuleMissing(rule_name) from None
            raise
        found = _read_playbook_rule(rule_name, rule)
        self._rules[rule_name] = (time.monotonic(), found)
        return found

    def record(self, alert: ExternalAlert, playbook_rule: str) -> Recorded:
        rule = self._playbook_rule(playbook_rule)
        fallback_rule_id = rule.rule_id
        target = self._resolver.resolve(alert)
        if not target.namespace:
            raise ExternalAlertError(
                f"container {alert.container_id} is not running in any known pod, and the alert "
                "names no namespace and pod"
            )
        namespace_labels = (
            self._namespaces.labels(target.namespace) if self._namespaces is not None else None
        )
        verdict = scope_verdict(rule.scope, target, namespace_labels)
        if verdict is ScopeVerdict.OUT:
            raise OutsideRuleScope(
                f"pod {target.namespace}/{target.pod} is outside the scope of DetectionRule "
                f"{playbook_rule!r}: no Alert"
            )
        occurrence = AlertOccurrence(
            name=alert.alert_name,
            namespace=target.namespace,
            rule_name=playbook_rule,
            rule_id=alert.rule_id or fallback_rule_id,
            severity=alert.severity,
            risk_score=alert.risk_score,
            target=target,
            first_seen=alert.timestamp,
            last_seen=alert.timestamp,
            count=1,
            events=[trim_event(alert.document)],
            source=alert.source,
        )
        written = self._writer.write(occurrence)
        if self._counter is not None:
            # The playbook rule's alertCount sums the counts of the Alerts that name it.
            self._counter.record(playbook_rule, occurrence.count, occurrence.last_seen)
        warnings = []
        if not target.resolved:
            warnings.append(
                f"pod {target.namespace}/{target.pod} is not known (yet); Alert written as named"
            )
        if verdict is ScopeVerdict.UNKNOWN:
            warnings.append(
                f"the scope of DetectionRule {playbook_rule!r} could not be checked (pod or "
                "namespace not known); alerting anyway"
            )
        warning = "; ".join(warnings) or None
        return Recorded(target.namespace, written.name, written.result, warning)


def _read_playbook_rule(rule_name: str, rule: Mapping[str, Any]) -> _PlaybookRule:
    """The id and scope of a DetectionRule object."""
    spec = rule.get("spec") or {}
    try:
        scope = RuleScope.model_validate(spec["scope"]) if spec.get("scope") else None
    except ValidationError as error:
        raise ExternalAlertError(
            f"DetectionRule {rule_name!r} has a scope that cannot be read: {error}"
        ) from None
    return _PlaybookRule(spec.get("ruleId"), ScopeCheck.from_scope(scope))
