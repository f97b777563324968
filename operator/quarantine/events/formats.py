"""Choosing a normaliser: by name, or by recognising the shape of the event."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, Protocol, get_args

from quarantine.events.ecs import normalise_ecs
from quarantine.events.errors import EventFormatError, json_type_name
from quarantine.events.expansion import expander_for
from quarantine.events.falco import normalise_falco
from quarantine.events.field_reads import FieldReads
from quarantine.events.tetragon import TETRAGON_EVENT_KINDS, normalise_tetragon

EventFormat = Literal["ecs", "tetragon", "falco"]
FormatChoice = Literal["ecs", "tetragon", "falco", "auto"]
EVENT_FORMATS: tuple[str, ...] = get_args(EventFormat)
FORMAT_CHOICES: tuple[str, ...] = get_args(FormatChoice)


class Normaliser(Protocol):
    """`raw` (a decoded event) in the canonical ECS layout, or None when the rules do not care
    about it. `text`, when given, must be the JSON `raw` was decoded from (`raw ==
    orjson.loads(text)`); a normaliser may use it to work faster. `reads`, when given, names
    the only fields the caller reads before expanding the event again for show or storage
    (`expand_dotted`): dotted keys outside them may be left as they are."""

    def __call__(
        self, raw: Any, /, *, text: bytes | None = None, reads: FieldReads | None = None
    ) -> dict[str, Any] | None: ...


# `(raw, text) -> canonical event or None`: a normaliser with the caller's `reads` bound.
BoundNormaliser = Callable[[Any, bytes | None], dict[str, Any] | None]

NORMALISERS: dict[str, Normaliser] = {
    "ecs": normalise_ecs,
    "tetragon": normalise_tetragon,
    "falco": normalise_falco,
}


def detect_format(raw: Any) -> EventFormat:
    """Which source wrote `raw`: Tetragon (a `process_*` top-level key), Falco (`rule` and
    `output_fields`), otherwise ECS."""
    if type(raw) is not dict:
        raise EventFormatError(f"an event must be a JSON object, not {json_type_name(raw)}")
    if "output_fields" in raw and "rule" in raw:
        return "falco"
    if "@timestamp" not in raw and TETRAGON_EVENT_KINDS.intersection(raw):
        return "tetragon"
    return "ecs"


def normalise(
    raw: Any,
    fmt: FormatChoice = "auto",
    *,
    text: bytes | None = None,
    reads: FieldReads | None = None,
) -> dict[str, Any] | None:
    """`raw` in the canonical ECS layout, or None when it is not an event the rules care about
    (a Tetragon event other than `process_exec`, a Falco alert on another syscall). `text`,
    when given, must be the JSON `raw` was decoded from (`raw == orjson.loads(text)`): it
    spares the ECS normaliser serialising the document again. For `reads` see `Normaliser`."""
    chosen = detect_format(raw) if fmt == "auto" else fmt
    normaliser = NORMALISERS.get(chosen)
    if normaliser is None:
        raise EventFormatError(
            f"unknown event format {fmt!r}; expected one of {', '.join(FORMAT_CHOICES)}"
        )
    return normaliser(raw, text=text, reads=reads)


def normaliser_for(fmt: FormatChoice) -> Normaliser:
    """The normalising function for `fmt`, resolved once (for hot loops); it takes the same
    optional `text` as `normalise`."""
    if fmt == "auto":
        return normalise
    normaliser = NORMALISERS.get(fmt)
    if normaliser is None:
        raise EventFormatError(
            f"unknown event format {fmt!r}; expected one of {', '.join(FORMAT_CHOICES)}"
        )
    return normaliser


def bound_normaliser(fmt: FormatChoice, reads: FieldReads) -> BoundNormaliser:
    """`normaliser_for(fmt)` with `reads` bound, called `(raw, text)`: for ECS the reader's
    generated expansion (`expansion.expander_for`), the matcher's hot path. That one has the
    layouts that recurred before it was resolved written in, so resolve it again per batch of
    events."""
    if fmt == "ecs":
        return expander_for(reads)
    normaliser = normaliser_for(fmt)

    def bound(raw: Any, text: bytes | None) -> dict[str, Any] | None:
        return normaliser(raw, text=text, reads=reads)

    return bound
