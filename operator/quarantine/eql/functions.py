"""The functions of Elasticsearch EQL, with their null rules and argument checks.

Each function is described once (arity, argument kinds for checking constants, whether a
`~` variant exists, whether it returns a boolean) and implemented as a plain Python function
of already-evaluated scalars. All return None (null) for a null required argument.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from quarantine.eql.values import is_number, to_text

Impl = Callable[..., Any]

STRING = "string"
NUMBER = "number"
BOOLEAN = "boolean"
ANY = "any"


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    name: str
    min_args: int
    max_args: int | None  # None = any number
    arg_kinds: tuple[str, ...]  # kind of each argument; the last repeats for varargs
    returns: str
    has_insensitive: bool
    make: Callable[[bool], Impl]  # insensitive -> implementation

    def kind_of_arg(self, index: int) -> str:
        return self.arg_kinds[min(index, len(self.arg_kinds) - 1)]


# --- arithmetic ----------------------------------------------------------------------------


def _numbers(left: Any, right: Any) -> bool:
    return is_number(left) and is_number(right)


def add(left: Any, right: Any) -> Any:
    return left + right if _numbers(left, right) else None


def subtract(left: Any, right: Any) -> Any:
    return left - right if _numbers(left, right) else None


def multiply(left: Any, right: Any) -> Any:
    return left * right if _numbers(left, right) else None


def divide(left: Any, right: Any) -> Any:
    """Java division: integer operands truncate toward zero; dividing by zero gives null."""
    if not _numbers(left, right) or right == 0:
        return None
    if type(left) is int and type(right) is int:
        quotient = abs(left) // abs(right)
        return quotient if (left < 0) == (right < 0) else -quotient
    return left / right


def modulo(left: Any, right: Any) -> Any:
    """Java remainder: the sign follows the dividend."""
    if not _numbers(left, right) or right == 0:
        return None
    if type(left) is int and type(right) is int:
        return left - right * divide(left, right)
    return math.fmod(left, right)


# --- strings -------------------------------------------------------------------------------


def _strings(*values: Any) -> bool:
    return all(type(value) is str for value in values)


def _make_between(insensitive: bool) -> Impl:
    def between(source: Any, left: Any, right: Any, greedy: Any = False) -> Any:
        if not _strings(source, left, right):
            return None
        if not source or not left or not right:
            return source
        haystack = source.lower() if insensitive else source
        if insensitive:
            left, right = left.lower(), right.lower()
        start = haystack.find(left)
        if start < 0:
            return ""
        start += len(left)
        end = haystack.rfind(right) if greedy is True else haystack.find(right, start)
        if end < 0 or end < start:
            return ""
        return source[start:end]

    return between


def _make_affix(check: str) -> Callable[[bool], Impl]:
    def make(insensitive: bool) -> Impl:
        def affix(source: Any, part: Any) -> Any:
            if not _strings(source, part):
                return None
            if insensitive:
                source, part = source.lower(), part.lower()
            return source.startswith(part) if check == "start" else source.endswith(part)

        return affix

    return make


def _make_index_of(insensitive: bool) -> Impl:
    def index_of(source: Any, part: Any, start: Any = None) -> Any:
        if not _strings(source, part):
            return None
        if start is None:
            start = 0
        elif not is_number(start):
            return None
        start = max(int(start), 0)
        if start > len(source):
            return None
        if insensitive:
            source, part = source.lower(), part.lower()
        found = source.find(part, start)
        return None if found < 0 else found

    return index_of


def _make_string_contains(insensitive: bool) -> Impl:
    def string_contains(source: Any, part: Any) -> Any:
        if not _strings(source, part):
            return None
        if not source or not part:
            return False
        if insensitive:
            return part.lower() in source.lower()
        return part in source

    return string_contains


def length(source: Any) -> Any:
    return len(source) if type(source) is str else None


def concat(*values: Any) -> Any:
    if any(value is None for value in values):
        return None
    return "".join(to_text(value) for value in values)


def to_string(value: Any) -> Any:
    return None if value is None else to_text(value)


def substring(source: Any, start: Any = None, end: Any = None) -> Any:
    if type(source) is not str:
        return None
    if not source:
        return source
    size = len(source)
    begin = int(start) if is_number(start) else 0
    stop = int(end) if is_number(end) else size
    if begin < 0:
        begin = max(begin + size, 0)
    if stop < 0:
        stop = max(stop + size, 0)
    stop = min(stop, size)
    return "" if begin >= stop else source[begin:stop]


def to_number(source: Any, base: Any = None) -> Any:
    if type(source) is not str:
        return None
    text = source.strip()
    if base is None:
        base = 10
    if not is_number(base):
        return None
    base = int(base)
    body = text.lstrip("+-")
    if base in (10, 16) and body[:2].lower() == "0x":
        base = 16
    try:
        if base == 10:
            try:
                return int(text)
            except ValueError:
                return float(text)
        return int(text, base)
    except ValueError:
        return None


def cidr_networks(
    blocks: tuple[Any, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Parse CIDR blocks (raises ValueError naming a bad one)."""
    networks = []
    for block in blocks:
        if type(block) is not str:
            raise ValueError(f"cidrMatch blocks must be strings, found {block!r}")
        try:
            networks.append(ipaddress.ip_network(block, strict=False))
        except ValueError as error:
            raise ValueError(f"invalid CIDR block {block!r}: {error}") from None
    return tuple(networks)


