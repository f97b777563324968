"""Which pod an event is about, as far as the event itself can tell."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from quarantine.events.args import strip_runtime_prefix
from quarantine.events.fields import get_field


@dataclass(frozen=True)
class TargetHint:
    """What the event says about its pod; the matcher resolves it to a real pod.

    Either `namespace` and `pod` name the pod directly (`orchestrator.namespace` and
    `orchestrator.resource.name`), or `container_id` (no runtime prefix; Falco may give only
    the 12-character short id) identifies it through the pods' container statuses.
    """

    namespace: str | None = None
    pod: str | None = None
    container_id: str | None = None
    container_name: str | None = None

    @property
    def names_pod(self) -> bool:
        """Whether namespace and pod name are both known, so no lookup by container is needed."""
        return bool(self.namespace and self.pod)

    @property
    def is_empty(self) -> bool:
        """Whether the event says nothing about a pod (a host process, say)."""
        return not (self.namespace or self.pod or self.container_id)


def target_hint(event: dict[str, Any]) -> TargetHint:
    """The target hint of a canonical ECS event."""
    resource_type = _text(get_field(event, "orchestrator.resource.type"))
    pod = _text(get_field(event, "orchestrator.resource.name"))
    if resource_type is not None and resource_type.lower() != "pod":
        # orchestrator.resource.name names a pod only when the resource is one.
        pod = None
    container_id = _text(get_field(event, "container.id"))
    return TargetHint(
        namespace=_text(get_field(event, "orchestrator.namespace")),
        pod=pod,
        container_id=strip_runtime_prefix(container_id) if container_id else None,
        container_name=_text(get_field(event, "container.name")),
    )


def _text(value: Any) -> str | None:
    if type(value) is list:
        value = value[0] if value else None
    if value is None or value == "":
        return None
    return str(value)
