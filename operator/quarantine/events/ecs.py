"""ECS documents (Elastic Defend for Containers and anything already in ECS)."""

from __future__ import annotations

from typing import Any

from quarantine.events.errors import EventFormatError, json_type_name
from quarantine.events.expansion import expand_dotted
from quarantine.events.field_reads import FieldReads


def normalise_ecs(
    raw: Any, *, text: bytes | None = None, reads: FieldReads | None = None
) -> dict[str, Any]:
    """The canonical form of an ECS document: the same fields, dotted keys expanded.

    Every ECS document is kept (rules exist for file and network events too); which ones a
    rule looks at is the rule's business. `text`, the JSON `raw` was decoded from (`raw ==
    orjson.loads(text)`), makes this cheaper; so does `reads`, the fields the caller reads,
    which lets dotted keys outside them stay as they are (see `expand_dotted`).
    """
    if type(raw) is not dict:
        raise EventFormatError(f"an ECS event must be a JSON object, not {json_type_name(raw)}")
    return expand_dotted(raw, text=text, reads=reads)
