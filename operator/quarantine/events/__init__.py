"""Container process events from Elastic Defend for Containers (ECS), Tetragon and Falco,
normalised to one canonical ECS layout (nested objects, no dotted keys)."""

from quarantine.events.args import split_command_line, strip_runtime_prefix
from quarantine.events.errors import EventFormatError
from quarantine.events.expansion import expand_dotted
from quarantine.events.field_reads import FieldReads
from quarantine.events.fields import field_strings, get_field, set_field
from quarantine.events.formats import (
    EVENT_FORMATS,
    FORMAT_CHOICES,
    BoundNormaliser,
    EventFormat,
    FormatChoice,
    bound_normaliser,
    detect_format,
    normalise,
    normaliser_for,
)
from quarantine.events.reader import (
    EventFileError,
    RecordedEvent,
    parse_event_bytes,
    read_event_file,
)
from quarantine.events.timestamps import parse_timestamp, to_datetime, to_rfc3339

__all__ = [
    "EVENT_FORMATS",
    "FORMAT_CHOICES",
    "BoundNormaliser",
    "EventFileError",
    "EventFormat",
    "EventFormatError",
    "FieldReads",
    "FormatChoice",
    "RecordedEvent",
    "bound_normaliser",
    "detect_format",
    "expand_dotted",
    "field_strings",
    "get_field",
    "normalise",
    "normaliser_for",
    "parse_event_bytes",
    "parse_timestamp",
    "read_event_file",
    "set_field",
    "split_command_line",
    "strip_runtime_prefix",
    "to_datetime",
    "to_rfc3339",
]
