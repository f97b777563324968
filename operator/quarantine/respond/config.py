"""Responder settings gathered from the command line, in one object handed to the handlers."""

from __future__ import annotations

from dataclasses import dataclass, field

from quarantine.respond.policy import DnsTarget
from quarantine.respond.safety import Limits, SafetySettings


@dataclass(frozen=True)
class ResponderConfig:
    safety: SafetySettings
    limits: Limits = field(default_factory=Limits)
    dns: DnsTarget = field(default_factory=DnsTarget)
    notify_timeout: float = 5.0
    notify_attempts: int = 3
    notify_workers: int = 4
    # Actions this installation may not run (their RBAC is not granted); steps are Skipped.
    disabled_actions: frozenset[str] = frozenset()
