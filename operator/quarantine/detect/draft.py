"""What the detector hands the matcher: one alert to create, or to count again."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from quarantine.detect.target import TargetHint


@dataclass(frozen=True)
class AlertDraft:
    """One detection, before it becomes an Alert resource.

    `alert_name` is deterministic: the same rule, suppression group and suppression window
    always give the same name, so a repeat (or a second matcher replica) raises the existing
    Alert's count instead of creating another.
    """

    rule_name: str
    rule_id: str
    severity: str
    risk_score: int
    alert_name: str
    target: TargetHint
    events: list[dict[str, Any]]
    timestamp: datetime
    suppression_key: str
    source_events: tuple[dict[str, Any], ...] = field(default=(), compare=False, repr=False)
    """The matched events themselves (same objects the detector was given, untrimmed), so a
    caller can tell which of its inputs matched."""
