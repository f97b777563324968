"""Dotted keys expanded into nested objects: the canonical layout of every event.

ECS documents may write a field as `{"container": {"image.name": "x"}}` or
`{"process.name": "sh"}`; Elastic Defend for Containers does. This runs on every event, so it
avoids visiting objects in Python where it can:

- Scanning the JSON text in C tells whether any key holds a dot, at a fraction of the cost of
  walking the objects; most documents stop there. The text is the line the caller decoded
  when it has one, otherwise the document serialised again.
- Documents from one source have one layout. The top-level objects that held dotted keys in
  the last document of the same top-level shape are remembered; when the dotted keys counted
  in the text are exactly those objects' own, only they are rebuilt. A layout that recurs
  gets a generated recipe (`layout_recipes`) that rebuilds it without the general machinery.
- Any other document takes the general walk (`dotted_key_walk`).
"""

from __future__ import annotations

import weakref
from typing import Any, NamedTuple

from quarantine.events.dotted_key_scan import (
    dotted_keys_in_json_text,
    dotted_keys_in_serialised,
    find_plain_dotted_keys,
    serialised,
)
from quarantine.events.dotted_key_walk import (
    expanded_everywhere,
    has_dotted_key,
    rebuilt_with_nesting,
)
from quarantine.events.errors import EventFormatError, json_type_name
from quarantine.events.field_reads import Expander, FieldReads, UnreadCheck
from quarantine.events.layout_recipes import (
    KeyLayout,
    Recipe,
    Recurrences,
    can_have_recipe,
    compile_layout_check,
    compile_recipe,
    dotted_key_paths,
    layout_check_lines,
)


class _Layout(NamedTuple):
    """Which objects of a document hold dotted keys of their own."""

    holders: tuple[str, ...]  # top-level keys whose values are such objects
    top_level: bool  # the document itself


# Layouts remembered (by top-level keys); beyond this the memory starts over.
_LAYOUT_LIMIT = 256
_layouts: dict[tuple[str, ...], _Layout] = {}
# Recipes by the number of dotted keys their layouts hold (known before anything else about
# the document), each covering a few layouts.
_LAYOUTS_PER_RECIPE = 8
_recipes: dict[int, Recipe] = {}
_recipe_layouts: dict[int, list[KeyLayout]] = {}
# The readers holding unread checks, which are built from the layouts with recipes: emptied
# whenever those change.
_readers_with_checks: weakref.WeakSet[FieldReads] = weakref.WeakSet()
# A layout gets a recipe once it has been expanded the slow way this many times.
_recurrences = Recurrences(times=3, limit=4 * _LAYOUT_LIMIT)
_BACKSLASH = ord("\\")


def expand_dotted(
    document: Any, *, text: bytes | None = None, reads: FieldReads | None = None
) -> dict[str, Any]:
    """The canonical form of an ECS document: dotted keys become nested objects.

    Objects without dotted keys anywhere below them are kept as they are, not copied; only
    the objects on the way to a dotted key are rebuilt, and the input is never written to.
    Objects inside arrays are expanded too. A key that is both a value and an object
    (``{"a": 1, "a.b": 2}``) is refused, naming the key, and so is a document that is not an
    object.

    `text`, when given, must be the JSON text `document` was decoded from (`document ==
    orjson.loads(text)`): it is scanned for dotted keys instead of serialising the document
    again. Any JSON layout is read (whitespace, escapes); text that may write a dot as an
    escape is set aside and the document serialised. The result is the same either way.

    `reads`, when given, names the fields the caller will read: a document of a recurring
    layout whose dotted keys all lie outside them is returned as it is (`FieldReads`), and the
    caller must expand it (without `reads`) before showing or storing it.
    """
    # The common cases inline: every call costs on the matcher's path.
    if type(document) is not dict:
        raise EventFormatError(
            f"an ECS event must be a JSON object, not {json_type_name(document)}"
        )
    if text is not None and _BACKSLASH not in text:
        count: int | None = len(find_plain_dotted_keys(text))
    else:
        count = _dotted_key_count(document, text)
    if count == 0:
        return document
    return _expanded_with_count(document, count, reads)


def _expanded_with_count(
    document: dict[str, Any], count: int | None, reads: FieldReads | None
) -> dict[str, Any]:
    """`expand_dotted` once the dotted keys are counted (at least `count` of them, at least
    one; None when the document is not plain JSON data)."""
    if count is None:  # not plain JSON data (a huge integer, a Python object)
        return _expanded_generally(document)
    if reads is not None:
        check = reads.unread_checks.get(count)
        if check is None:
            check = _unread_check(count, reads)
        if check(document):
            return document
    recipe = _recipes.get(count)
    if recipe is not None:
        expanded = recipe(document)
        if expanded is not None:
            return expanded
    shape = tuple(document)
    layout = _layouts.get(shape)
    if layout is not None and _own_dotted_keys(document, layout) == count:
        expanded = _expanded_holders(document, layout)
    else:
        expanded = _expanded_generally(document)
        layout = _remember_layout(shape, document)
        if _own_dotted_keys(document, layout) != count:
            return expanded  # dotted keys deeper down: no recipe covers this document
    _learn_recipe(shape, document, layout)
    return expanded


def _unread_check(count: int, reads: FieldReads) -> UnreadCheck:
    """`reads`' check (built now, and kept until the layouts with recipes change) of whether
    a document with `count` dotted keys has a recurring layout (one with a recipe) whose
    dotted keys all lie outside the fields `reads` names."""
    unread = _unread_layouts(count, reads)
    check = reads.unread_checks[count] = compile_layout_check(unread) if unread else _never
    _readers_with_checks.add(reads)
    return check


