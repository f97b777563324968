"""How action results add up to the Alert phase."""

from __future__ import annotations

from quarantine.respond.outcome import ActionRecord, phase_of, summary


def rec(action: str, result: str, step: int = 0) -> ActionRecord:
    return ActionRecord(step, action, result, "m")  # type: ignore[arg-type]


def test_phases() -> None:
    assert phase_of([rec("isolate", "Succeeded")], dry_run=False) == "Contained"
    assert (
        phase_of([rec("isolate", "Partial"), rec("label", "Succeeded")], dry_run=False) == "Partial"
    )
    assert (
        phase_of([rec("isolate", "Succeeded"), rec("scaleDown", "Failed")], dry_run=False)
        == "Failed"
    )
    assert phase_of([rec("isolate", "Skipped")], dry_run=False) == "Skipped"
    assert (
        phase_of([rec("scaleDown", "Skipped"), rec("isolate", "Succeeded")], dry_run=False)
        == "Contained"
    )
    assert phase_of([], dry_run=False) == "Skipped"
    assert phase_of([rec("isolate", "DryRun")], dry_run=True) == "DryRun"


def test_notify_never_decides_the_phase() -> None:
    assert (
        phase_of([rec("isolate", "Succeeded"), rec("notify", "Failed")], dry_run=False)
        == "Contained"
    )
    assert phase_of([rec("notify", "Succeeded")], dry_run=False) == "Skipped"


def test_status_round_trip_keeps_the_step() -> None:
    record = ActionRecord(3, "isolate", "Succeeded", "done", {"networkPolicy": "q-a"})
    row = record.to_status()
    assert row == {
        "action": "isolate",
        "result": "Succeeded",
        "message": "done",
        "details": {"step": 3, "networkPolicy": "q-a"},
    }
    assert ActionRecord.from_status(row) == record


def test_summary() -> None:
    assert summary([rec("isolate", "Succeeded")], "Contained") == "Contained: isolate: Succeeded"
    assert summary([], "Skipped") == "Skipped: the playbook has no actions"
    assert summary([rec("isolate", "Skipped")], "Skipped") == "Skipped: isolate: Skipped (m)"
