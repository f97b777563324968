"""The DetectionRule and Alert models: defaults, aliases and errors that name the field."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from quarantine.api import (
    Alert,
    ApiValidationError,
    DetectionRule,
    IsolateAction,
    PlaybookAction,
    ScaleDownAction,
    parse_duration,
    to_manifest,
    validate_object,
)

MINIMAL_RULE: dict[str, Any] = {
    "apiVersion": "quarantine.io/v1alpha1",
    "kind": "DetectionRule",
    "metadata": {"name": "nc-listener"},
    "spec": {
        "query": 'process where process.name == "nc"',
        "ruleId": "r-1",
        "severity": "high",
        "riskScore": 73,
    },
}

MINIMAL_ALERT: dict[str, Any] = {
    "apiVersion": "quarantine.io/v1alpha1",
    "kind": "Alert",
    "metadata": {"name": "nc-listener-abc", "namespace": "shop"},
    "spec": {
        "rule": {"name": "nc-listener", "ruleId": "r-1", "severity": "high", "riskScore": 73},
        "target": {"namespace": "shop", "pod": "web-1", "containerId": "ab" * 32},
        "source": "matcher",
        "firstSeen": "2026-01-02T03:04:05Z",
        "lastSeen": "2026-01-02T03:04:06Z",
    },
}


def rule_with(**spec_changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(MINIMAL_RULE)
    document["spec"].update(spec_changes)
    return document


def problems_of(document: dict[str, Any], model: type[Any] = DetectionRule) -> list[str]:
    with pytest.raises(ApiValidationError) as caught:
        validate_object(model, document)
    return caught.value.problems


def test_minimal_rule_gets_the_documented_defaults() -> None:
    rule = validate_object(DetectionRule, MINIMAL_RULE)
    spec = rule.spec
    assert rule.metadata.name == "nc-listener"
    assert (spec.language, spec.interval, spec.lookback, spec.max_signals) == (
        "eql",
        "5m",
        "6m",
        100,
    )
    assert spec.enabled is True
    assert spec.response is None and spec.scope is None and spec.suppression is None
    assert spec.timestamp_field is None and spec.exceptions == []


def test_python_names_and_yaml_names_both_populate() -> None:
    by_python_name = DetectionRule.model_validate(
        {"spec": {"query": "any where true", "rule_id": "x", "severity": "low", "risk_score": 1}}
    )
    assert by_python_name.spec.rule_id == "x"
    assert to_manifest(by_python_name)["spec"]["ruleId"] == "x"


def test_full_playbook_parses_each_action_kind() -> None:
    document = rule_with(
        response={
            "mode": "DryRun",
            "actions": [
                {"isolate": {"allowDNS": True, "allowEgressCIDRs": ["10.1.0.0/16"]}},
                {"scaleDown": {"fallback": "Skip"}},
                {"label": {"labels": {"quarantine.io/incident": "x"}}},
                {"annotate": {"annotations": {"note": "y"}}},
                {"deletePod": {"gracePeriodSeconds": 0}},
                {"notify": {"secretRef": {"name": "hook"}, "format": "slack"}},
            ],
        }
    )
    playbook = validate_object(DetectionRule, document).spec.response
    assert playbook is not None and playbook.mode == "DryRun"
    assert [a.name for a in playbook.actions] == [
        "isolate",
        "scaleDown",
        "label",
        "annotate",
        "deletePod",
        "notify",
    ]
    isolate = playbook.actions[0].params
    assert isinstance(isolate, IsolateAction)
    assert isolate.allow_dns is True and isolate.when_bypassed == "Detach"
    assert isolate.allow_egress_cidrs == ["10.1.0.0/16"]
    notify = playbook.actions[5].notify
    assert notify is not None and notify.secret_ref.key == "url"


def test_dumped_action_has_only_its_own_key() -> None:
    action = PlaybookAction(scale_down=ScaleDownAction())
    assert action.model_dump(by_alias=True) == {"scaleDown": {"fallback": "Isolate"}}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"riskScore": 101}, "spec.riskScore: Input should be less than or equal to 100"),
        ({"severity": "urgent"}, "spec.severity: Input should be 'low', 'medium', 'high' or"),
        ({"interval": "5 minutes"}, "spec.interval: invalid duration '5 minutes'"),
        ({"lookback": "0m"}, "spec.lookback: duration '0m' must be greater than zero"),
        ({"language": "kuery"}, "spec.language: Input should be 'eql'"),
        ({"maxSignals": 0}, "spec.maxSignals: Input should be greater than or equal to 1"),
        ({"colour": "red"}, "spec.colour: Extra inputs are not permitted"),
        (
            {"response": {"actions": [{"isolate": {"whenBypassed": "Ignore"}}]}},
            "spec.response.actions[0].isolate.whenBypassed: Input should be 'Detach' or 'Report'",
        ),
        (
            {"response": {"actions": [{"isolate": {"allowIngressCIDRs": ["10.0.0.300/8"]}}]}},
            "spec.response.actions[0].isolate.allowIngressCIDRs[0]: '10.0.0.300/8' is not a CIDR",
        ),
        (
            {"response": {"actions": [{"explode": {}}]}},
            "spec.response.actions[0]: unknown action explode; expected one of isolate,",
        ),
        (
            {"response": {"actions": [{"isolate": {}, "deletePod": {}}]}},
            "spec.response.actions[0]: each action item needs exactly one action key, "
            "found: isolate, deletePod",
        ),
        (
            {"response": {"actions": [{}]}},
            "spec.response.actions[0]: each action item needs exactly one action key, found: none",
        ),
        (
            {"response": {"actions": [{"isolate": None}]}},
            "spec.response.actions[0]: action isolate needs an object of settings",
        ),
        (
            {"response": {"actions": [{"label": {"labels": {}}}]}},
            "spec.response.actions[0].label.labels: Dictionary should have at least 1 item",
        ),
        (
            {"scope": {"podSelector": {"matchExpressions": [{"key": "a", "operator": "In"}]}}},
            "spec.scope.podSelector.matchExpressions[0]: operator In needs at least one value",
        ),
        (
            {"exceptions": [{"name": "backup"}]},
            "spec.exceptions[0].condition: Field required",
        ),
        (
            {"suppression": {"groupBy": ["container.id"], "duration": "1w"}},
            "spec.suppression.duration: invalid duration '1w'",
        ),
    ],
)
def test_invalid_rule_is_refused_naming_the_field(change: dict[str, Any], expected: str) -> None:
    problems = problems_of(rule_with(**change))
    assert any(p.startswith(expected) for p in problems), problems


def test_missing_required_fields_are_each_named() -> None:
    document = copy.deepcopy(MINIMAL_RULE)
    del document["spec"]["query"], document["spec"]["riskScore"]
    problems = problems_of(document)
    assert "spec.query: Field required" in problems
    assert "spec.riskScore: Field required" in problems


def test_error_message_names_the_object() -> None:
    with pytest.raises(ApiValidationError, match=r"DetectionRule 'nc-listener' is invalid"):
        validate_object(DetectionRule, rule_with(riskScore=-1))
    with pytest.raises(ApiValidationError, match=r"expected a mapping, got list"):
        validate_object(DetectionRule, [])


def test_metadata_keeps_fields_set_by_the_api_server() -> None:
    document = copy.deepcopy(MINIMAL_RULE)
    document["metadata"].update(generation=3, managedFields=[{"manager": "kubectl"}])
    rule = validate_object(DetectionRule, document)
    assert rule.metadata.generation == 3
    assert to_manifest(rule)["metadata"]["managedFields"] == [{"manager": "kubectl"}]


def test_rule_status_with_query_error() -> None:
    document = copy.deepcopy(MINIMAL_RULE)
    document["status"] = {
        "conditions": [
            {
                "type": "Ready",
                "status": "False",
                "reason": "QueryInvalid",
                "message": "line 1, column 9: unexpected token",
                "lastTransitionTime": "2026-01-02T03:04:05Z",
            }
        ],
        "queryError": {"line": 1, "column": 9, "message": "unexpected token"},
        "alertCount": 2,
    }
    status = validate_object(DetectionRule, document).status
    assert status is not None and status.query_error is not None
    assert (status.query_error.line, status.query_error.column) == (1, 9)
    assert status.conditions[0].reason == "QueryInvalid"
    bad = copy.deepcopy(document)
    bad["status"]["conditions"][0]["status"] = "Maybe"
    assert any(
        p.startswith("status.conditions[0].status: Input should be 'True', 'False' or 'Unknown'")
        for p in problems_of(bad)
    )


def test_alert_round_trips_with_free_form_events_and_undo() -> None:
    document = copy.deepcopy(MINIMAL_ALERT)
    document["spec"]["events"] = [{"process": {"args": ["tar", "/etc/shadow"]}, "n": 1}]
    document["status"] = {
        "phase": "Contained",
        "actions": [{"action": "isolate", "result": "Succeeded", "details": {"policy": "q-1"}}],
        "undo": {"createdObjects": [{"kind": "NetworkPolicy", "name": "q-1"}]},
        "containedAt": "2026-01-02T03:04:07+00:00",
    }
    alert = validate_object(Alert, document)
    assert alert.spec.count == 1 and alert.spec.release is False
    assert alert.spec.first_seen == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    manifest = to_manifest(alert)
    assert manifest["spec"]["events"] == document["spec"]["events"]
    assert manifest["status"]["undo"] == document["status"]["undo"]
    assert manifest["spec"]["lastSeen"] == "2026-01-02T03:04:06Z"
    assert validate_object(Alert, manifest) == alert


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (("spec", "count"), 0, "spec.count: Input should be greater than or equal to 1"),
        (("spec", "source"), "splunk", "spec.source: Input should be 'matcher', 'elastic' or"),
        (("spec", "firstSeen"), "2026-01-02T03:04:05", "spec.firstSeen: Input should have"),
        (("spec", "target", "namespace"), "", "spec.target.namespace: String should have at"),
        (("status",), {"phase": "Done"}, "status.phase: Input should be 'Pending',"),
    ],
)
def test_invalid_alert_is_refused_naming_the_field(
    path: tuple[str, ...], value: Any, expected: str
) -> None:
    document = copy.deepcopy(MINIMAL_ALERT)
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    problems = problems_of(document, Alert)
    assert any(p.startswith(expected) for p in problems), problems


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("5m", timedelta(minutes=5)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("0s", timedelta(0)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "5", "m", "-5m", "5M", "1.5h", "5 m", "1h30m", "now-6m"])
def test_parse_duration_refuses_other_forms(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)
