"""The matcher's view of stored DetectionRules: what compiles, and why the rest is not Ready."""

from __future__ import annotations

from typing import Any

from quarantine.k8s.rule_catalog import build_catalog


def stored_rule(name: str, **spec_changes: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "query": 'process where process.name == "nc"',
        "ruleId": name,
        "severity": "high",
        "riskScore": 73,
        "response": {"actions": [{"isolate": {"allowDNS": True}}]},
    }
    spec.update(spec_changes)
    return {
        "apiVersion": "quarantine.io/v1alpha1",
        "kind": "DetectionRule",
        "metadata": {"name": name},
        "spec": spec,
    }


def test_a_rule_stored_with_an_unknown_option_is_spec_invalid_naming_it() -> None:
    # The CRD keeps unknown playbook options for the webhook; with the webhook off they are
    # stored, and the matcher must not evaluate a rule whose playbook it cannot read.
    bogus = {"actions": [{"isolate": {"allowDNS": True, "bogus": 1}}]}
    catalog = build_catalog(
        {
            "good": stored_rule("good"),
            "bogus": stored_rule("bogus", response=bogus),
        }
    )
    assert set(catalog.scopes) == {"good"}
    problem = catalog.problems["bogus"]
    assert problem.reason == "SpecInvalid"
    assert "spec.response.actions[0].isolate.bogus" in problem.message
