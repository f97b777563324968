"""Building DetectionRules and events for detection tests."""

from __future__ import annotations

from typing import Any

from quarantine.api import DetectionRule, validate_object

FOUNDING_QUERY = """process where event.type == "start" and
  process.name in ("zip", "tar", "gzip", "hdiutil", "7z") and
  process.args like~ ("*/root/.ssh/*", "*/etc/shadow*") and container.id like "?*"
"""


def make_rule(name: str, query: str = FOUNDING_QUERY, **spec: Any) -> DetectionRule:
    """A DetectionRule from YAML-style (camelCase) spec fields, validated like `kubectl apply`."""
    manifest = {
        "apiVersion": "quarantine.io/v1alpha1",
        "kind": "DetectionRule",
        "metadata": {"name": name},
        "spec": {
            "query": query,
            "ruleId": f"id-{name}",
            "severity": "medium",
            "riskScore": 47,
            **spec,
        },
    }
    return validate_object(DetectionRule, manifest)


def process_event(
    name: str,
    *args: str,
    at: str = "2024-05-01T12:00:00Z",
    pod: str | None = "web-1",
    namespace: str | None = "shop",
    container: str = "containerd://" + "ab" * 32,
    **extra: Any,
) -> dict[str, Any]:
    """A canonical ECS process start in a pod."""
    event: dict[str, Any] = {
        "@timestamp": at,
        "event": {"category": ["process"], "type": ["start"], "action": "exec"},
        "process": {"name": name, "args": [name, *args], "executable": f"/usr/bin/{name}"},
        "container": {"id": container, "name": "app"},
        "host": {"os": {"type": "linux"}},
    }
    orchestrator: dict[str, Any] = {}
    if namespace is not None:
        orchestrator["namespace"] = namespace
    if pod is not None:
        orchestrator["resource"] = {"name": pod, "type": "pod"}
    if orchestrator:
        event["orchestrator"] = orchestrator
    event.update(extra)
    return event
