"""The kopf admission handlers: rule validation and tamper protection.

Thin: each handler turns the admission request into a call to a pure check and a refusal into
`kopf.AdmissionError`. Importing this module registers them; `configure_admission` (in
`quarantine.admission.configure`) must run at operator startup to serve them.

No kopf `labels=` filters here on purpose: kopf would test them against the *new* object, so an
update that removes the quarantine label would skip the very handler meant to refuse it. The
API server's objectSelector (see `webhooks.py`) does the narrowing; it matches old or new.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import kopf

from quarantine.admission.rule_validation import describe_problems, find_rule_problems, spec_changed
from quarantine.admission.tamper import (
    Requester,
    TamperPolicy,
    check_network_policy_change,
    check_pod_update,
)
from quarantine.admission.webhooks import (
    NETWORK_POLICY_PROTECTION,
    POD_PROTECTION,
    RULE_VALIDATION,
    WebhookDefinition,
)

HTTP_UNPROCESSABLE = 422
HTTP_FORBIDDEN = 403


@dataclass
class AdmissionRuntime:
    """What the handlers need from startup; kopf offers no per-operator handler context for
    admission (memos are per object and thrown away on CREATE)."""

    tamper_policy: TamperPolicy | None = None


RUNTIME = AdmissionRuntime()


def use_tamper_policy(policy: TamperPolicy) -> None:
    RUNTIME.tamper_policy = policy


def _selector(definition: WebhookDefinition) -> dict[str, Any]:
    return {
        "group": definition.api_group,
        "version": definition.api_version,
        "plural": definition.resource,
        "id": definition.handler_id,
        "operations": list(definition.operations),
    }


@kopf.on.validate(**_selector(RULE_VALIDATION))
def validate_detection_rule(
    body: kopf.Body, name: str | None, old: kopf.Body | None = None, **_: Any
) -> None:
    """Refuse a DetectionRule whose spec does not fit the model or whose EQL does not compile."""
    if old is not None and not spec_changed(old, body):
        return
    problems = find_rule_problems(body)
    if problems:
        raise kopf.AdmissionError(describe_problems(name, problems), code=HTTP_UNPROCESSABLE)


@kopf.on.validate(**_selector(POD_PROTECTION))
def protect_quarantined_pod(
    userinfo: kopf.UserInfo,
    old: kopf.Body | None = None,
    new: kopf.Body | None = None,
    **_: Any,
) -> None:
    """Refuse label or Quarantine-annotation changes on a quarantined pod by anyone else."""
    policy = RUNTIME.tamper_policy
    if policy is None:
        return
    refusal = check_pod_update(old, new, Requester.from_userinfo(userinfo), policy)
    if refusal:
        raise kopf.AdmissionError(refusal, code=HTTP_FORBIDDEN)


@kopf.on.validate(**_selector(NETWORK_POLICY_PROTECTION))
def protect_quarantine_network_policy(
    userinfo: kopf.UserInfo,
    operation: str = "",
    old: kopf.Body | None = None,
    new: kopf.Body | None = None,
    **_: Any,
) -> None:
    """Refuse deleting or changing Quarantine's NetworkPolicies by anyone else."""
    policy = RUNTIME.tamper_policy
    if policy is None:
        return
    requester = Requester.from_userinfo(userinfo)
    refusal = check_network_policy_change(operation, old, new, requester, policy)
    if refusal:
        raise kopf.AdmissionError(refusal, code=HTTP_FORBIDDEN)
