"""The fields a reader of events looks at, and whether a dotted key can concern it.

A dotted key whose field lies outside every field a reader reads (neither inside one nor
holding one) reads the same expanded or not: `container.id` is `container.id` whether the
container object also holds `"image.name"` or an `image` object. The matcher's detector reads
only its rules' fields, so `expand_dotted(..., reads=)` may hand it such a document without
rebuilding anything; whatever shows or stores an event expands it first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

UnreadCheck = Callable[[dict[str, Any]], bool]
# `expander(document, text) -> expanded document`: see `quarantine.events.expansion.expander_for`.
Expander = Callable[[Any, bytes | None], dict[str, Any]]


class FieldReads:
    """Dotted field paths read by one consumer (e.g. a detector's rule set)."""

    def __init__(self, paths: Iterable[str]) -> None:
        self.paths = frozenset(paths)
        self._parts = [tuple(path.split(".")) for path in sorted(self.paths)]
        # Generated checks by dotted-key count, built from the expansion's remembered layouts
        # and emptied by it when those change (`quarantine.events.expansion`).
        self.unread_checks: dict[int, UnreadCheck] = {}
        # The expansion generated for this reader, with those checks inline (same module).
        self.expander: Expander | None = None

    def concerns(self, parts: tuple[str, ...]) -> bool:
        """Whether the field at `parts` is read, lies inside a read field, or holds one."""
        for read in self._parts:
            common = min(len(read), len(parts))
            if read[:common] == parts[:common]:
                return True
        return False
