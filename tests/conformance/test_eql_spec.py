"""Runs every query of Elasticsearch's EQL spec corpus against our engine.

One test per spec query (data-driven files) and per folding case (`unit/`). Known failures
are listed with a reason in expected_failures.toml and must keep failing (strict xfail).
"""

from __future__ import annotations

import math
import tomllib
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from spec_corpus import (
    Dataset,
    FoldCase,
    SpecQuery,
    corpus_present,
    load_dataset,
    load_fold_cases,
    load_spec_queries,
)

from quarantine.eql import EqlSyntaxError, compile_query, evaluate_expression
from quarantine.eql import ast as eql_ast

EXPECTED_FAILURES: dict[str, str] = tomllib.loads(
    (Path(__file__).parent / "expected_failures.toml").read_text()
)["failures"]

if not corpus_present():
    pytest.skip(
        "the shared EQL spec corpus (../shared/eql-spec) is not present", allow_module_level=True
    )


def _with_expected_failures(cases: list[Any]) -> list[Any]:
    params = []
    for case in cases:
        reason = EXPECTED_FAILURES.get(case.test_id)
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        params.append(pytest.param(case, id=case.test_id, marks=marks))
    return params


SPEC_QUERIES = load_spec_queries()
FOLD_CASES = load_fold_cases()


@cache
def dataset(name: str) -> Dataset:
    return load_dataset(name)


def test_at_least_98_percent_of_the_corpus_is_expected_to_pass() -> None:
    # Strict xfails make every listed failure real and every other case a pass, so the listed
    # failures bound the pass rate.
    total = len(SPEC_QUERIES) + len(FOLD_CASES)
    assert (total - len(EXPECTED_FAILURES)) / total >= 0.98


def test_expected_failures_name_real_tests() -> None:
    known = {case.test_id for case in [*SPEC_QUERIES, *FOLD_CASES]}
    assert set(EXPECTED_FAILURES) <= known, set(EXPECTED_FAILURES) - known


@pytest.mark.parametrize("spec", _with_expected_failures(SPEC_QUERIES))
def test_spec_query(spec: SpecQuery) -> None:
    data = dataset(spec.dataset)
    query = compile_query(spec.query, schema=data.schema)
    results = list(
        query.run(
            data.events,
            category_field=data.category_field,
            timestamp_field="@timestamp",
            tiebreaker_field=data.tiebreaker,
            size=50 if spec.size is None else spec.size,
            max_samples_per_key=spec.max_samples_per_key,
        )
    )
    ids = [-1 if event is None else event[data.id_field] for result in results for event in result]
    assert ids in spec.expected, f"got {ids}, expected one of {spec.expected}"
    if spec.join_keys is not None:
        rendered = [
            _render_key(value, field_type, query.kind)
            for result in results
            for value, field_type in zip(result.join_keys, _key_types(query, data), strict=True)
        ]
        assert rendered == spec.join_keys


def _key_types(query: Any, data: Dataset) -> list[str | None]:
    node = query.node
    assert isinstance(node, eql_ast.SequenceQuery | eql_ast.SampleQuery)
    keys = [*node.keys, *node.stages[0].keys]
    return [data.schema.get(k.path) if isinstance(k, eql_ast.Field) else None for k in keys]


def _render_key(value: Any, field_type: str | None, kind: str) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if field_type in ("date", "date_nanos") and isinstance(value, int):
        millis = value // 1_000_000
        if kind == "sample":
            return str(millis)
        moment = datetime.fromtimestamp(millis / 1000, tz=UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis % 1000:03d}Z"
    return str(value)


@pytest.mark.parametrize("case", _with_expected_failures(FOLD_CASES))
def test_folding(case: FoldCase) -> None:
    if case.must_fail:
        with pytest.raises(EqlSyntaxError):
            evaluate_expression(case.expression)
        return
    result = evaluate_expression(case.expression)
    expected = case.expected
    if isinstance(expected, float) and isinstance(result, float):
        assert math.isclose(result, expected, rel_tol=1e-12)
    else:
        assert result == expected and type(result) is type(expected), (
            f"{case.expression} gave {result!r}, expected {expected!r}"
        )
