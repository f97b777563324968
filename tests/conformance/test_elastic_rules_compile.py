"""Every EQL query among Elastic's container detection rules compiles with our engine."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from quarantine.eql import compile_query

RULES_ROOT = Path(__file__).resolve().parents[2] / ".." / "shared" / "elastic-rules"
FOUNDING_RULE_ID = "475b42f0-61fb-4ef0-8a85-597458bfb0a1"


def _eql_rules() -> list[tuple[str, str, str]]:
    if not RULES_ROOT.is_dir():
        return []
    found = []
    for path in sorted(RULES_ROOT.rglob("*.toml")):
        rule = tomllib.loads(path.read_text()).get("rule", {})
        if rule.get("language") == "eql":
            found.append((str(path.relative_to(RULES_ROOT)), rule["rule_id"], rule["query"]))
    return found


EQL_RULES = _eql_rules()

if not EQL_RULES:
    pytest.skip(
        "the shared Elastic rules (../shared/elastic-rules) are not present",
        allow_module_level=True,
    )


def test_corpus_has_the_expected_rules() -> None:
    assert len(EQL_RULES) == 85
    assert FOUNDING_RULE_ID in {rule_id for _, rule_id, _ in EQL_RULES}


@pytest.mark.parametrize(
    ("path", "rule_id", "text"), EQL_RULES, ids=[path for path, _, _ in EQL_RULES]
)
def test_rule_query_compiles(path: str, rule_id: str, text: str) -> None:
    query = compile_query(text)
    assert query.text == text
    assert query.kind in ("event", "sequence")


@pytest.mark.parametrize(
    ("path", "rule_id", "text"), EQL_RULES, ids=[path for path, _, _ in EQL_RULES]
)
def test_endgame_eql_parses_the_same_rules(path: str, rule_id: str, text: str) -> None:
    """Cross-check with the `eql` package's parser (parse only; it is not our evaluator).

    That parser predates `with runs=N`; rules using it are the only ones it may reject.
    """
    eql = pytest.importorskip("eql")
    with eql.parser.elasticsearch_syntax, eql.parser.ignore_missing_functions:
        if "runs=" in text.replace(" ", ""):
            with pytest.raises(eql.EqlSyntaxError, match="repeated"):
                eql.parse_query(text)
        else:
            eql.parse_query(text)
