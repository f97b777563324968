"""Falco JSON alerts: an alert raised on `execve` becomes an ECS process start."""

from __future__ import annotations

from typing import Any

from quarantine.events.args import basename, split_command_line
from quarantine.events.errors import EventFormatError, json_type_name
from quarantine.events.field_reads import FieldReads
from quarantine.events.fields import set_field
from quarantine.events.timestamps import to_rfc3339
from quarantine.events.typed_access import optional_text, required_object

_EXEC_SYSCALLS = frozenset({"execve", "execveat"})
# Falco prints `<NA>` for a field it could not fill, and `host` as the container of host processes.
_NOT_AVAILABLE = "<NA>"
_HOST_CONTAINER = "host"

_EXEC_EVENT = {
    "kind": "event",
    "category": ["process"],
    "type": ["start"],
    "action": "exec",
    "module": "falco",
}

# Output fields copied as they are: Falco name -> ECS path.
_TEXT_FIELDS = (
    ("proc.name", "process.name"),
    ("proc.cmdline", "process.command_line"),
    ("proc.cwd", "process.working_directory"),
    ("proc.pname", "process.parent.name"),
    ("proc.pcmdline", "process.parent.command_line"),
    ("user.name", "user.name"),
    ("group.name", "group.name"),
    ("container.name", "container.name"),
    ("container.image.repository", "container.image.name"),
    ("k8s.ns.name", "orchestrator.namespace"),
    ("k8s.pod.name", "orchestrator.resource.name"),
)
_NUMBER_FIELDS = (
    ("proc.pid", "process.pid"),
    ("proc.ppid", "process.parent.pid"),
)
_ID_FIELDS = (
    ("user.uid", "user.id"),
    ("group.gid", "group.id"),
)


def normalise_falco(
    raw: Any, *, text: bytes | None = None, reads: FieldReads | None = None
) -> dict[str, Any] | None:
    """An ECS process-start event from a Falco alert on an exec; None for any other alert.

    `text` (the JSON `raw` was decoded from) and `reads` are accepted like every normaliser
    takes them, and not needed: the event is rebuilt field by field, in the canonical layout.

    Falco reports rule hits, not process lifecycle; only an alert whose syscall (`evt.type`)
    is an exec says a process started, so only those are turned into process events.
    """
    if type(raw) is not dict:
        raise EventFormatError(f"a Falco alert must be a JSON object, not {json_type_name(raw)}")
    fields = required_object(raw, "output_fields", "output_fields")
    if _text(fields, "evt.type") not in _EXEC_SYSCALLS:
        return None

    event: dict[str, Any] = {"event": dict(_EXEC_EVENT)}
    alert_id = optional_text(raw, "uuid", "uuid")
    if alert_id:
        event["event"]["id"] = alert_id
    timestamp = _timestamp(raw, fields)
    if timestamp is not None:
        event["@timestamp"] = timestamp

    for falco_name, ecs_path in _TEXT_FIELDS:
        value = _text(fields, falco_name)
        if value is not None:
            set_field(event, ecs_path, value)
    for falco_name, ecs_path in _NUMBER_FIELDS:
        number = _integer(fields, falco_name)
        if number is not None:
            set_field(event, ecs_path, number)
    for falco_name, ecs_path in _ID_FIELDS:
        number = _integer(fields, falco_name)
        if number is not None:
            set_field(event, ecs_path, str(number))

    _add_process_paths(event, fields)
    _add_container(event, fields)
    if "orchestrator" in event:
        orchestrator = event["orchestrator"]
        orchestrator["type"] = "kubernetes"
        if "resource" in orchestrator:
            orchestrator["resource"]["type"] = "pod"
    if "user" in event:
        event["process"]["user"] = dict(event["user"])

    host: dict[str, Any] = {"os": {"type": "linux"}}
    hostname = optional_text(raw, "hostname", "hostname")
    if hostname:
        host["hostname"] = hostname
        host["name"] = hostname
    event["host"] = host
    _add_falco_context(event, raw)
    return event


