"""Compiling rule sets: bad rules are reported with line and column and left out."""

from __future__ import annotations

import pytest
from detect_helpers import make_rule

from quarantine.detect import ExceptionSyntaxError, RuleSet


def test_bad_query_is_reported_and_the_rest_still_work() -> None:
    ruleset = RuleSet.from_rules(
        [make_rule("good"), make_rule("bad", 'process where\n  process.name == "x" and and')]
    )
    assert [rule.name for rule in ruleset.rules] == ["good"]
    error = ruleset.errors["bad"]
    assert error.line == 2
    assert error.column >= 22
    assert "good" in ruleset and "bad" not in ruleset


def test_bad_exception_points_into_its_condition() -> None:
    rule = make_rule(
        "with-exception",
        exceptions=[
            {"name": "fine", "condition": 'process.name == "ok"'},
            {"name": "broken", "condition": 'process.name == "a" or'},
        ],
    )
    ruleset = RuleSet.from_rules([rule])
    error = ruleset.errors["with-exception"]
    assert isinstance(error, ExceptionSyntaxError)
    assert error.index == 1
    assert error.line == 1
    assert "exceptions[1] (broken)" in error.message


def test_disabled_rules_are_skipped() -> None:
    ruleset = RuleSet.from_rules([make_rule("off", enabled=False), make_rule("on")])
    assert [rule.name for rule in ruleset.rules] == ["on"]
    assert ruleset.errors == {}


def test_duplicate_names_are_refused() -> None:
    with pytest.raises(ValueError, match="two DetectionRules are named 'twin'"):
        RuleSet.from_rules([make_rule("twin"), make_rule("twin")])


def test_settings_in_seconds() -> None:
    rule = make_rule("r", interval="1m", lookback="2h", maxSignals=7)
    (compiled,) = RuleSet.from_rules([rule]).rules
    assert compiled.interval_seconds == 60
    assert compiled.lookback_seconds == 7200
    assert compiled.max_signals == 7
    assert compiled.suppression.duration_seconds == 60  # defaults to the interval
