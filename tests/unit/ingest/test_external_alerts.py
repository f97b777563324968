"""External alerts read into one shape: Elastic Security and Falco documents, their fields,
severities, targets and stable Alert names."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from ingest_helpers import elastic_alert, falco_alert

from quarantine.ingest.external_alerts import (
    ExternalAlertError,
    elastic_alert_documents,
    falco_severity,
    lookup,
    parse_elastic_alert,
    parse_falco_alert,
)

DNS_1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


# --- Elastic --------------------------------------------------------------------------------


def test_an_elastic_alert_maps_rule_severity_risk_target_and_time() -> None:
    alert = parse_elastic_alert(elastic_alert())
    assert alert.source == "elastic"
    assert alert.rule_name == "Sensitive Files Compression Inside A Container"
    assert alert.rule_id == "475b42f0-61fb-4ef0-8a85-597458bfb0a1"
    assert (alert.severity, alert.risk_score) == ("medium", 47)
    assert (alert.namespace, alert.pod) == ("shop", "web-7d4b9")
    assert (alert.container_id, alert.container_name) == ("a" * 64, "web")
    # The original event's time, not the time Elastic wrote the alert.
    assert alert.timestamp == datetime(2026, 11, 28, 7, 0, 1, 250000, tzinfo=UTC)
    assert alert.external_id == "7c1e3a0f9b1d4c2e8f6a5b4c3d2e1f00"


def test_fields_are_found_nested_dotted_or_both_as_kibana_renders_them() -> None:
    nested = {"kibana": {"alert": {"rule": {"name": "n"}}}}
    dotted = {"kibana.alert.rule.name": "n"}
    mixed = {"kibana.alert": {"rule.name": "n"}}
    both = {"kibana.alert.rule.name": "n", "kibana": {"alert": {"rule": {"name": "n"}}}}
    for document in (nested, dotted, mixed, both):
        assert lookup(document, "kibana.alert.rule.name") == "n"
    assert lookup(nested, "kibana.alert.rule.rule_id") is None


def test_an_elastic_alert_fully_dotted_or_fully_nested_reads_the_same() -> None:
    dotted = {
        "kibana.alert.rule.name": "R",
        "kibana.alert.severity": "high",
        "orchestrator.namespace": "shop",
        "orchestrator.resource.name": "web-7d4b9",
        "kibana.alert.uuid": "u1",
    }
    nested = {
        "kibana": {"alert": {"rule": {"name": "R"}, "severity": "high", "uuid": "u1"}},
        "orchestrator": {"namespace": "shop", "resource": {"name": "web-7d4b9"}},
    }
    received = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
    assert parse_elastic_alert(dotted, received=received) == parse_elastic_alert(
        nested, received=received
    )


def test_a_missing_risk_score_follows_the_severity() -> None:
    document = elastic_alert(**{"kibana.alert.severity": "critical"})
    del document["kibana.alert.risk_score"]
    assert parse_elastic_alert(document).risk_score == 99


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"kibana.alert.rule.name": None}, "kibana.alert.rule.name is missing"),
        ({"kibana.alert.severity": "urgent"}, "'urgent' is not one of low, medium"),
        ({"kibana.alert.risk_score": 470}, "risk_score 470 is not between 0 and 100"),
        ({"kibana.alert.risk_score": "high"}, "risk_score 'high' is not a number"),
        ({"orchestrator": {}, "container": {}}, "names no pod"),
    ],
)
def test_bad_elastic_alerts_are_refused_naming_the_field(
    overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ExternalAlertError, match=re.escape(message)):
        parse_elastic_alert(elastic_alert(**overrides))


def test_a_non_pod_orchestrator_resource_is_not_taken_for_a_pod() -> None:
    document = elastic_alert(
        orchestrator={"namespace": "shop", "resource": {"name": "web", "type": "deployment"}}
    )
    alert = parse_elastic_alert(document)
    assert alert.pod is None and alert.container_id == "a" * 64


def test_elastic_bodies_may_be_an_array_one_alert_or_an_alerts_wrapper() -> None:
    one = elastic_alert()
    assert elastic_alert_documents([one, one]) == [one, one]
    assert elastic_alert_documents(one) == [one]
    assert elastic_alert_documents({"alerts": [one]}) == [one]
    with pytest.raises(ExternalAlertError, match="JSON array of alert documents"):
        elastic_alert_documents("alerts")


# --- Falco ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("priority", "severity"),
    [
        ("Emergency", "critical"),
        ("Alert", "critical"),
        ("Critical", "critical"),
        ("Error", "high"),
        ("Warning", "medium"),
        ("Notice", "low"),
        ("Informational", "low"),
        ("info", "low"),
        ("DEBUG", "low"),
    ],
)
def test_falco_priorities_map_to_severities(priority: str, severity: str) -> None:
    assert falco_severity(priority) == severity


def test_an_unknown_falco_priority_is_refused_listing_the_known_ones() -> None:
    with pytest.raises(ExternalAlertError, match="'Severe' is not a Falco priority"):
        falco_severity("Severe")


def test_a_falcosidekick_alert_maps_rule_target_severity_and_uuid() -> None:
    alert = parse_falco_alert(falco_alert())
    assert (alert.source, alert.rule_name, alert.rule_id) == (
        "falco",
        "Terminal shell in container",
        None,
    )
    assert (alert.severity, alert.risk_score) == ("low", 21)
    assert (alert.namespace, alert.pod, alert.container_id) == ("shop", "web-7d4b9", "8645a7a530c3")
    assert alert.external_id == "5d1ec2b0-0a4e-4b8b-9e0c-1f2a3b4c5d6e"
    assert alert.timestamp == datetime(2026, 11, 28, 7, 0, 2, 123456, tzinfo=UTC)


def test_the_full_container_id_is_preferred_and_host_means_no_container() -> None:
    fields = {**falco_alert()["output_fields"], "container.full_id": "b" * 64}
    assert parse_falco_alert(falco_alert(output_fields=fields)).container_id == "b" * 64
    host_fields = {"container.id": "host", "proc.name": "sh"}
    with pytest.raises(ExternalAlertError, match="names no pod"):
        parse_falco_alert(falco_alert(output_fields=host_fields))


def test_a_falco_alert_without_uuid_gets_a_stable_content_fingerprint() -> None:
    first = falco_alert()
    del first["uuid"]
    again = json.loads(json.dumps(first))
    later = {**first, "time": "2026-11-28T07:00:09Z"}
    assert parse_falco_alert(first).alert_name == parse_falco_alert(again).alert_name
    assert parse_falco_alert(first).alert_name != parse_falco_alert(later).alert_name


def read_ndjson(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_the_kubernetes_capture_in_elastics_falco_fixture_is_read(shared_dir: Path) -> None:
    alerts = read_ndjson(shared_dir / "events" / "falco" / "test-falco.log")
    shell = next(a for a in alerts if a.get("rule") == "Terminal shell in container")
    alert = parse_falco_alert(shell)
    assert (alert.namespace, alert.pod, alert.container_id) == ("default", "debug", "8645a7a530c3")
    assert alert.severity == "low"  # priority Notice
    assert alert.external_id == shell["uuid"]


def test_fixture_alerts_without_pod_or_container_are_refused_clearly(shared_dir: Path) -> None:
    for alert in read_ndjson(shared_dir / "events" / "falco" / "single_rule_with_cat_write.json"):
        with pytest.raises(ExternalAlertError, match="names no pod"):
            parse_falco_alert(alert)


def test_fixture_alerts_with_only_a_container_id_are_accepted(shared_dir: Path) -> None:
    alerts = read_ndjson(shared_dir / "events" / "falco" / "test-nopreserve.log")
    parsed = [parse_falco_alert(alert) for alert in alerts]
    assert {alert.container_id for alert in parsed} == {"9656db3bb358"}
    assert all(alert.namespace is None for alert in parsed)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "must be a JSON object"),
        ({**falco_alert(), "rule": ""}, "rule is missing"),
        ({**falco_alert(), "priority": 4}, "priority is missing"),
        ({**falco_alert(), "output_fields": "k8s.ns.name=shop"}, "output_fields is missing"),
    ],
)
def test_bad_falco_alerts_are_refused_naming_the_field(document: Any, message: str) -> None:
    with pytest.raises(ExternalAlertError, match=message):
        parse_falco_alert(document)


# --- names ----------------------------------------------------------------------------------


def test_alert_names_are_dns_labels_stable_per_external_alert() -> None:
    alert = parse_elastic_alert(elastic_alert())
    assert alert.alert_name == parse_elastic_alert(elastic_alert()).alert_name
    assert alert.alert_name.startswith("elastic-sensitive-files-compression-inside-a")
    assert len(alert.alert_name) <= 63 and DNS_1123_LABEL.match(alert.alert_name)
    other = parse_elastic_alert(elastic_alert(**{"kibana.alert.uuid": "another"}))
    assert other.alert_name != alert.alert_name


def test_alert_names_survive_odd_rule_names() -> None:
    for rule in ("---", "Ünïcode ✓ rule", "x" * 300, "A_B.C/D"):
        name = parse_falco_alert(falco_alert(rule=rule)).alert_name
        assert len(name) <= 63 and DNS_1123_LABEL.match(name), name
