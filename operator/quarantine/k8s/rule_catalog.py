"""DetectionRule objects from the API server -> the compiled rule set, scopes and problems."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from quarantine.api import ApiValidationError, DetectionRule, validate_object
from quarantine.detect import RuleSet
from quarantine.detect.scope import ScopeCheck
from quarantine.k8s.rule_status import RuleProblem


@dataclass(frozen=True)
class RuleCatalog:
    ruleset: RuleSet
    scopes: Mapping[str, ScopeCheck] = field(default_factory=dict)
    """Scope of every rule that compiled, by rule name."""
    problems: Mapping[str, RuleProblem] = field(default_factory=dict)
    """Why a rule is not active, by rule name; absent = Ready."""

    @property
    def active_count(self) -> int:
        return len(self.scopes)


def build_catalog(objects: Mapping[str, Mapping[str, Any]]) -> RuleCatalog:
    problems: dict[str, RuleProblem] = {}
    rules: list[DetectionRule] = []
    for name, obj in sorted(objects.items()):
        # Status is ours to write and irrelevant to compiling; never let it block a rule.
        definition = {key: value for key, value in obj.items() if key != "status"}
        try:
            rule = validate_object(DetectionRule, definition)
        except ApiValidationError as error:
            problems[name] = RuleProblem("SpecInvalid", "; ".join(error.problems))
            continue
        if not rule.spec.enabled:
            problems[name] = RuleProblem("Disabled", "spec.enabled is false")
            continue
        rules.append(rule)

    ruleset = RuleSet.from_rules(rules)
    for name, syntax_error in ruleset.errors.items():
        problems[name] = RuleProblem(
            "QueryInvalid",
            f"the query does not compile: line {syntax_error.line}, column {syntax_error.column}: "
            f"{syntax_error.message}",
            line=syntax_error.line,
            column=syntax_error.column,
        )
    scopes = {compiled.name: compiled.scope for compiled in ruleset.rules}
    return RuleCatalog(ruleset=ruleset, scopes=scopes, problems=problems)
