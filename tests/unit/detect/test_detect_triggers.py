"""Trigger values: the necessary "one of these values" condition the index files rules by."""

from __future__ import annotations

from quarantine.detect.triggers import NEVER, CategoryContext, FieldTrigger, query_clauses
from quarantine.eql import compile_query

PROCESS = CategoryContext("process", frozenset({"process", "file"}), None)


def _triggers(query: str, context: CategoryContext = PROCESS) -> object:
    """The most selective clause ({} when the query cannot match, None without any)."""
    clauses = query_clauses(compile_query(query).node, context)
    if clauses == NEVER:
        return {}
    return clauses[0] if clauses else None


def test_or_across_fields_unites_and_and_keeps_the_most_selective() -> None:
    found = _triggers(
        'process where event.type == "start" and '
        '(process.name == "nsenter" or process.args in ("nsenter", "/usr/bin/nsenter"))'
    )
    assert found == {
        "process.name": FieldTrigger(frozenset({"nsenter"})),
        "process.args": FieldTrigger(frozenset({"nsenter", "/usr/bin/nsenter"})),
    }


def test_low_selectivity_fields_only_when_nothing_better() -> None:
    assert _triggers('process where event.type == "start" and process.name : "TAR"') == {
        "process.name": FieldTrigger(frozenset({"tar"}))
    }
    assert _triggers('process where event.type == "start" and process.name : "*t*"') == {
        "event.type": FieldTrigger(frozenset({"start"}))
    }
    assert _triggers('process where event.type == "start" and user.id == "0"') == {
        "event.type": FieldTrigger(frozenset({"start"}))
    }


def test_wildcard_patterns_give_prefixes_or_substrings() -> None:
    assert _triggers('process where process.executable like ("/tmp/*", "/dev/shm/*")') == {
        "process.executable": FieldTrigger(prefixes=frozenset({"/tmp/", "/dev/shm/"}))
    }
    assert _triggers('process where process.name : ("python*", "perl")') == {
        "process.name": FieldTrigger(frozenset({"perl"}), frozenset({"python"}))
    }
    assert _triggers('process where process.args like ("http*:10250*", "*kubeletctl*")') == {
        "process.args": FieldTrigger(
            prefixes=frozenset({"http"}), substrings=frozenset({"kubeletctl"})
        )
    }
    assert _triggers('process where process.args like~ "*/ROOT/.ssh/*id*"') == {
        "process.args": FieldTrigger(substrings=frozenset({"/root/.ssh/"}))
    }
    # Nothing worth looking up: no constraint at all.
    assert _triggers('process where container.id like "?*"') is None
    assert _triggers('process where process.name like "*"') is None
    assert _triggers('process where process.args like~ "*-*d*"') is None


def test_in_and_equality_take_stars_literally() -> None:
    assert _triggers('process where process.name in ("a*")') == {
        "process.name": FieldTrigger(frozenset({"a*"}))
    }


def test_negations_give_no_triggers_and_regexes_their_required_literal() -> None:
    assert _triggers('process where not process.name == "x"') is None
    assert _triggers('process where process.args regex ".*:[0-9]+"') == {
        "process.args": FieldTrigger(substrings=frozenset({":"}))
    }


def test_event_category_conditions_are_resolved_per_bucket() -> None:
    query = (
        'any where (event.category == "file" and file.path == "/etc/shadow") or '
        '(event.category == "process" and process.name == "cat")'
    )
    any_rule = frozenset({"process", "file"})
    in_process = CategoryContext("process", any_rule, None)
    in_file = CategoryContext("file", any_rule, None)
    in_none = CategoryContext(None, any_rule, None)
    assert _triggers(query, in_process) == {"process.name": FieldTrigger(frozenset({"cat"}))}
    assert _triggers(query, in_file) == {"file.path": FieldTrigger(frozenset({"/etc/shadow"}))}
    assert _triggers(query, in_none) == {}  # neither branch can match: not filed there


def test_sequences_unite_the_stages_of_the_bucket() -> None:
    query = (
        "sequence by container.id with maxspan=5s "
        '[file where file.path like "/tmp/*"] '
        '[process where process.name == "sh"]'
    )
    in_process = CategoryContext("process", frozenset({"process", "file"}), frozenset({"file"}))
    in_file = CategoryContext("file", frozenset({"process", "file"}), frozenset({"file"}))
    assert _triggers(query, in_process) == {"process.name": FieldTrigger(frozenset({"sh"}))}
    assert _triggers(query, in_file) == {"file.path": FieldTrigger(prefixes=frozenset({"/tmp/"}))}


def test_and_keeps_every_clause_most_selective_first() -> None:
    query = (
        'process where event.type == "start" and '
        '(process.name == "tar" or (process.name in ("sh", "bash") and process.args == "tar")) '
        'and process.args like~ ("*/root/.ssh/*", "*/etc/shadow*")'
    )
    clauses = query_clauses(compile_query(query).node, PROCESS)
    tar = frozenset({"tar"})
    assert clauses == [
        # the `or`, rank by rank: each branch's best clause, then each branch's second
        {"process.name": FieldTrigger(frozenset({"tar", "sh", "bash"}))},
        {"process.name": FieldTrigger(tar), "process.args": FieldTrigger(tar)},
        {"process.args": FieldTrigger(substrings=frozenset({"/root/.ssh/", "/etc/shadow"}))},
        {"event.type": FieldTrigger(frozenset({"start"}))},
    ]


def _tests_pass(query: str, field: str, value: object) -> bool:
    clause = _triggers(query)
    assert isinstance(clause, dict)
    tests = clause[field].tests
    assert tests is not None
    return any(test(value) for test in tests)


def test_triggers_carry_their_conditions_own_value_tests() -> None:
    kubelet = 'process where process.args like ("http*:10250*", "wss:*:10250*")'
    assert _tests_pass(kubelet, "process.args", "https://10.0.0.1:10250/pods")
    # Shares the prefix "http" it is looked up by, yet fails the pattern.
    assert not _tests_pass(kubelet, "process.args", "http://localhost:8080/health")
    assert not _tests_pass('process where process.name in ("tar")', "process.name", "TAR")
    assert _tests_pass('process where process.name : "TAR"', "process.name", "tar")
    regex = 'process where process.args regex~ ".*[0-9]+:[0-9]+.*"'
    assert _tests_pass(regex, "process.args", "-L8080:80")
    assert not _tests_pass(regex, "process.args", "host:port")
    # An `or` keeps both branches' tests for a field they share.
    either = 'process where process.name == "nc" or process.name like "ncat*"'
    assert _tests_pass(either, "process.name", "nc")
    assert _tests_pass(either, "process.name", "ncat7")
    assert not _tests_pass(either, "process.name", "NC")


def test_boolean_equality_gives_a_trigger_held_to_real_booleans() -> None:
    query = "process where process.entry_leader.same_as_process == true"
    clause = _triggers(query)
    assert clause == {"process.entry_leader.same_as_process": FieldTrigger(frozenset({"true"}))}
    field = "process.entry_leader.same_as_process"
    assert _tests_pass(query, field, True)
    assert not _tests_pass(query, field, "true")
    assert not _tests_pass(query, field, False)
