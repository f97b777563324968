"""The admission webhooks Quarantine serves, and the ValidatingWebhookConfiguration that names them.

One definition feeds both the configuration the operator registers itself (local runs) and the
checks on the chart's templates/webhook.yaml, so the two cannot drift apart. The handler id is
also the URL path segment: kopf routes `/<id>` to the handler registered under that id.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from quarantine.api.base import API_GROUP, API_VERSION
from quarantine.respond.naming import ISOLATED_POD_LABEL, MANAGED_BY, MANAGED_BY_LABEL

FailurePolicy = Literal["Fail", "Ignore"]

# Kubernetes' own admission configuration name for a locally registered webhook.
DEFAULT_CONFIGURATION_NAME = "quarantine.io"


@dataclass(frozen=True)
class WebhookDefinition:
    """One webhook entry: which requests the API server sends to which handler, and on failure
    whether it refuses the request (Fail) or lets it through (Ignore)."""

    handler_id: str
    api_group: str
    api_version: str
    resource: str
    operations: tuple[str, ...]
    failure_policy: FailurePolicy
    timeout_seconds: int
    object_selector: Mapping[str, Any] | None = None

    def entry(self, client_config: Mapping[str, Any], *, suffix: str) -> dict[str, Any]:
        """The `webhooks[]` item for this definition, reaching the server via `client_config`."""
        entry: dict[str, Any] = {
            "name": f"{self.handler_id}.{suffix}",
            "admissionReviewVersions": ["v1"],
            "sideEffects": "None",
            "failurePolicy": self.failure_policy,
            "matchPolicy": "Equivalent",
            "timeoutSeconds": self.timeout_seconds,
            "rules": [
                {
                    "apiGroups": [self.api_group],
                    "apiVersions": [self.api_version],
                    "resources": [self.resource],
                    "operations": list(self.operations),
                    "scope": "*",
                }
            ],
            "clientConfig": with_path(client_config, self.handler_id),
        }
        if self.object_selector is not None:
            entry["objectSelector"] = dict(self.object_selector)
        return entry


# A bad rule must never be stored, so an unreachable webhook refuses rule writes (Fail).
RULE_VALIDATION = WebhookDefinition(
    handler_id="validate-detectionrule",
    api_group=API_GROUP,
    api_version=API_VERSION,
    resource="detectionrules",
    operations=("CREATE", "UPDATE"),
    failure_policy="Fail",
    timeout_seconds=10,
)

# The tamper hooks see pods and NetworkPolicies, objects the whole cluster depends on: if the
# operator is down they must not block anything (Ignore), and they only ever see quarantined
# pods and Quarantine's own policies (objectSelector), updates only for pods.
POD_PROTECTION = WebhookDefinition(
    handler_id="protect-quarantined-pod",
    api_group="",
    api_version="v1",
    resource="pods",
    operations=("UPDATE",),
    failure_policy="Ignore",
    timeout_seconds=5,
    object_selector={"matchExpressions": [{"key": ISOLATED_POD_LABEL, "operator": "Exists"}]},
)

NETWORK_POLICY_PROTECTION = WebhookDefinition(
    handler_id="protect-quarantine-networkpolicy",
    api_group="networking.k8s.io",
    api_version="v1",
    resource="networkpolicies",
    operations=("UPDATE", "DELETE"),
    failure_policy="Ignore",
    timeout_seconds=5,
    object_selector={"matchLabels": {MANAGED_BY_LABEL: MANAGED_BY}},
)

ALL_WEBHOOKS: tuple[WebhookDefinition, ...] = (
    RULE_VALIDATION,
    POD_PROTECTION,
    NETWORK_POLICY_PROTECTION,
)


def with_path(client_config: Mapping[str, Any], handler_id: str) -> dict[str, Any]:
    """`client_config` pointing at `<url or service path>/<handler_id>`."""
    config = {key: value for key, value in client_config.items() if key in ("url", "caBundle")}
    if "url" in client_config:
        config["url"] = f"{str(client_config['url']).rstrip('/')}/{handler_id}"
    service = client_config.get("service")
    if isinstance(service, Mapping):
        base = str(service.get("path") or "").rstrip("/")
        config["service"] = {**service, "path": f"{base}/{handler_id}"}
    if "url" not in config and "service" not in config:
        raise ValueError("a webhook client config needs a url or a service")
    return config


def webhook_configuration(
    name: str,
    client_config: Mapping[str, Any],
    definitions: Iterable[WebhookDefinition] = ALL_WEBHOOKS,
) -> dict[str, Any]:
    """The whole ValidatingWebhookConfiguration object."""
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {
            "name": name,
            "labels": {"app.kubernetes.io/managed-by": MANAGED_BY},
        },
        "webhooks": [definition.entry(client_config, suffix=name) for definition in definitions],
    }
