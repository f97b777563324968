"""Action records and the Alert phase they add up to (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Result = Literal["Succeeded", "Failed", "Skipped", "DryRun", "Partial"]
Phase = Literal["Pending", "Contained", "Partial", "DryRun", "Skipped", "Failed", "Released"]
FINAL_PHASES: frozenset[str] = frozenset({"Contained", "Partial", "DryRun", "Skipped", "Failed"})

# notify reports on containment; it never decides whether the pod was contained.
NON_CONTAINMENT_ACTIONS = frozenset({"notify"})


@dataclass(frozen=True)
class ActionRecord:
    """The outcome of one playbook step, as stored in `status.actions[]`."""

    step: int
    action: str
    result: Result
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_status(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "result": self.result,
            "message": self.message,
            "details": {"step": self.step, **self.details},
        }

    @classmethod
    def from_status(cls, entry: Mapping[str, Any]) -> ActionRecord:
        details = dict(entry.get("details") or {})
        step = int(details.pop("step", -1))
        return cls(step, str(entry["action"]), entry["result"], entry.get("message") or "", details)


def phase_of(records: Iterable[ActionRecord], *, dry_run: bool) -> Phase:
    """The Alert phase once every step has a record."""
    containment = [r for r in records if r.action not in NON_CONTAINMENT_ACTIONS]
    if dry_run:
        return "DryRun"
    results = {record.result for record in containment}
    if "Failed" in results:
        return "Failed"
    if "Partial" in results:
        return "Partial"
    if "Succeeded" in results:
        return "Contained"
    return "Skipped"


_EXPLAINED = frozenset({"Skipped", "Failed", "Partial"})


def summary(records: Iterable[ActionRecord], phase: Phase) -> str:
    """One line for `status.message`."""
    parts = [
        f"{r.action}: {r.result}" + (f" ({r.message})" if r.result in _EXPLAINED else "")
        for r in records
    ]
    return f"{phase}: " + (", ".join(parts) if parts else "the playbook has no actions")