def make_cidr_test(
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...],
) -> Callable[[Any], bool]:
    def test(value: Any) -> bool:
        if type(value) is not str:
            return False
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            return False
        return any(address in network for network in networks)

    return test


def _make_cidr_match(insensitive: bool) -> Impl:
    del insensitive

    def cidr_match(address: Any, *blocks: Any) -> Any:
        if address is None:
            return None
        return make_cidr_test(cidr_networks(blocks))(address)

    return cidr_match


def _plain(impl: Impl) -> Callable[[bool], Impl]:
    return lambda insensitive: impl


def _spec(
    name: str,
    arity: tuple[int, int | None],
    kinds: tuple[str, ...],
    returns: str,
    make: Callable[[bool], Impl],
    *,
    insensitive: bool = False,
) -> FunctionSpec:
    return FunctionSpec(name, arity[0], arity[1], kinds, returns, insensitive, make)


FUNCTIONS: dict[str, FunctionSpec] = {
    spec.name.lower(): spec
    for spec in (
        _spec("add", (2, 2), (NUMBER,), NUMBER, _plain(add)),
        _spec("subtract", (2, 2), (NUMBER,), NUMBER, _plain(subtract)),
        _spec("multiply", (2, 2), (NUMBER,), NUMBER, _plain(multiply)),
        _spec("divide", (2, 2), (NUMBER,), NUMBER, _plain(divide)),
        _spec("modulo", (2, 2), (NUMBER,), NUMBER, _plain(modulo)),
        _spec(
            "between",
            (3, 4),
            (STRING, STRING, STRING, BOOLEAN),
            STRING,
            _make_between,
            insensitive=True,
        ),
        _spec("cidrMatch", (2, None), (ANY, STRING), BOOLEAN, _make_cidr_match),
        _spec("concat", (1, None), (ANY,), STRING, _plain(concat)),
        _spec("endsWith", (2, 2), (STRING,), BOOLEAN, _make_affix("end"), insensitive=True),
        _spec(
            "indexOf", (2, 3), (STRING, STRING, NUMBER), NUMBER, _make_index_of, insensitive=True
        ),
        _spec("length", (1, 1), (STRING,), NUMBER, _plain(length)),
        _spec("number", (1, 2), (STRING, NUMBER), NUMBER, _plain(to_number)),
        _spec("startsWith", (2, 2), (STRING,), BOOLEAN, _make_affix("start"), insensitive=True),
        _spec("string", (1, 1), (ANY,), STRING, _plain(to_string)),
        _spec(
            "stringContains",
            (2, 2),
            (STRING,),
            BOOLEAN,
            _make_string_contains,
            insensitive=True,
        ),
        _spec("substring", (2, 3), (STRING, NUMBER), STRING, _plain(substring)),
    )
}

# Endgame EQL functions that Elasticsearch does not implement.
UNSUPPORTED_FUNCTIONS = frozenset(
    {
        "arraycontains",
        "arraycount",
        "arraysearch",
        "match",
        "matchlite",
        "wildcard",
        "safe",
    }
)


def literal_kind(value: Any) -> str:
    if value is True or value is False:
        return BOOLEAN
    if is_number(value):
        return NUMBER
    if type(value) is str:
        return STRING
    return ANY
