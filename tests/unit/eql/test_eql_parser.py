"""Parsing: what compiles, and errors that name what was wrong and where."""

from __future__ import annotations

import pytest

from quarantine.eql import EqlSyntaxError, compile_query


def error_of(text: str) -> EqlSyntaxError:
    with pytest.raises(EqlSyntaxError) as caught:
        compile_query(text)
    return caught.value


def test_error_is_a_value_error_with_position() -> None:
    error = error_of('process where\n  process.name = "tar"')
    assert isinstance(error, ValueError)
    assert (error.line, error.column) == (2, 16)
    assert "use '=='" in error.message
    assert str(error).startswith("line 2, column 16:")


@pytest.mark.parametrize(
    ("text", "fragment", "column"),
    [
        ("process where process.name == 'tar'", "single-quoted", 31),
        ("join [process where true] [file where true]", "'join' is not supported", 1),
        ("process where true | unique process.name", "pipe 'unique' is not supported", 22),
        ("process where true | sort x", "pipe 'sort' is not supported", 22),
        ('process where arrayContains(process.args, "a")', "'arrayContains' is not supported", 15),
        ("process where nosuch(process.name)", "unknown function 'nosuch'", 15),
        ("process where 1 < pid < 5", "chained comparisons", 23),
        ('process where process.args[0] == "a"', "array indexing", 27),
        ("process where process.name == ", "expected a value", 31),
        ('process process.name == "a"', "expected 'where'", 9),
        ("where true", "expected an event category", 1),
        ("process where length(1)", "must be a string", 22),
        ("process where number(true)", "must be a string", 22),
        ('process where startsWith("a")', "takes 2 arguments, found 1", 15),
        ("process where length~(process.name) > 1", "no case-insensitive", 15),
        ("process where process.name like process.title", "must be a string constant", 33),
        ("process where pid == ppid", "comparing two fields", 19),
        ('process where process.name : "a" | head -1', "zero or more", 41),
        ('process where "abc"', "must be true or false", 15),
        ("sequence [process where true]", "at least 2 stages", 1),
        ("sequence [process where true] ![file where true]", "needs 'with maxspan", 1),
        ("sequence with maxspan=5 [a where true] [b where true]", "time unit", 25),
        ("sequence with maxspan=5m by x [a where true] [b where true]", "before 'with", 26),
        ("sequence [a where true] by x [b where true]", "same number of 'by' keys", 30),
        ("sequence [a where true] with runs=101 [b where true]", "between 1 and 100", 35),
        (
            "sample [a where true] [b where true] until [c where true]",
            "does not support 'until'",
            38,
        ),
        ('process where x regex "a&b"', "intersection", 17),
        ('process where "a\\qb" == x', "invalid escape", 17),
    ],
)
def test_refusals_name_the_problem_and_its_place(text: str, fragment: str, column: int) -> None:
    error = error_of(text)
    assert fragment in error.message
    assert error.line == 1
    assert error.column == column


def test_comments_raw_strings_escapes_and_backticks() -> None:
    query = compile_query(
        'process where /* block */ `odd-field` == """C:\\raw\\path""" // trailing\n'
        '  and name == "tab\\there \\u{41}"'
    )
    event = {
        "event": {"category": "process"},
        "odd-field": "C:\\raw\\path",
        "name": "tab\there A",
    }
    assert query.matches(event)


def test_kinds_categories_and_text() -> None:
    text = "sequence by host.id [process where true] [network where true] until [file where true]"
    query = compile_query(text)
    assert query.kind == "sequence"
    assert query.text == text
    assert query.categories == frozenset({"process", "network", "file"})
    assert compile_query("any where true").categories is None
    assert compile_query('"my-cat" where true').categories == frozenset({"my-cat"})
    sample = compile_query("sample by h [a where true] [b where true]")
    assert sample.kind == "sample"


def test_required_values_from_conjuncts_and_common_disjunct_fields() -> None:
    query = compile_query(
        'process where host.os.type == "Linux" and process.name in ("tar", "ZIP") and '
        '(process.args : "a" or process.args in~ ("B", "c")) and process.title : "x*" and '
        "not process.pid == 1"
    )
    assert query.required_values == {
        "host.os.type": frozenset({"linux"}),
        "process.name": frozenset({"tar", "zip"}),
        "process.args": frozenset({"a", "b", "c"}),
    }
    assert compile_query('process where pid == 1 or name == "x"').required_values == {}
    assert compile_query('sequence [a where x == "1"] [b where true]').required_values == {}