def _unread_layouts(count: int, reads: FieldReads) -> list[KeyLayout]:
    """The layouts with recipes and `count` dotted keys that lie outside `reads`' fields."""
    return [
        layout
        for layout in _recipe_layouts.get(count, ())
        if not any(reads.concerns(path) for path in dotted_key_paths(layout))
    ]


def expander_for(reads: FieldReads) -> Expander:
    """`expand_dotted(document, text=text, reads=reads)` as one positional call, for the
    matcher's hot path: for plain JSON text (no backslash) the scan, and the checks of the
    recurring layouts whose dotted keys `reads` does not read, are written inline, saving the
    calls and lookups `expand_dotted` makes; anything else is handed to it.

    The function is kept on `reads` until the layouts with recipes change. One held across
    such a change still answers exactly as `expand_dotted` does (a layout it does not know
    goes there), only more slowly for the newer layouts: resolve it again per batch."""
    expander = reads.expander
    if expander is None:
        expander = reads.expander = _generated_expander(reads)
        _readers_with_checks.add(reads)
    return expander


def _generated_expander(reads: FieldReads) -> Expander:
    lines = [
        "def expand(document, text):",
        "    if text is not None and type(document) is dict and BACKSLASH not in text:",
        "        count = len(find_plain_dotted_keys(text))",
        "        if not count:",
        "            return document",
    ]
    for count in sorted(_recipe_layouts):
        unread = _unread_layouts(count, reads)
        if unread:
            checks = layout_check_lines(unread, "return document")
            lines += [f"        if count == {count}:", *("        " + line for line in checks)]
    lines += [
        "        return expanded_with_count(document, count, reads)",
        "    return expand_dotted(document, text=text, reads=reads)",
    ]
    namespace: dict[str, Any] = {
        "BACKSLASH": _BACKSLASH,
        "find_plain_dotted_keys": find_plain_dotted_keys,
        "expanded_with_count": _expanded_with_count,
        "expand_dotted": expand_dotted,
        "reads": reads,
    }
    exec(compile("\n".join(lines) + "\n", "<reader expansion>", "exec"), namespace)
    expander: Expander = namespace["expand"]
    return expander


def _never(document: dict[str, Any]) -> bool:
    return False


def _forget_unread_checks() -> None:
    """After the layouts with recipes changed: every reader's checks are out of date."""
    for reads in list(_readers_with_checks):
        reads.unread_checks.clear()
        reads.expander = None


def _dotted_key_count(document: dict[str, Any], text: bytes | None) -> int | None:
    """At least the number of dotted keys in the document; None if it cannot be serialised."""
    if text is not None:
        count = dotted_keys_in_json_text(text)
        if count is not None:
            return count
    serialised_text = serialised(document)
    return None if serialised_text is None else dotted_keys_in_serialised(serialised_text)


def _expanded_generally(document: dict[str, Any]) -> dict[str, Any]:
    expanded = expanded_everywhere(document)
    return document if expanded is None else expanded


def _own_dotted_keys(document: dict[str, Any], layout: _Layout) -> int:
    """How many dotted keys the holder objects hold directly (-1 if one is not an object)."""
    count = 0
    holders = [document[name] for name in layout.holders]
    if layout.top_level:
        holders.append(document)
    for holder in holders:
        if type(holder) is not dict:
            return -1
        count += len([key for key in holder if "." in key])
    return count


def _expanded_holders(document: dict[str, Any], layout: _Layout) -> dict[str, Any]:
    """The document with the holders' dotted keys expanded, when the count says nothing
    below them (or elsewhere) holds another."""
    changed: dict[str, Any] = {}
    for name in layout.holders:
        holder = document[name]
        if not has_dotted_key(holder):
            continue  # a holder in the last document, not in this one: kept as it is
        try:
            changed[name] = rebuilt_with_nesting(holder, {})
        except EventFormatError as error:
            raise error.within(name) from None
    if layout.top_level:
        return rebuilt_with_nesting(document, changed)
    return {**document, **changed}


def _remember_layout(shape: tuple[str, ...], document: dict[str, Any]) -> _Layout:
    holders = tuple(
        name for name, value in document.items() if type(value) is dict and has_dotted_key(value)
    )
    layout = _Layout(holders, has_dotted_key(document))
    if len(_layouts) >= _LAYOUT_LIMIT:
        _layouts.clear()
        _recipes.clear()
        _recipe_layouts.clear()
        _recurrences.forget()
        _forget_unread_checks()
    _layouts[shape] = layout
    return layout


def _learn_recipe(shape: tuple[str, ...], document: dict[str, Any], layout: _Layout) -> None:
    """Count this layout (just expanded the slow way, its holders accounting for every dotted
    key); once it recurs, add it to the shape's recipe."""
    holders = [(name, document[name]) for name in layout.holders]
    keys = KeyLayout(
        tuple((name, tuple(holder)) for name, holder in holders if has_dotted_key(holder)),
        shape if has_dotted_key(document) else None,
    )
    if not _recurrences.seen_enough(keys) or not can_have_recipe(keys):
        return
    count = keys.dotted_keys()
    known = _recipe_layouts.setdefault(count, [])
    if len(known) < _LAYOUTS_PER_RECIPE:
        known.append(keys)
        _recipes[count] = compile_recipe(known)
        _forget_unread_checks()
