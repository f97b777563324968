"""Evaluation semantics of Elasticsearch EQL on single events (see SEMANTICS.md)."""

from __future__ import annotations

from typing import Any

import pytest

from quarantine.eql import compile_query, evaluate_expression


def matches(condition: str, event: dict[str, Any]) -> bool:
    return compile_query(f"any where {condition}").matches(event)


@pytest.mark.parametrize(
    "event",
    [
        {"process": {"name": "tar"}},
        {"process.name": "tar"},
        {"process": {"name": ["gzip", "tar"]}},
        {"process": [{"name": "ls"}, {"name": "tar"}]},
    ],
)
def test_nested_dotted_and_array_layouts_resolve(event: dict[str, Any]) -> None:
    assert matches('process.name == "tar"', event)


def test_dotted_keys_inside_objects() -> None:
    event = {"container": {"image.name": "nginx"}, "orchestrator": {"resource.name": "web-1"}}
    assert matches(
        'container.image.name == "nginx" and orchestrator.resource.name : "WEB-*"', event
    )


def test_equality_is_case_sensitive_and_literal() -> None:
    event = {"name": "Tar*"}
    assert not matches('name == "tar*"', event)
    assert matches('name == "Tar*"', event)
    assert not matches('name == "T*"', {"name": "Tar"})


def test_colon_is_case_insensitive_with_wildcards() -> None:
    assert matches('name : "TAR"', {"name": "tar"})
    assert matches('name : "t?r*"', {"name": "TARBALL"})
    assert matches('path : "*\\\\ssh\\\\*"', {"path": "C:\\ssh\\key"})  # backslash is literal
    assert not matches('name : "t?r"', {"name": "tr"})


def test_in_insensitive_never_expands_wildcards() -> None:
    assert matches('name in~ ("TAR", "zip")', {"name": "tar"})
    assert not matches('name in~ ("t*")', {"name": "tar"})
    assert matches('name in~ ("t*")', {"name": "T*"})
    assert not matches('name in ("TAR")', {"name": "tar"})


def test_like_and_regex_case_rules() -> None:
    assert matches('name like "ta*"', {"name": "tar"})
    assert not matches('name like "TA*"', {"name": "tar"})
    assert matches('name like~ "TA*"', {"name": "tar"})
    assert matches('cmd regex ".*net1[ ]+user.*"', {"cmd": "c:\\net1  user x"})
    assert not matches('cmd regex "NET.*"', {"cmd": "net"})
    assert matches('cmd regex~ "NET.*"', {"cmd": "net"})
    assert not matches('cmd regex "\\\\s"', {"cmd": " "})  # no Perl classes in Lucene regex


def test_arrays_match_any_element_and_not_equal_means_none() -> None:
    event = {"args": ["-enc", "payload"]}
    assert matches('args : "-ENC"', event)
    assert not matches('args != "-enc"', event)
    assert matches('args != "-x"', event)


def test_three_valued_null_logic() -> None:
    event = {"a": 1}
    assert not matches("missing > 0", event)
    assert not matches("not (missing > 0)", event)
    assert matches("missing == null", event)
    assert matches("a != null", event)
    assert matches("null == (missing > 0)", event)
    assert matches("missing > 0 or a == 1", event)
    assert not matches("missing > 0 and a == 1", event)
    assert matches("arr == null", {"arr": [None]})
    assert not matches('nul != "x"', {"nul": None})


def test_scripts_see_the_smallest_doc_value() -> None:
    event = {"ports": [443, 80, 8080], "names": ["zeta", "alpha"]}
    assert matches("ports + 0 == 80", event)
    assert matches('concat(names, "") == "alpha"', event)
    assert matches("ports == 8080", event)  # plain comparison sees every element


def test_booleans_are_not_numbers() -> None:
    assert not matches("flag == 1", {"flag": True})
    assert matches("flag == true", {"flag": True})
    assert matches("flag", {"flag": [False, True]})


def test_category_field_arrays_and_exact_case() -> None:
    query = compile_query("process where true")
    assert query.matches({"event": {"category": ["network", "process"]}})
    assert not query.matches({"event": {"category": "Process"}})
    assert query.matches({"event_type": "process"}, category_field="event_type")
    assert not query.matches({})


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("7 / 2", 3),
        ("-7 / 2", -3),
        ("7 / 2.0", 3.5),
        ("-10 % 6", -4),
        ("10 % -6", 4),
        ("modulo(-10, -6)", -4),
        ('between("a-b-c", "-", "-")', "b"),
        ('between("a-b-c", "-", "-", true)', "b"),
        ('between("abc", "x", "c")', ""),
        ('between("abc", "", "c")', "abc"),
        ('indexOf("foobar", "z")', None),
        ('indexOf("foobar", "o", -5)', 1),
        ('indexOf("foo", "o", 10)', None),
        ('stringContains("abc", "")', False),
        ('endsWith("", "")', True),
        ('substring("hello world", -5, -1)', "worl"),
        ('number(" 0x1F ")', 31),
        ('number("12", 8)', 10),
        ("string(true)", "true"),
        ('concat("a", 1, true, 2.5)', "a1true2.5"),
        ('concat("a", null)', None),
        ('cidrMatch("10.1.2.3", "10.0.0.0/8")', True),
        ('cidrMatch("fe80::1", "fe80::/10")', True),
        ('startsWith~("FooBar", "foo")', True),
        ("null == null", True),
        ("null < 1", None),
        ("false or null", None),
        ("false and null", False),
        ("not null", None),
    ],
)
def test_functions_and_operators(expression: str, expected: Any) -> None:
    result = evaluate_expression(expression)
    assert result == expected and type(result) is type(expected)


def test_cidr_match_on_array_field_matches_any_element() -> None:
    assert matches('cidrMatch(ips, "192.168.0.0/16")', {"ips": ["10.0.0.1", "192.168.1.1"]})
    assert not matches('cidrMatch(ips, "172.16.0.0/12")', {"ips": ["10.0.0.1", "bad"]})


def test_schema_typed_dates_versions_and_unmapped_optionals() -> None:
    schema = {"@timestamp": "date", "v": "version"}
    query = compile_query(
        'any where @timestamp >= "2024-01-01T00:00:00Z" and v > "1.5.0" and ?nope == null',
        schema=schema,
    )
    assert query.matches({"@timestamp": 1704067200000, "v": "1.11.0"})
    assert not query.matches({"@timestamp": "2023-12-31T23:59:59Z", "v": "1.11.0"})
    assert not query.matches({"@timestamp": 1704067200000, "v": "1.2.0"})
