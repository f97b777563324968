"""One regular expression for a set of literal strings, written as a trie.

`re` tries the branches of an alternation one after another at every position it searches, so
`a|b|c|...` over a few hundred literals costs a few hundred attempts per character. Written as
a trie (`ab(?:c|d)` for `abc` and `abd`), each position costs one attempt per distinct next
character, and a value that holds none of the literals is refused several times faster: the
index works out every value it meets for the first time this way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_Trie = dict[str, "_Trie"]
_END = ""  # marks a literal ending at this node (no literal character is empty)


def trie_pattern(literals: Iterable[str]) -> re.Pattern[str] | None:
    """A pattern matching exactly the given literals (None for none): `search` tells whether a
    text holds one of them, `match` whether it starts with one."""
    root: _Trie = {}
    for literal in literals:
        node = root
        for char in literal:
            node = node.setdefault(char, {})
        node[_END] = {}
    if not root:
        return None
    return re.compile(_source(root))


def _source(node: _Trie) -> str:
    """The node's continuations as regex source; a chain of single children is written as one
    literal run, so groups nest only where the trie branches."""
    run = ""
    while len(node) == 1 and _END not in node:
        ((char, node),) = node.items()
        run += re.escape(char)
    branches = [re.escape(char) + _source(child) for char, child in node.items() if char]
    if not branches:
        return run
    if _END in node:  # a literal ends here; longer ones continue
        return f"{run}(?:{'|'.join(branches)})?"
    return f"{run}(?:{'|'.join(branches)})" if len(branches) > 1 else run + branches[0]
