"""The parsed form of an EQL query: plain immutable nodes, no behaviour."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal as TypingLiteral

Scalar = None | bool | int | float | str


@dataclass(frozen=True, slots=True)
class Position:
    line: int
    column: int


# --- expressions -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Literal:
    value: Scalar
    pos: Position


@dataclass(frozen=True, slots=True)
class Field:
    path: str  # dotted path as written, e.g. "process.parent.name"
    optional: bool  # written as ?field
    pos: Position


@dataclass(frozen=True, slots=True)
class Not:
    operand: Expr
    pos: Position


@dataclass(frozen=True, slots=True)
class And:
    operands: tuple[Expr, ...]
    pos: Position


@dataclass(frozen=True, slots=True)
class Or:
    operands: tuple[Expr, ...]
    pos: Position


CompareOp = TypingLiteral["==", "!=", "<", "<=", ">", ">="]


@dataclass(frozen=True, slots=True)
class Compare:
    op: CompareOp
    left: Expr
    right: Expr
    pos: Position


@dataclass(frozen=True, slots=True)
class InSet:
    """`x in (...)`, `x in~ (...)`; `not in` is parsed as Not(InSet)."""

    operand: Expr
    values: tuple[Expr, ...]
    insensitive: bool
    pos: Position


MatchKind = TypingLiteral["seq", "like", "regex"]  # seq is the `:` operator


@dataclass(frozen=True, slots=True)
class Match:
    """`x : p`, `x like p`, `x regex p` (and `~` variants); a list of patterns is an OR."""

    kind: MatchKind
    operand: Expr
    patterns: tuple[Scalar, ...]
    insensitive: bool
    pos: Position


ArithOp = TypingLiteral["+", "-", "*", "/", "%"]


@dataclass(frozen=True, slots=True)
class Arith:
    op: ArithOp
    left: Expr
    right: Expr
    pos: Position


@dataclass(frozen=True, slots=True)
class Negate:
    operand: Expr
    pos: Position


@dataclass(frozen=True, slots=True)
class Call:
    name: str  # canonical name, e.g. "startsWith"
    args: tuple[Expr, ...]
    insensitive: bool  # written with a trailing ~
    pos: Position


Expr = Literal | Field | Not | And | Or | Compare | InSet | Match | Arith | Negate | Call


# --- queries -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventFilter:
    category: str | None  # None means `any`
    condition: Expr
    pos: Position


@dataclass(frozen=True, slots=True)
class Stage:
    """One bracketed term of a sequence or sample, after `runs` expansion."""

    filter: EventFilter
    keys: tuple[Expr, ...]  # per-stage `by` keys
    missing: bool  # written ![...]
    pos: Position


PipeKind = TypingLiteral["head", "tail"]


@dataclass(frozen=True, slots=True)
class Pipe:
    kind: PipeKind
    count: int
    pos: Position


@dataclass(frozen=True, slots=True)
class EventQuery:
    filter: EventFilter
    pipes: tuple[Pipe, ...]


@dataclass(frozen=True, slots=True)
class SequenceQuery:
    keys: tuple[Expr, ...]  # sequence-level `by` keys
    maxspan_ns: int | None
    stages: tuple[Stage, ...]
    until: Stage | None
    pipes: tuple[Pipe, ...]


@dataclass(frozen=True, slots=True)
class SampleQuery:
    keys: tuple[Expr, ...]
    stages: tuple[Stage, ...]
    pipes: tuple[Pipe, ...]


QueryNode = EventQuery | SequenceQuery | SampleQuery


def field_paths(node: object) -> frozenset[str]:
    """Every field path read anywhere below `node` (an expression, filter, stage or query)."""
    found: set[str] = set()
    pending: list[object] = [node]
    while pending:
        item = pending.pop()
        if isinstance(item, Field):
            found.add(item.path)
        elif isinstance(item, tuple):
            pending.extend(item)
        elif hasattr(item, "__slots__") and not isinstance(item, Position):
            pending.extend(getattr(item, name) for name in item.__slots__)
    return frozenset(found)
