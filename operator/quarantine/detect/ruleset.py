"""The compiled rule set: every enabled rule compiled once, and the prefilter index over them."""

from __future__ import annotations

from collections.abc import Iterable

from quarantine.api import DetectionRule
from quarantine.detect.index import RuleIndex
from quarantine.detect.rule import CompiledRule, compile_rule
from quarantine.eql import EqlSyntaxError


class RuleSet:
    """Compiled rules by name. Rules that do not compile are left out and listed in `errors`,
    so one bad rule never stops the others."""

    def __init__(self, rules: Iterable[CompiledRule], errors: dict[str, EqlSyntaxError]) -> None:
        ordered = sorted(rules, key=lambda rule: rule.name)
        self.rules: tuple[CompiledRule, ...] = tuple(ordered)
        self.errors = dict(errors)
        self._by_name = {rule.name: rule for rule in ordered}
        self.index = RuleIndex(self.rules)

    @classmethod
    def from_rules(cls, rules: Iterable[DetectionRule]) -> RuleSet:
        """Compile every enabled rule; disabled ones are skipped. Two rules with one name are
        refused (a ValueError), as are rules without a name."""
        compiled: list[CompiledRule] = []
        errors: dict[str, EqlSyntaxError] = {}
        seen: set[str] = set()
        for rule in rules:
            name = rule.metadata.name
            if not name:
                raise ValueError("a DetectionRule has no metadata.name")
            if name in seen:
                raise ValueError(f"two DetectionRules are named {name!r}")
            seen.add(name)
            if not rule.spec.enabled:
                continue
            try:
                compiled.append(compile_rule(rule))
            except EqlSyntaxError as error:
                errors[name] = error
        return cls(compiled, errors)

    @classmethod
    def empty(cls) -> RuleSet:
        return cls((), {})

    def get(self, name: str) -> CompiledRule | None:
        """The compiled rule called `name`, if it is in the set."""
        return self._by_name.get(name)

    def __len__(self) -> int:
        return len(self.rules)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name
