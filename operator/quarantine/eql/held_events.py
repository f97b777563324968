"""Events a waiting sequence holds, kept as compact JSON.

A partial match may wait up to its `maxspan` for the next stage, and busy first stages keep
thousands waiting (every `curl` in a container, for one Elastic rule). Held as dictionaries,
each is a tree of some thirty objects that the garbage collector walks again and again and
that fill the CPU caches; held as the bytes orjson writes, each is one object the collector
never looks at, in about an eighth of the memory. An event is decoded again only when its
sequence completes.

Plain dicts are packed; what orjson refuses (a dict subclass, a key that is not a string, an
integer beyond 64 bits) is held as it is. Decoded JSON and the normalisers' events come back
equal; of other Python values, a tuple comes back as a list, and NaN or an infinity (which
JSON cannot write) as null.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

# Subclasses and dataclasses raise instead of being written as plain JSON, so they are held
# as they are (a subclass may carry more than its items, like the detector's retimed copy).
_STRICT = orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATACLASS
_STRICT |= orjson.OPT_PASSTHROUGH_DATETIME


def hold(event: Mapping[str, Any]) -> Any:
    """What a partial keeps of `event`: its JSON bytes, or the event itself."""
    if type(event) is not dict:
        return event
    try:
        return orjson.dumps(event, option=_STRICT)
    except TypeError:
        return event


def release(held: Any) -> Any:
    """The event a partial kept (decoded again when it was packed)."""
    return orjson.loads(held) if type(held) is bytes else held
