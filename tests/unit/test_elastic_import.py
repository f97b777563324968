"""Elastic detection-rules TOML -> DetectionRule conversion and the `import-elastic` command."""

from __future__ import annotations

import argparse
import importlib
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from quarantine.api import DetectionRule, to_manifest, validate_object
from quarantine.commands.import_elastic import register
from quarantine.elastic_import import (
    ElasticImportError,
    NotEqlRuleError,
    convert_rule,
    load_elastic_rule,
    lookback_from,
    resource_name,
)

FOUNDING_TOML = (
    "elastic-rules/cloud_defend_related/legacy_561ab703/rules/integrations/cloud_defend/"
    "credential_access_collection_sensitive_files_compression_inside_a_container.toml"
)
KUERY_TOML = "elastic-rules/cloud_defend/container_workload_protection.toml"
DNS_1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def main(argv: list[str]) -> int:
    """Run `quarantine import-elastic` as the CLI would, with only this subcommand registered,
    so a broken sibling command module cannot fail these tests."""
    parser = argparse.ArgumentParser(prog="quarantine")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    result: int = args.handler(args)
    return result


def rule_files(shared: Path) -> list[Path]:
    return sorted((shared / "elastic-rules").rglob("*.toml"))


def eql_rule_files(shared: Path) -> list[Path]:
    return [p for p in rule_files(shared) if tomllib.loads(p.read_text())["rule"]["type"] == "eql"]


def minimal_document(**rule_changes: Any) -> dict[str, Any]:
    rule = {
        "type": "eql",
        "language": "eql",
        "name": "Netcat Listener",
        "rule_id": "0000-1111",
        "query": 'process where process.name == "nc"',
        "severity": "high",
        "risk_score": 73,
    }
    rule.update(rule_changes)
    return {"metadata": {"maturity": "production"}, "rule": rule}


def test_all_85_eql_rules_convert(shared_dir: Path) -> None:
    files = eql_rule_files(shared_dir)
    assert len(files) == 85
    names: dict[str, str] = {}
    for path in files:
        rule = load_elastic_rule(path)
        elastic = tomllib.loads(path.read_text())["rule"]
        assert rule.spec.rule_id == elastic["rule_id"]
        assert rule.spec.query == elastic["query"].strip()
        assert rule.spec.response is not None and rule.spec.response.mode == "DryRun"
        assert [a.name for a in rule.spec.response.actions] == ["isolate"]
        name = rule.metadata.name
        assert name is not None and DNS_1123_LABEL.match(name) and len(name) <= 63, name
        # Names are unique per rule_id (the legacy copies share ids with the current ones).
        assert names.setdefault(name, rule.spec.rule_id) == rule.spec.rule_id
        # What the command prints must validate again, exactly as an API client reads it.
        assert validate_object(DetectionRule, to_manifest(rule, only_set=True)) == rule
    assert len(names) == 85, "two different rules were given the same name"


def test_converted_queries_compile(shared_dir: Path) -> None:
    compile_query = getattr(importlib.import_module("quarantine.eql"), "compile_query", None)
    if compile_query is None:
        pytest.skip("quarantine.eql.compile_query is not available yet")
    for path in eql_rule_files(shared_dir):
        compile_query(load_elastic_rule(path).spec.query)


def test_founding_rule_keeps_every_field(shared_dir: Path) -> None:
    rule = load_elastic_rule(shared_dir / FOUNDING_TOML)
    spec = rule.spec
    assert rule.metadata.name == "sensitive-files-compression-inside-a-container-427b65f3"
    assert rule.metadata.labels == {"quarantine.io/source": "elastic-detection-rules"}
    assert rule.metadata.annotations["quarantine.io/elastic-maturity"] == "production"
    assert spec.rule_id == "475b42f0-61fb-4ef0-8a85-597458bfb0a1"
    assert spec.display_name == "Sensitive Files Compression Inside A Container"
    assert spec.description is not None and spec.description.startswith("Identifies the use")
    assert (spec.severity, spec.risk_score, spec.interval, spec.lookback) == (
        "medium",
        47,
        "5m",
        "6m",
    )
    assert spec.max_signals == 100 and spec.timestamp_field == "event.ingested"
    assert spec.indices == ["logs-cloud_defend*"]
    assert "Tactic: Credential Access" in spec.tags
    assert [t.tactic.id for t in spec.threat] == ["TA0006", "TA0009"]
    assert spec.threat[1].technique[0].subtechnique[0].id == "T1560.001"
    assert spec.investigation_guide is not None
    assert spec.investigation_guide.startswith("## Triage and analysis")
    assert (spec.author, spec.license, spec.enabled) == (["Elastic"], "Elastic License v2", True)


