"""`regex` conditions file their rule under a literal every match holds."""

from __future__ import annotations

from pathlib import Path

import pytest
from detect_helpers import process_event

from quarantine.detect import Detector, RuleSet
from quarantine.detect.triggers import CategoryContext, FieldTrigger, query_clauses
from quarantine.elastic_import import load_elastic_rule
from quarantine.eql import compile_query

PROCESS = CategoryContext("process", frozenset({"process"}), None)
TUNNELLING_RULE_ID = "9d94d61b-9476-41ff-a8d3-3d24b4bb8158"


def _best_clause(query: str) -> object:
    clauses = query_clauses(compile_query(query).node, PROCESS)
    return clauses[0] if clauses else None


@pytest.mark.parametrize(
    ("query", "substrings"),
    [
        ('process where process.args regex ".*:[0-9]+"', {":"}),
        # One-character literals: ":" is rarer in arguments than ".".
        ('process where process.args regex ".*[0-9]\\\\.[0-9]+:[0-9]+.*"', {":"}),
        # The longest literal wins; `regex~` literals are casefolded.
        ('process where process.args regex~ ".*-o ?ProxyCommand=.*"', {"proxycommand="}),
        # A list of patterns is an OR: one literal from each.
        ('process where process.args regex (".*abc.*", "x[0-9]y")', {"abc", "x"}),
    ],
)
def test_regex_gives_a_substring_trigger(query: str, substrings: set[str]) -> None:
    assert _best_clause(query) == {"process.args": FieldTrigger(substrings=frozenset(substrings))}


@pytest.mark.parametrize(
    "query",
    [
        'process where process.args regex ".*"',
        'process where process.args regex "(ab|cd)+"',
        # One pattern without a literal leaves the whole list without a trigger.
        'process where process.args regex (".*abc.*", "[a-z]+")',
    ],
)
def test_regex_without_a_required_literal_gives_no_trigger(query: str) -> None:
    assert _best_clause(query) is None


@pytest.fixture(scope="module")
def tunnelling(shared_dir: Path) -> RuleSet:
    path = shared_dir / "elastic-rules" / "cloud_defend"
    rule = load_elastic_rule(path / "command_and_control_tunneling_and_port_forwarding.toml")
    ruleset = RuleSet.from_rules([rule])
    assert ruleset.errors == {}
    return ruleset


def test_tunnelling_rule_skips_events_without_a_colon_in_the_arguments(
    tunnelling: RuleSet,
) -> None:
    event = process_event("busybox", "wget", "-q", "10.0.0.1", "/tmp/x.sh")
    assert tunnelling.index.candidates(event) == ()
    assert Detector(tunnelling, event_time_clock=True).process(event) == []


@pytest.mark.parametrize(
    "argv",
    [
        ("ssh", "-L", "8080:10.0.0.1:80", "host"),
        ("busybox", "10.0.0.1:80:10.0.0.2:90"),  # only the regex branch matches this one
        ("socks", "--forward=10.0.0.1:80:10.0.0.2:90;"),
    ],
)
def test_tunnelling_rule_still_alerts(tunnelling: RuleSet, argv: tuple[str, ...]) -> None:
    event = process_event(*argv)
    assert tunnelling.index.candidates(event) == tunnelling.rules
    drafts = Detector(tunnelling, event_time_clock=True).process(event)
    assert [draft.rule_id for draft in drafts] == [TUNNELLING_RULE_ID]


def test_a_colon_alone_no_longer_makes_a_candidate(tunnelling: RuleSet) -> None:
    # ":" is what the index looks the regex up by; the regex itself, run once per remembered
    # argument, then keeps a health check's URL away from the query.
    event = process_event("curl", "-s", "http://localhost:8080/health")
    assert tunnelling.index.candidates(event) == ()
    assert Detector(tunnelling, event_time_clock=True).process(event) == []
