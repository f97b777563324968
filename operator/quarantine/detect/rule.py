"""One DetectionRule, compiled: its query and exceptions, and its settings in seconds."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from quarantine.api import DetectionRule, ResponsePlaybook, parse_duration
from quarantine.detect.scope import ScopeCheck
from quarantine.detect.suppression import SuppressionPolicy
from quarantine.eql import EqlSyntaxError, Query, compile_query

# An exception condition is compiled as `any where <condition>`; the line break keeps the
# condition's own columns, and its lines shift by exactly one.
_EXCEPTION_PREFIX = "any where\n"


class ExceptionSyntaxError(EqlSyntaxError):
    """An exception condition that does not compile; line and column are in the condition."""

    def __init__(self, index: int, name: str, cause: EqlSyntaxError) -> None:
        line = max(cause.line - 1, 1)
        column = cause.column if cause.line > 1 else 1
        super().__init__(f"exceptions[{index}] ({name}): {cause.message}", line, column)
        self.index = index
        self.exception_name = name


@dataclass(frozen=True, eq=False)
class CompiledRule:
    """Everything the detector needs from a rule, computed once."""

    name: str
    rule_id: str
    severity: str
    risk_score: int
    query: Query
    exceptions: tuple[Query, ...]
    scope: ScopeCheck
    suppression: SuppressionPolicy
    interval_seconds: float
    max_signals: int
    lookback_seconds: float
    timestamp_field: str | None
    response: ResponsePlaybook | None
    fingerprint: str
    """Hash of the settings that shape detection state; equal means state can be kept."""

    @property
    def is_sequence_like(self) -> bool:
        """Whether the query needs a stream (sequence or sample) rather than one event."""
        return self.query.kind != "event"

    @property
    def is_gated_sequence(self) -> bool:
        """Whether the detector may feed this sequence only the events its stream can take
        (`QueryStream.may_take`), filing it in the index by its first stage while idle.

        Not with missing-event stages (they record events before any partial exists), nor
        when a stage reads the timestamp override field: the stream is fed a copy carrying
        the rule's time there, which the test on the event as it came would not see."""
        query = self.query
        if query.kind != "sequence" or query.has_missing_stages:
            return False
        override = self.timestamp_field
        return not (override and any(_overlaps(path, override) for path in query.fields_read))


def _overlaps(path: str, other: str) -> bool:
    """Whether one field path is the other or lies inside it."""
    return path == other or other.startswith(path + ".") or path.startswith(other + ".")


def compile_rule(rule: DetectionRule) -> CompiledRule:
    """Compile `rule`; raises EqlSyntaxError (or ExceptionSyntaxError) when it does not compile
    and ValueError when it has no name."""
    name = rule.metadata.name
    if not name:
        raise ValueError("DetectionRule has no metadata.name")
    spec = rule.spec
    # The detector sees only normalised events (nested, no dotted keys).
    query = compile_query(spec.query, nested_only=True)
    exceptions = []
    for index, exception in enumerate(spec.exceptions):
        try:
            condition = _EXCEPTION_PREFIX + exception.condition
            exceptions.append(compile_query(condition, nested_only=True))
        except EqlSyntaxError as error:
            raise ExceptionSyntaxError(index, exception.name, error) from error
    interval = parse_duration(spec.interval).total_seconds()
    suppression = spec.suppression
    group_by = tuple(suppression.group_by) if suppression else ()
    window = (
        parse_duration(suppression.duration).total_seconds()
        if suppression and suppression.duration
        else interval
    )
    return CompiledRule(
        name=name,
        rule_id=spec.rule_id,
        severity=spec.severity,
        risk_score=spec.risk_score,
        query=query,
        exceptions=tuple(exceptions),
        scope=ScopeCheck.from_scope(spec.scope),
        suppression=SuppressionPolicy(group_by=group_by, duration_seconds=window),
        interval_seconds=interval,
        max_signals=spec.max_signals,
        lookback_seconds=parse_duration(spec.lookback).total_seconds(),
        timestamp_field=spec.timestamp_field,
        response=spec.response,
        fingerprint=_fingerprint(rule),
    )


def _fingerprint(rule: DetectionRule) -> str:
    shaping = rule.spec.model_dump(
        mode="json",
        include={
            "query",
            "exceptions",
            "suppression",
            "interval",
            "lookback",
            "max_signals",
            "timestamp_field",
            "scope",
        },
    )
    return hashlib.sha256(json.dumps(shaping, sort_keys=True).encode()).hexdigest()