def test_optional_elastic_fields_map_over() -> None:
    document = minimal_document(
        max_signals=7,
        interval="60m",
        **{"from": "now-119m"},
        false_positives=["admins"],
        references=["https://example.test"],
        version=3,
        note="guide",
        enabled=False,
    )
    spec = convert_rule(document, source="x.toml").spec
    assert (spec.max_signals, spec.interval, spec.lookback) == (7, "60m", "119m")
    assert (spec.false_positives, spec.references) == (["admins"], ["https://example.test"])
    assert (spec.version, spec.investigation_guide, spec.enabled) == (3, "guide", False)


def test_deprecated_rules_are_imported_disabled() -> None:
    document = minimal_document()
    document["metadata"]["maturity"] = "deprecated"
    assert convert_rule(document, source="x.toml").spec.enabled is False


def test_resource_name_is_deterministic_and_bounded() -> None:
    first = resource_name("Sensitive Files Compression Inside A Container", "id-1")
    assert first == resource_name("Sensitive Files Compression Inside A Container", "id-1")
    assert first != resource_name("Sensitive Files Compression Inside A Container", "id-2")
    long = resource_name("A" * 40 + " -- " + "b" * 80, "id-1")
    assert len(long) == 63 and DNS_1123_LABEL.match(long)
    assert DNS_1123_LABEL.match(resource_name("!!!", "id-1"))


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            minimal_document(type="query", language="kuery"),
            "is of type 'query' (language 'kuery'); only EQL rules",
        ),
        (minimal_document(type="esql", language="esql"), "is of type 'esql'"),
        ({"metadata": {}}, "no [rule] table"),
        (
            minimal_document(**{"from": "now-6 minutes"}),
            "from = 'now-6 minutes' is not of the form",
        ),
        (minimal_document(risk_score=250), "spec.riskScore: Input should be less than or equal"),
    ],
)
def test_bad_rules_are_refused_with_the_reason(document: dict[str, Any], message: str) -> None:
    with pytest.raises(ElasticImportError) as caught:
        convert_rule(document, source="bad.toml")
    assert str(caught.value).startswith("bad.toml"), caught.value
    assert message in str(caught.value)


def test_missing_key_is_named() -> None:
    document = minimal_document()
    del document["rule"]["severity"]
    with pytest.raises(ElasticImportError, match=r"missing required key rule\.severity"):
        convert_rule(document, source="bad.toml")


def test_non_eql_is_its_own_error_type(shared_dir: Path) -> None:
    with pytest.raises(NotEqlRuleError):
        load_elastic_rule(shared_dir / KUERY_TOML)


def test_lookback_from() -> None:
    assert lookback_from("now-6m") == "6m"
    with pytest.raises(ValueError, match="now-<number>"):
        lookback_from("now")


def test_cli_prints_good_rules_and_refuses_others(
    shared_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[rule\n")
    good = [shared_dir / FOUNDING_TOML, eql_rule_files(shared_dir)[0]]
    status = main(
        ["import-elastic", str(good[0]), str(shared_dir / KUERY_TOML), str(broken), str(good[1])]
    )
    captured = capsys.readouterr()
    assert status == 1
    documents = list(yaml.safe_load_all(captured.out))
    assert [d["spec"]["ruleId"] for d in documents] == [
        tomllib.loads(p.read_text())["rule"]["rule_id"] for p in good
    ]
    assert documents[0]["spec"]["response"] == {"mode": "DryRun", "actions": [{"isolate": {}}]}
    assert "container_workload_protection.toml: rule 'Container Workload Protection'" in (
        captured.err
    )
    assert "broken.toml: not valid TOML" in captured.err


def test_cli_writes_one_file_per_rule(shared_dir: Path, tmp_path: Path) -> None:
    sources = eql_rule_files(shared_dir)[:3]
    out = tmp_path / "rules"
    assert main(["import-elastic", "-o", str(out), *map(str, sources)]) == 0
    written = sorted(out.glob("*.yaml"))
    assert len(written) == 3
    for path in written:
        rule = validate_object(DetectionRule, yaml.safe_load(path.read_text()))
        assert path.name == f"{rule.metadata.name}.yaml"
