"""Which DetectionRules admission lets in, and how a refusal explains itself."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import kopf
import pytest
import yaml

from quarantine.admission import handlers
from quarantine.admission.rule_validation import (
    RuleProblem,
    describe_problems,
    find_rule_problems,
    spec_changed,
)
from quarantine.admission.webhooks import ALL_WEBHOOKS

REPO_ROOT = Path(__file__).resolve().parents[3]
FOUNDING_RULE = REPO_ROOT / "crds" / "examples" / "sensitive-files-compression.yaml"


def rule(**spec_changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "quarantine.io/v1alpha1",
        "kind": "DetectionRule",
        "metadata": {"name": "shell-in-container"},
        "spec": {
            "query": 'process where process.name == "sh"',
            "ruleId": "d0c9f4a2-1111-4e4e-9c9c-000000000001",
            "severity": "high",
            "riskScore": 73,
            "response": {"actions": [{"isolate": {"allowDNS": True}}]},
        },
    }
    body["spec"].update(spec_changes)
    return body


def test_the_founding_rule_is_admitted() -> None:
    founding = yaml.safe_load(FOUNDING_RULE.read_text())
    assert find_rule_problems(founding) == []


def test_a_query_that_does_not_compile_is_refused_with_line_and_column() -> None:
    problems = find_rule_problems(rule(query="process where\n  process.name == )"))
    assert len(problems) == 1
    problem = problems[0]
    assert (problem.path, problem.line, problem.column) == ("spec.query", 2, 19)
    assert "found ')'" in problem.message
    assert str(problem).startswith("spec.query: line 2, column 19: ")


def test_an_unknown_playbook_option_is_refused_naming_its_path() -> None:
    body = rule(response={"actions": [{"isolate": {"allowDNS": True, "bogus": 1}}]})
    assert find_rule_problems(body) == [
        RuleProblem(
            "spec.response.actions[0].isolate.bogus",
            "unknown field (not part of the DetectionRule schema)",
        )
    ]


def test_an_unknown_action_is_refused_naming_the_known_ones() -> None:
    (problem,) = find_rule_problems(rule(response={"actions": [{"quarantine": {}}]}))
    assert problem.path == "spec.response.actions[0]"
    assert "unknown action quarantine" in problem.message
    assert "isolate" in problem.message


def test_every_shape_problem_is_listed() -> None:
    body = rule(severity="urgent", riskScore=470, colour="red")
    paths = sorted(problem.path for problem in find_rule_problems(body))
    assert paths == ["spec.colour", "spec.riskScore", "spec.severity"]


def test_a_bad_exception_condition_points_into_the_condition() -> None:
    body = rule(
        exceptions=[
            {"name": "backups", "condition": 'process.parent.name == "backup.sh"'},
            {"name": "broken", "condition": "process.name == "},
        ]
    )
    (problem,) = find_rule_problems(body)
    assert problem.path == "spec.exceptions[1].condition"
    assert problem.line == 1
    assert problem.column == len("process.name == ") + 1
    assert "end of the query" in problem.message


def test_a_rule_without_spec_is_refused() -> None:
    assert find_rule_problems({"metadata": {"name": "x"}}) == [
        RuleProblem("spec", "is required and must be an object")
    ]


def test_the_message_names_the_rule_and_each_problem() -> None:
    one = [RuleProblem("spec.query", "bad", 1, 4)]
    assert (
        describe_problems("r", one)
        == "DetectionRule 'r' is invalid: spec.query: line 1, column 4: bad"
    )
    two = [RuleProblem("spec.a", "x"), RuleProblem("spec.b", "y")]
    assert describe_problems(None, two) == (
        "DetectionRule is invalid (2 problems):\n  - spec.a: x\n  - spec.b: y"
    )


def test_only_spec_changes_are_checked_on_update() -> None:
    old = rule()
    relabelled = copy.deepcopy(old)
    relabelled["metadata"]["finalizers"] = ["quarantine.io/x"]
    assert not spec_changed(old, relabelled)
    assert spec_changed(old, rule(severity="low"))
    assert spec_changed(None, old)


# --- the kopf handler ------------------------------------------------------------------------


def test_the_handler_refuses_with_422_and_the_full_message() -> None:
    body = kopf.Body(rule(query="process where process.name =="))
    with pytest.raises(kopf.AdmissionError) as refused:
        handlers.validate_detection_rule(body=body, name="shell-in-container")
    assert refused.value.code == 422
    assert str(refused.value) == (
        "DetectionRule 'shell-in-container' is invalid: spec.query: line 1, column 30: "
        "expected a value, a field name or a function call, found the end of the query"
    )


def test_the_handler_lets_metadata_updates_of_a_stored_bad_rule_through() -> None:
    stored = rule(query="process where process.name ==")
    with_finalizer = copy.deepcopy(stored)
    with_finalizer["metadata"]["finalizers"] = []
    handlers.validate_detection_rule(
        body=kopf.Body(with_finalizer), name="x", old=kopf.Body(stored)
    )


def test_the_handler_admits_a_good_rule() -> None:
    handlers.validate_detection_rule(body=kopf.Body(rule()), name="shell-in-container")


def test_handlers_are_registered_under_the_webhook_ids_without_label_filters() -> None:
    registered = {
        handler.id: handler for handler in kopf.get_default_registry()._webhooks.get_all_handlers()
    }
    for definition in ALL_WEBHOOKS:
        handler = registered[definition.handler_id]
        # kopf would test label filters against the new object: a removed label would slip by.
        assert handler.labels is None
        assert list(handler.operations or []) == list(definition.operations)
