"""Whether a DetectionRule may be stored: its spec fits the model and its EQL compiles.

Pure: no Kubernetes, no kopf. The admission handler turns the problems into a refusal; the same
check can run offline (e.g. before `kubectl apply`, in CI).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from quarantine.api import DetectionRule, DetectionRuleSpec, ObjectMeta
from quarantine.api.errors import field_path
from quarantine.detect.rule import ExceptionSyntaxError, compile_rule
from quarantine.eql import EqlSyntaxError


@dataclass(frozen=True)
class RuleProblem:
    """One reason a rule is refused. `path` is where in the object, e.g. `spec.query`."""

    path: str
    message: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = self.path
        if self.line is not None and self.column is not None:
            where = f"{where}: line {self.line}, column {self.column}"
        return f"{where}: {self.message}"


def find_rule_problems(rule: Mapping[str, Any]) -> list[RuleProblem]:
    """The problems that keep a DetectionRule object from being stored; empty when it is fine.

    Shape problems (unknown or missing fields, wrong types) come from the API model, which
    refuses unknown fields, so a misspelt playbook option is reported instead of ignored; all of
    them are listed. Only a well-shaped rule is compiled, exactly as the matcher compiles it, and
    the first query or exception that does not compile is reported with its line and column.
    """
    spec = rule.get("spec")
    if not isinstance(spec, Mapping):
        return [RuleProblem("spec", "is required and must be an object")]
    try:
        model = DetectionRuleSpec.model_validate(dict(spec))
    except ValidationError as error:
        return [_problem_from_pydantic(detail) for detail in error.errors()]
    # The name only labels the compiled rule; admission may see a generateName'd object.
    name = str((rule.get("metadata") or {}).get("name") or "unnamed")
    try:
        compile_rule(DetectionRule(metadata=ObjectMeta(name=name), spec=model))
    except ExceptionSyntaxError as error:
        cause = error.__cause__ if isinstance(error.__cause__, EqlSyntaxError) else error
        path = f"spec.exceptions[{error.index}].condition"
        return [RuleProblem(path, cause.message, error.line, error.column)]
    except EqlSyntaxError as error:
        return [RuleProblem("spec.query", error.message, error.line, error.column)]
    return []


def describe_problems(rule_name: str | None, problems: Sequence[RuleProblem]) -> str:
    """One message for kubectl: which rule, then each problem on its own line."""
    subject = f"DetectionRule {rule_name!r}" if rule_name else "DetectionRule"
    if len(problems) == 1:
        return f"{subject} is invalid: {problems[0]}"
    listed = "\n".join(f"  - {problem}" for problem in problems)
    return f"{subject} is invalid ({len(problems)} problems):\n{listed}"


def spec_changed(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> bool:
    """Whether an update touches the spec.

    Metadata-only updates (finalizers, annotations kopf writes, labels) pass unchecked, so a rule
    stored before a stricter version of the model can still be annotated and deleted.
    """
    if old is None or new is None:
        return True
    return old.get("spec") != new.get("spec")


def _problem_from_pydantic(detail: ErrorDetails) -> RuleProblem:
    path = field_path(("spec", *detail["loc"]))
    if detail["type"] == "extra_forbidden":
        return RuleProblem(path, "unknown field (not part of the DetectionRule schema)")
    message = detail["msg"]
    # pydantic prefixes messages of our own validators; the path already says where.
    message = message.removeprefix("Value error, ")
    return RuleProblem(path, message)
