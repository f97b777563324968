"""What processing one NDJSON batch produced, and how that becomes the HTTP answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from quarantine.ingest.ndjson import LineError


def batch_status(*, accepted: int, failed: bool, server_failure: bool) -> int:
    """The HTTP status of a batch: 503 to resend, 200 all good, 207 partly good, 400 none good."""
    if server_failure:
        return 503
    if not failed:
        return 200
    return 207 if accepted else 400


@dataclass(frozen=True)
class LineWarning:
    """A line that was processed, with something the sender should know (e.g. pod not found)."""

    line: int
    warning: str

    def as_json(self) -> dict[str, Any]:
        return {"line": self.line, "warning": self.warning}


@dataclass
class BatchOutcome:
    accepted: int = 0
    ignored: int = 0
    alerts: list[str] = field(default_factory=list)
    """`namespace/name` of each Alert created or updated, once each."""
    errors: list[LineError] = field(default_factory=list)
    warnings: list[LineWarning] = field(default_factory=list)
    server_failure: bool = False
    """Some good lines could not be recorded (API server trouble): the sender should resend."""

    def http_status(self) -> int:
        return batch_status(
            accepted=self.accepted, failed=bool(self.errors), server_failure=self.server_failure
        )

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "accepted": self.accepted,
            "ignored": self.ignored,
            "alerts": self.alerts,
            "errors": [e.as_json() for e in sorted(self.errors, key=lambda e: e.line)],
        }
        if self.warnings:
            body["warnings"] = [w.as_json() for w in sorted(self.warnings, key=lambda w: w.line)]
        return body
