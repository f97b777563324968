"""Counting the dotted keys of a JSON document in its text, without visiting its objects.

A regular expression scans bytes in C far faster than Python walks dictionaries. In JSON a key
is a string followed (after optional whitespace) by `:`, and a string value never is; from a
dot inside a key, the patterns run over the rest of the key to that `:`, so every dotted key
gives exactly one match. A dot outside strings (in a number) can give a spurious match when
the next string starts with `:`; that only makes a count too high, never too low, which is
what the callers rely on.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

# Exact for text without backslashes: no quote inside a string can be escaped.
_PLAIN = re.compile(rb'\.[^"]*+"[ \t\n\r]*+:()')
# Reads two-byte escapes (`\"`, `\\`) so an escaped quote does not end the key early.
_WITH_ESCAPES = re.compile(rb'\.[^"\\]*+(?:\\.[^"\\]*+)*+"[ \t\n\r]*+:()', re.DOTALL)
# The only escapes that decode to a dot; a scan for raw dots cannot see them.
_ESCAPED_DOT = re.compile(rb"\\u002[eE]")
_BACKSLASH = ord("\\")


def serialised(node: dict[str, Any]) -> bytes | None:
    """`node` as compact JSON, or None when it holds something JSON cannot encode (an integer
    beyond 64 bits, a Python object)."""
    try:
        return orjson.dumps(node)
    except TypeError:
        return None


def serialised_has_dotted_key(text: bytes) -> bool:
    """Whether a key at any depth of this orjson output holds a dot (a spurious yes is
    possible, see the module docstring; a wrong no is not)."""
    return _pattern_for(text).search(text) is not None


def dotted_keys_in_serialised(text: bytes) -> int:
    """At least the number of dotted keys in this orjson output (orjson writes a dot only as
    itself, so its `\\u` escapes hide none)."""
    return len(_pattern_for(text).findall(text))


# For the caller's hot path, one bound method: `len(find_plain_dotted_keys(text))` is at least
# the number of dotted keys in JSON text that holds no backslash.
find_plain_dotted_keys = _PLAIN.findall


def dotted_keys_in_json_text(text: bytes) -> int | None:
    """At least the number of dotted keys in any JSON text (whitespace between tokens, escapes
    in keys); None when the text may write a dot as `\\u002e`, which this scan cannot count."""
    if _BACKSLASH not in text:
        return len(find_plain_dotted_keys(text))
    if b"\\u" in text and _ESCAPED_DOT.search(text) is not None:
        return None
    return len(_WITH_ESCAPES.findall(text))


def _pattern_for(text: bytes) -> re.Pattern[bytes]:
    return _WITH_ESCAPES if _BACKSLASH in text else _PLAIN
