"""The CRDs rendered from the models: structural, documented, and the files on disk are fresh."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from quarantine.api.crds import (
    ALERT_KIND,
    DETECTION_RULE_KIND,
    RESOURCE_KINDS,
    ResourceKind,
    generated_crds,
    render_all_yaml,
    render_crd,
    render_crd_file,
)
from quarantine.api.openapi import SchemaError, structural_schema
from quarantine.api.peering import render_peering_crd
from quarantine.api.reference import render_reference
from quarantine.commands.crds import register

REPO_ROOT = Path(__file__).resolve().parents[3]
FORBIDDEN_KEYS = {"$ref", "$defs", "anyOf", "oneOf", "allOf", "not", "const", "title"}
ACTIONS = ".spec.response.actions[]"
ADMISSION_CHECKED = {
    ACTIONS,
    *(
        f"{ACTIONS}.{action}"
        for action in ("isolate", "scaleDown", "label", "annotate", "deletePod", "notify")
    ),
    f"{ACTIONS}.notify.secretRef",
}
"""The one deliberate exception to pruning: playbook objects declare their properties and still
keep unknown fields, so the validating webhook sees a misspelt option and refuses it by path even
when the client skipped strict field validation (which the API server would otherwise prune)."""


def main(argv: list[str]) -> int:
    """Run `quarantine crds` as the CLI would, with only this subcommand registered, so a broken
    sibling command module cannot fail these tests."""
    parser = argparse.ArgumentParser(prog="quarantine")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    result: int = args.handler(args)
    return result


def schema_of(resource: ResourceKind) -> dict[str, Any]:
    schema: dict[str, Any] = render_crd(resource)["spec"]["versions"][0]["schema"]
    return schema["openAPIV3Schema"]


def walk(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, node
    for name, child in node.get("properties", {}).items():
        yield from walk(child, f"{path}.{name}")
    if "items" in node:
        yield from walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from walk(node["additionalProperties"], f"{path}{{}}")


def node_at(schema: dict[str, Any], path: str) -> dict[str, Any]:
    node = schema
    for part in path.split("."):
        node = node["items"] if part == "[]" else node["properties"][part]
    return node


@pytest.mark.parametrize("resource", RESOURCE_KINDS, ids=lambda r: r.kind)
def test_schema_is_structural(resource: ResourceKind) -> None:
    for path, node in walk(schema_of(resource)):
        assert FORBIDDEN_KEYS.isdisjoint(node), f"{path}: {FORBIDDEN_KEYS & set(node)}"
        assert "type" in node, f"{path} has no type"
        assert node.get("additionalProperties") is not False, path
        assert not ("properties" in node and "additionalProperties" in node), path


def declared_yet_preserving(resource: ResourceKind) -> set[str]:
    return {
        path
        for path, node in walk(schema_of(resource))
        if "properties" in node and node.get("x-kubernetes-preserve-unknown-fields")
    }


def test_only_the_playbook_keeps_unknown_fields_beside_declared_ones() -> None:
    assert declared_yet_preserving(DETECTION_RULE_KIND) == ADMISSION_CHECKED
    assert declared_yet_preserving(ALERT_KIND) == set()


def test_the_playbook_still_documents_its_options_and_demands_a_known_action() -> None:
    spec = node_at(schema_of(DETECTION_RULE_KIND), "spec")
    isolate = node_at(spec, "response.actions.[].isolate")
    assert isolate["properties"]["allowDNS"]["description"]
    action = node_at(spec, "response.actions.[]")
    (validation,) = action["x-kubernetes-validations"]
    known = ["isolate", "scaleDown", "label", "annotate", "deletePod", "notify"]
    assert validation["rule"] == " || ".join(f"has(self.{name})" for name in known)
    assert validation["message"] == f"each action item needs one of: {', '.join(known)}"


@pytest.mark.parametrize("resource", RESOURCE_KINDS, ids=lambda r: r.kind)
def test_every_field_has_a_description(resource: ResourceKind) -> None:
    for path, node in walk(schema_of(resource)):
        # The API server forbids anything but `type` on metadata; it documents that field itself.
        if path.endswith(("[]", "{}")) or path == ".metadata":
            continue
        assert node.get("description", "").strip(), f"{path} has no description"
        assert "\n" not in node["description"], f"{path}: description keeps docstring wrapping"


def test_rule_schema_constraints_reach_the_api_server() -> None:
    spec = node_at(schema_of(DETECTION_RULE_KIND), "spec")
    assert spec["required"] == ["query", "ruleId", "severity", "riskScore"]
    risk = node_at(spec, "riskScore")
    assert (risk["type"], risk["minimum"], risk["maximum"]) == ("integer", 0, 100)
    assert node_at(spec, "severity")["enum"] == ["low", "medium", "high", "critical"]
    assert node_at(spec, "interval")["default"] == "5m"
    assert node_at(spec, "interval")["pattern"] == "^0*[1-9][0-9]*[smhd]$"
    action = node_at(spec, "response.actions.[]")
    assert (action["minProperties"], action["maxProperties"]) == (1, 1)
    assert set(action["properties"]) == {
        "isolate",
        "scaleDown",
        "label",
        "annotate",
        "deletePod",
        "notify",
    }
    isolate = action["properties"]["isolate"]["properties"]
    assert isolate["whenBypassed"]["enum"] == ["Detach", "Report"]
    assert isolate["whenBypassed"]["default"] == "Detach"
    assert set(isolate) == {"allowDNS", "allowEgressCIDRs", "allowIngressCIDRs", "whenBypassed"}
    selector = node_at(spec, "scope.podSelector.matchLabels")
    assert selector["additionalProperties"] == {"type": "string"}


def test_alert_free_form_fields_are_preserved() -> None:
    schema = schema_of(ALERT_KIND)
    assert node_at(schema, "spec.events.[]")["x-kubernetes-preserve-unknown-fields"] is True
    assert node_at(schema, "status.undo")["x-kubernetes-preserve-unknown-fields"] is True
    details = node_at(schema, "status.actions.[].details")
    assert details["x-kubernetes-preserve-unknown-fields"] is True
    assert node_at(schema, "spec.firstSeen")["format"] == "date-time"
    assert node_at(schema, "spec.count")["minimum"] == 1
    phases = node_at(schema, "status.phase")["enum"]
    assert phases == ["Pending", "Contained", "Partial", "DryRun", "Skipped", "Failed", "Released"]


@pytest.mark.parametrize(
    ("resource", "scope", "short", "columns"),
    [
        (
            DETECTION_RULE_KIND,
            "Cluster",
            ["qdr"],
            ["Severity", "Risk", "Ready", "Alerts", "Age"],
        ),
        (ALERT_KIND, "Namespaced", ["qal"], ["Rule", "Severity", "Pod", "Phase", "Count", "Age"]),
    ],
)
def test_crd_names_scope_and_columns(
    resource: ResourceKind, scope: str, short: list[str], columns: list[str]
) -> None:
    crd = render_crd(resource)
    assert crd["metadata"]["name"] == f"{resource.plural}.quarantine.io"
    assert crd["spec"]["scope"] == scope
    assert crd["spec"]["names"]["shortNames"] == short
    assert crd["spec"]["names"]["categories"] == ["quarantine"]
    version = crd["spec"]["versions"][0]
    assert version["name"] == "v1alpha1" and version["served"] and version["storage"]
    assert version["subresources"] == {"status": {}}
    assert [c["name"] for c in version["additionalPrinterColumns"]] == columns
    for column in version["additionalPrinterColumns"]:
        first = column["jsonPath"].lstrip(".").split(".")[0].split("[")[0]
        assert first in ("metadata", "spec", "status"), column


def test_unsupported_union_is_refused() -> None:
    class Either(BaseModel):
        value: int | str
        """Either kind."""

    with pytest.raises(SchemaError, match=r"Either\.value: unions other than Optional"):
        structural_schema(Either)


def generated_dirs() -> list[Path]:
    folders = [REPO_ROOT / "crds"]
    chart = REPO_ROOT / "charts" / "quarantine" / "crds"
    if chart.is_dir():
        folders.append(chart)
    return folders


@pytest.mark.parametrize("folder", generated_dirs(), ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_generated_files_are_fresh(folder: Path) -> None:
    expected = generated_crds()
    assert set(expected) == {
        *(r.file_name for r in RESOURCE_KINDS),
        "kopf.dev_clusterkopfpeerings.yaml",
    }
    for file_name, manifest in expected.items():
        on_disk = folder / file_name
        assert on_disk.is_file(), f"{on_disk} missing: run `make crds`"
        assert on_disk.read_text(encoding="utf-8") == render_crd_file(manifest), (
            f"{on_disk} is stale: run `make crds`"
        )
    for resource in RESOURCE_KINDS:
        assert expected[resource.file_name] == render_crd(resource)
    generated = {p.name for p in folder.glob("*.yaml")}
    assert generated == set(expected), f"unexpected files in {folder}: {generated - set(expected)}"


def test_cli_prints_every_crd(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["crds"]) == 0
    printed = capsys.readouterr().out
    assert printed == render_all_yaml()
    documents = list(yaml.safe_load_all(printed))
    kinds = [d["spec"]["names"]["kind"] for d in documents]
    assert kinds == ["DetectionRule", "Alert", "ClusterKopfPeering"]


def test_cli_writes_one_file_per_crd(tmp_path: Path) -> None:
    target = tmp_path / "out"
    assert main(["crds", "--output-dir", str(target)]) == 0
    assert sorted(p.name for p in target.iterdir()) == [
        "kopf.dev_clusterkopfpeerings.yaml",
        "quarantine.io_alerts.yaml",
        "quarantine.io_detectionrules.yaml",
    ]
    written = yaml.safe_load((target / "quarantine.io_alerts.yaml").read_text())
    assert written == render_crd(ALERT_KIND)


# --- kopf's peering CRD, for the operator's standby --------------------------------------------


def peering_schema() -> dict[str, Any]:
    schema: dict[str, Any] = render_peering_crd()["spec"]["versions"][0]["schema"]
    return schema["openAPIV3Schema"]


def test_peering_crd_is_the_one_kopf_looks_for() -> None:
    from kopf._cogs.structs.references import CLUSTER_PEERINGS_K  # kopf's own selector

    crd = render_peering_crd()
    names = crd["spec"]["names"]
    (version,) = crd["spec"]["versions"]
    assert crd["spec"]["group"] == CLUSTER_PEERINGS_K.group
    assert version["name"] == CLUSTER_PEERINGS_K.version
    assert names["plural"] == CLUSTER_PEERINGS_K.any_name
    assert names["kind"] == "ClusterKopfPeering"
    assert crd["metadata"]["name"] == f"{names['plural']}.{crd['spec']['group']}"
    assert crd["spec"]["scope"] == "Cluster"
    # kopf writes its keep-alives to the object itself when the CRD has no status subresource;
    # with one, they would need another endpoint and another RBAC rule.
    assert "subresources" not in version


def test_peering_status_keeps_every_replica_record() -> None:
    status = peering_schema()["properties"]["status"]
    assert "properties" not in status, "records are keyed by replica identity, not fixed names"
    record = status["additionalProperties"]
    assert record["x-kubernetes-preserve-unknown-fields"] is True
    assert {name: field["type"] for name, field in record["properties"].items()} == {
        "priority": "integer",
        "lifetime": "integer",
        "lastseen": "string",
    }
    for path, node in walk(peering_schema()):
        assert FORBIDDEN_KEYS.isdisjoint(node), f"{path}: {FORBIDDEN_KEYS & set(node)}"
        assert "type" in node, f"{path} has no type"


def test_api_reference_is_fresh_and_covers_every_field() -> None:
    on_disk = REPO_ROOT / "docs" / "api.md"
    reference = render_reference()
    assert on_disk.read_text(encoding="utf-8") == reference, (
        "docs/api.md is stale: run `quarantine crds --reference > docs/api.md`"
    )
    for resource in RESOURCE_KINDS:
        for path, _node in walk(schema_of(resource)):
            if path.startswith((".spec", ".status")) and not path.endswith(("[]", "{}")):
                row = path.lstrip(".").replace(".[]", "[]")
                assert f"| `{row}` |" in reference, f"{resource.kind} {row} missing"


def test_cli_prints_the_reference(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["crds", "--reference"]) == 0
    assert capsys.readouterr().out == render_reference()
