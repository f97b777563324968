"""The Ready condition patch: bad query -> False with line/column; fixed -> True; no churn."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from quarantine.api import DetectionRuleStatus, validate_object
from quarantine.k8s.rule_status import RuleProblem, ready_status_patch

NOW = datetime(2026, 11, 28, 7, 0, 0, tzinfo=UTC)
LATER = datetime(2026, 11, 28, 8, 0, 0, tzinfo=UTC)
BAD_QUERY = RuleProblem(
    "QueryInvalid",
    "the query does not compile: line 2, column 7: expected a value",
    line=2,
    column=7,
)


def rule(generation: int, status: dict[str, Any] | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {"metadata": {"name": "r", "generation": generation}, "spec": {}}
    if status is not None:
        obj["status"] = status
    return obj


def applied(obj: dict[str, Any], patch: dict[str, Any] | None) -> dict[str, Any]:
    """The object after a JSON merge patch of its status (null removes a key)."""
    assert patch is not None
    status = dict(obj.get("status") or {})
    for key, value in patch["status"].items():
        if value is None:
            status.pop(key, None)
        else:
            status[key] = value
    return {**obj, "status": status}


def ready(obj: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")


def test_bad_query_sets_ready_false_with_line_and_column() -> None:
    obj = applied(rule(1), ready_status_patch(rule(1), BAD_QUERY, NOW))
    condition = ready(obj)
    assert (condition["status"], condition["reason"]) == ("False", "QueryInvalid")
    assert "line 2, column 7" in condition["message"]
    assert condition["observedGeneration"] == 1
    assert obj["status"]["queryError"] == {"line": 2, "column": 7, "message": BAD_QUERY.message}
    validate_object(DetectionRuleStatus, obj["status"])


def test_unchanged_status_is_not_written_again() -> None:
    obj = applied(rule(1), ready_status_patch(rule(1), BAD_QUERY, NOW))
    assert ready_status_patch(obj, BAD_QUERY, LATER) is None


def test_fixed_query_recovers_and_clears_the_error() -> None:
    broken = applied(rule(1), ready_status_patch(rule(1), BAD_QUERY, NOW))
    fixed = {**broken, "metadata": {"name": "r", "generation": 2}}
    obj = applied(fixed, ready_status_patch(fixed, None, LATER))
    condition = ready(obj)
    assert (condition["status"], condition["reason"]) == ("True", "Compiled")
    assert condition["observedGeneration"] == 2
    assert condition["lastTransitionTime"] == "2026-11-28T08:00:00Z"
    assert "queryError" not in obj["status"]
    assert ready_status_patch(obj, None, LATER) is None


def test_new_generation_with_same_verdict_keeps_transition_time() -> None:
    first = applied(rule(1), ready_status_patch(rule(1), None, NOW))
    bumped = {**first, "metadata": {"name": "r", "generation": 2}}
    obj = applied(bumped, ready_status_patch(bumped, None, LATER))
    assert ready(obj)["observedGeneration"] == 2
    assert ready(obj)["lastTransitionTime"] == "2026-11-28T07:00:00Z"


def test_other_conditions_and_counters_are_left_alone() -> None:
    other = {"type": "Admitted", "status": "True"}
    obj = rule(1, {"conditions": [other], "alertCount": 4})
    patch = ready_status_patch(obj, None, NOW)
    assert patch is not None
    assert other in patch["status"]["conditions"]
    assert "alertCount" not in patch["status"]
