"""Alert suppression: which matches fold into one Alert, and that Alert's deterministic name."""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from dataclasses import dataclass
from typing import Any

from quarantine.detect.target import TargetHint
from quarantine.events.fields import field_strings
from quarantine.events.timestamps import to_rfc3339

MAX_NAME_LENGTH = 63
_HASH_LENGTH = 16
_NOT_DNS_LABEL = re.compile(r"[^a-z0-9-]+")


@dataclass(frozen=True)
class SuppressionPolicy:
    """Group-by fields (empty: the target pod) and the window length in seconds."""

    group_by: tuple[str, ...]
    duration_seconds: float

    def group(self, event: dict[str, Any], target: TargetHint) -> str:
        """The event's group as readable text: `field=<JSON list of its distinct values>` pairs
        (JSON, so that no value can be mistaken for two, and a missing field reads `null`)."""
        if not self.group_by:
            return _target_group(target)
        parts = []
        for field in self.group_by:
            values = sorted(set(field_strings(event, field)))
            rendered = json.dumps(values, ensure_ascii=False) if values else "null"
            parts.append(f"{field}={rendered}")
        return "|".join(parts)

    def window_start(self, event_time: float) -> float:
        """Start of the fixed window holding `event_time`; windows are aligned to the epoch so
        every replica, and every retry, puts an event in the same window."""
        return math.floor(event_time / self.duration_seconds) * self.duration_seconds


def _target_group(target: TargetHint) -> str:
    if target.names_pod:
        return f"pod={target.namespace}/{target.pod}"
    if target.container_id:
        return f"container={target.container_id}"
    return "target=unknown"


def suppression_key(rule_name: str, group: str, window_start: float) -> str:
    """The readable identity of one suppressed alert: rule, group and window start."""
    return f"{rule_name}/{group}/{to_rfc3339(window_start)}"


def alert_name(rule_name: str, key: str) -> str:
    """A DNS-1123 label (at most 63 characters) unique to `key`: a readable prefix from the
    rule name and a hash of the whole key."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:_HASH_LENGTH]
    return f"{_name_prefix(rule_name)}-{digest}"


@functools.lru_cache(maxsize=1024)
def _name_prefix(rule_name: str) -> str:
    """The readable part of a rule's alert names (rules are few; their alerts are many)."""
    prefix = _NOT_DNS_LABEL.sub("-", rule_name.lower()).strip("-")
    return prefix[: MAX_NAME_LENGTH - _HASH_LENGTH - 1].rstrip("-") or "alert"