def _add_process_paths(event: dict[str, Any], fields: dict[str, Any]) -> None:
    process: dict[str, Any] = event.setdefault("process", {})
    executable = _text(fields, "proc.exepath") or _absolute(_text(fields, "proc.exe"))
    if executable is not None:
        process["executable"] = executable
        process.setdefault("name", basename(executable))
    args = _arguments(fields)
    if args:
        process["args"] = args
        process["args_count"] = len(args)
    parent_executable = _text(fields, "proc.pexepath") or _absolute(_text(fields, "proc.pexe"))
    if parent_executable is not None:
        set_field(event, "process.parent.executable", parent_executable)
    parent_command_line = _text(fields, "proc.pcmdline")
    if parent_command_line is not None:
        set_field(event, "process.parent.args", split_command_line(parent_command_line))
    tty = _integer(fields, "proc.tty")
    if tty is not None:
        # A controlling terminal is what ECS `process.interactive` means.
        process["interactive"] = tty != 0


def _arguments(fields: dict[str, Any]) -> list[str]:
    """argv as ECS wants it, argv[0] included.

    `proc.args` (when present) holds the arguments alone, so argv[0] comes from `proc.exe`;
    otherwise `proc.cmdline` is "<name> <args...>".
    """
    args_only = _text(fields, "proc.args")
    if args_only is not None:
        first = _text(fields, "proc.exe") or _text(fields, "proc.name")
        rest = split_command_line(args_only)
        return [first, *rest] if first else rest
    command_line = _text(fields, "proc.cmdline")
    return split_command_line(command_line) if command_line else []


def _add_container(event: dict[str, Any], fields: dict[str, Any]) -> None:
    container_id = _text(fields, "container.full_id") or _text(fields, "container.id")
    if container_id is None or container_id == _HOST_CONTAINER:
        event.pop("container", None)
        return
    set_field(event, "container.id", container_id)
    tag = _text(fields, "container.image.tag")
    if tag is not None:
        set_field(event, "container.image.tag", [tag])
    privileged = fields.get("container.privileged")
    if isinstance(privileged, bool):
        set_field(event, "container.security_context.privileged", privileged)


def _add_falco_context(event: dict[str, Any], raw: dict[str, Any]) -> None:
    context: dict[str, Any] = {}
    for key in ("rule", "priority", "source"):
        value = optional_text(raw, key, key)
        if value is not None:
            context[key] = value
    tags = raw.get("tags")
    if isinstance(tags, list):
        context["tags"] = [tag for tag in tags if isinstance(tag, str)]
    if context:
        event["falco"] = context


def _timestamp(raw: dict[str, Any], fields: dict[str, Any]) -> str | None:
    """The alert's time: top-level `time`, else `evt.time*` (text, or epoch nanoseconds)."""
    text = optional_text(raw, "time", "time")
    if text:
        return text
    for key in ("evt.time.iso8601", "evt.time"):
        value = fields.get(key)
        if isinstance(value, str) and value:
            return value
        if type(value) is int:
            return to_rfc3339(value / 1e9)
    return None


def _text(fields: dict[str, Any], key: str) -> str | None:
    value = fields.get(key)
    if value is None:
        return None
    if type(value) is not str:
        raise EventFormatError(
            f"must be a string, not {json_type_name(value)}", path=f"output_fields.{key}"
        )
    return None if value in ("", _NOT_AVAILABLE) else value


def _integer(fields: dict[str, Any], key: str) -> int | None:
    value = fields.get(key)
    if value is None or value == _NOT_AVAILABLE:
        return None
    if type(value) is int:
        return value
    if type(value) is str and value.lstrip("-").isdigit():
        return int(value)
    raise EventFormatError(
        f"must be an integer, not {json_type_name(value)}", path=f"output_fields.{key}"
    )


def _absolute(path: str | None) -> str | None:
    return path if path is not None and path.startswith("/") else None
