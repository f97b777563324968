"""crds/examples: each example is a valid DetectionRule; the founding rule keeps Elastic's facts."""

from __future__ import annotations

import importlib
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from quarantine.api import DetectionRule, validate_object

REPO_ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = sorted((REPO_ROOT / "crds" / "examples").glob("*.yaml"))
FOUNDING_RULE_ID = "475b42f0-61fb-4ef0-8a85-597458bfb0a1"
FOUNDING_TOML = (
    "elastic-rules/cloud_defend_related/legacy_561ab703/rules/integrations/cloud_defend/"
    "credential_access_collection_sensitive_files_compression_inside_a_container.toml"
)


def load_example(path: Path) -> DetectionRule:
    documents = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    assert len(documents) == 1, f"{path.name}: expected one document"
    return validate_object(DetectionRule, documents[0], what=path.name)


def query_compiler() -> Callable[[str], Any]:
    """quarantine.eql.compile_query, or skip while the EQL engine has not landed."""
    module = importlib.import_module("quarantine.eql")
    compile_query = getattr(module, "compile_query", None)
    if compile_query is None:
        pytest.skip("quarantine.eql.compile_query is not available yet")
    return compile_query  # type: ignore[no-any-return]


def without_comments_and_space(query: str) -> str:
    return re.sub(r"\s+", "", re.sub(r"/\*.*?\*/", "", query, flags=re.S))


def test_examples_exist() -> None:
    names = {p.name for p in EXAMPLES}
    assert {"sensitive-files-compression.yaml", "sensitive-files-compression-scaledown.yaml"} <= (
        names
    )


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_is_a_valid_rule(path: Path) -> None:
    rule = load_example(path)
    assert rule.metadata.name == path.stem
    assert rule.spec.response is not None and rule.spec.response.actions


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_query_and_exceptions_compile(path: Path) -> None:
    compile_query = query_compiler()
    rule = load_example(path)
    assert compile_query(rule.spec.query).kind == "event"
    for exception in rule.spec.exceptions:
        compile_query(f"any where {exception.condition}")


def test_playbooks_isolate_and_scale_down() -> None:
    isolate = load_example(REPO_ROOT / "crds/examples/sensitive-files-compression.yaml")
    scale = load_example(REPO_ROOT / "crds/examples/sensitive-files-compression-scaledown.yaml")
    assert isolate.spec.response is not None and scale.spec.response is not None
    assert isolate.spec.response.mode == "Enforce"
    assert isolate.spec.response.actions[0].name == "isolate"
    assert scale.spec.response.actions[0].name == "scaleDown"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_founding_rule_facts_match_elastic(path: Path, shared_dir: Path) -> None:
    rule = load_example(path).spec
    elastic = tomllib.loads((shared_dir / FOUNDING_TOML).read_text(encoding="utf-8"))["rule"]
    assert elastic["rule_id"] == FOUNDING_RULE_ID == rule.rule_id
    assert rule.display_name is not None and rule.display_name.startswith(elastic["name"])
    assert without_comments_and_space(rule.query) == without_comments_and_space(elastic["query"])
    assert (rule.severity, rule.risk_score) == (elastic["severity"], elastic["risk_score"])
    assert (rule.interval, f"now-{rule.lookback}") == (elastic["interval"], elastic["from"])
    assert rule.max_signals == 100
    assert rule.timestamp_field == elastic["timestamp_override"]
    assert rule.indices == elastic["index"]
    ours = [
        (t.tactic.id, [(x.id, [s.id for s in x.subtechnique]) for x in t.technique])
        for t in rule.threat
    ]
    theirs = [
        (
            t["tactic"]["id"],
            [(x["id"], [s["id"] for s in x.get("subtechnique", [])]) for x in t["technique"]],
        )
        for t in elastic["threat"]
    ]
    assert (
        ours
        == theirs
        == [("TA0006", [("T1552", ["T1552.001"])]), ("TA0009", [("T1560", ["T1560.001"])])]
    )
