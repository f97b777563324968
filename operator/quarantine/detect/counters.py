"""Per-rule counters, for metrics and for telling a user why a rule stayed silent."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class RuleCounters:
    """What happened to the events that reached one rule."""

    evaluated: int = 0
    """Events the rule's query was evaluated on (the prefilter's candidates)."""
    matched: int = 0
    """Matches of the query (for sequences: completed sequences)."""
    excepted: int = 0
    """Matches dropped because an exception condition matched."""
    late: int = 0
    """Events the query took (a match, or an event a sequence would take) that were dropped
    because they are older than now minus the look-back."""
    out_of_scope: int = 0
    """Events the query took that were dropped because their namespace is outside the rule's
    scope."""
    capped: int = 0
    """New alerts dropped because the rule already raised maxSignals in this interval."""
    failed: int = 0
    """Events on which the rule raised an error."""
    drafts: int = 0
    """Alert drafts handed on (new alerts and repeats)."""

    def as_dict(self) -> dict[str, int]:
        return asdict(self)
