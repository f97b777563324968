"""Tetragon JSON export events: `process_exec` becomes an ECS process start."""

from __future__ import annotations

from typing import Any

from quarantine.events.args import basename, split_command_line, split_container_id
from quarantine.events.errors import EventFormatError, json_type_name
from quarantine.events.field_reads import FieldReads
from quarantine.events.typed_access import (
    optional_integer,
    optional_object,
    optional_text,
    required_object,
)

# Top-level keys of Tetragon's GetEventsResponse: exactly one names the event's kind.
TETRAGON_EVENT_KINDS = frozenset(
    {
        "process_exec",
        "process_exit",
        "process_kprobe",
        "process_tracepoint",
        "process_uprobe",
        "process_usdt",
        "process_lsm",
        "process_loader",
        "process_throttle",
        "rate_limit_info",
        "test",
    }
)

_EXEC_EVENT = {
    "kind": "event",
    "category": ["process"],
    "type": ["start"],
    "action": "exec",
    "module": "tetragon",
    "dataset": "tetragon.process_exec",
}


def normalise_tetragon(
    raw: Any, *, text: bytes | None = None, reads: FieldReads | None = None
) -> dict[str, Any] | None:
    """An ECS process-start event from a Tetragon `process_exec`; None for other kinds.

    `text` (the JSON `raw` was decoded from) and `reads` are accepted like every normaliser
    takes them, and not needed: the event is rebuilt field by field, in the canonical layout.

    Tetragon gives the arguments as one string without argv[0]; ECS `process.args` includes
    argv[0], for which the executable path is the best value Tetragon offers.
    """
    if type(raw) is not dict:
        raise EventFormatError(f"a Tetragon event must be a JSON object, not {json_type_name(raw)}")
    exec_event = raw.get("process_exec")
    if exec_event is None:
        if TETRAGON_EVENT_KINDS.intersection(raw):
            return None
        kinds = ", ".join(sorted(TETRAGON_EVENT_KINDS))
        raise EventFormatError(f"not a Tetragon event: no top-level key among {kinds}")
    if type(exec_event) is not dict:
        raise EventFormatError(
            f"must be an object, not {json_type_name(exec_event)}", path="process_exec"
        )
    process_json = required_object(exec_event, "process", "process_exec.process")
    process = _process_fields(process_json, "process_exec.process", require_binary=True)
    parent_json = optional_object(exec_event, "parent", "process_exec.parent")
    if parent_json is not None:
        process["parent"] = _process_fields(parent_json, "process_exec.parent")

    event: dict[str, Any] = {"event": dict(_EXEC_EVENT), "process": process}
    timestamp = optional_text(raw, "time", "time") or process.get("start")
    if timestamp is not None:
        event["@timestamp"] = timestamp
    if "user" in process:
        event["user"] = dict(process["user"])
    pod = optional_object(process_json, "pod", "process_exec.process.pod")
    if pod is not None:
        _add_pod_fields(event, pod, "process_exec.process.pod")
    node_name = optional_text(raw, "node_name", "node_name")
    host: dict[str, Any] = {"os": {"type": "linux"}}
    if node_name is not None:
        host["name"] = node_name
        host["hostname"] = node_name
    event["host"] = host
    return event


def _process_fields(
    source: dict[str, Any], path: str, *, require_binary: bool = False
) -> dict[str, Any]:
    process: dict[str, Any] = {}
    binary = optional_text(source, "binary", f"{path}.binary")
    if binary is None and require_binary:
        raise EventFormatError("is missing", path=f"{path}.binary")
    arguments = optional_text(source, "arguments", f"{path}.arguments") or ""
    if binary is not None:
        args = [binary, *split_command_line(arguments)]
        process["name"] = basename(binary)
        process["executable"] = binary
        process["args"] = args
        process["args_count"] = len(args)
        process["command_line"] = f"{binary} {arguments}" if arguments else binary
    for ecs_name, tetragon_name in (("entity_id", "exec_id"), ("working_directory", "cwd")):
        text = optional_text(source, tetragon_name, f"{path}.{tetragon_name}")
        if text is not None:
            process[ecs_name] = text
    start = optional_text(source, "start_time", f"{path}.start_time")
    if start is not None:
        process["start"] = start
    pid = optional_integer(source, "pid", f"{path}.pid")
    if pid is not None:
        process["pid"] = pid
    uid = optional_integer(source, "uid", f"{path}.uid")
    if uid is not None:
        process["user"] = {"id": str(uid)}
    return process


def _add_pod_fields(event: dict[str, Any], pod: dict[str, Any], path: str) -> None:
    namespace = optional_text(pod, "namespace", f"{path}.namespace")
    pod_name = optional_text(pod, "name", f"{path}.name")
    orchestrator: dict[str, Any] = {"type": "kubernetes"}
    if namespace is not None:
        orchestrator["namespace"] = namespace
    if pod_name is not None:
        orchestrator["resource"] = {"name": pod_name, "type": "pod"}
    event["orchestrator"] = orchestrator

    container_json = optional_object(pod, "container", f"{path}.container")
    if container_json is None:
        return
    container: dict[str, Any] = {}
    raw_id = optional_text(container_json, "id", f"{path}.container.id")
    if raw_id:
        runtime, bare_id = split_container_id(raw_id)
        container["id"] = bare_id
        if runtime is not None:
            container["runtime"] = runtime
    name = optional_text(container_json, "name", f"{path}.container.name")
    if name is not None:
        container["name"] = name
    image = optional_object(container_json, "image", f"{path}.container.image")
    image_name = optional_text(image, "name", f"{path}.container.image.name") if image else None
    if image_name is not None:
        container["image"] = {"name": image_name}
    if container:
        event["container"] = container
