"""Quarantine's ValidatingWebhookConfiguration: narrow, and harmless while the operator is down."""

from __future__ import annotations

from typing import Any

import pytest

from quarantine.admission.webhooks import (
    ALL_WEBHOOKS,
    NETWORK_POLICY_PROTECTION,
    POD_PROTECTION,
    RULE_VALIDATION,
    webhook_configuration,
    with_path,
)
from quarantine.respond.naming import ISOLATED_POD_LABEL

URL_CONFIG = {"url": "https://127.0.0.1:40123", "caBundle": "Q0E="}


def entries_by_handler(client_config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    configuration = webhook_configuration("quarantine.io", client_config)
    return {
        str(entry["clientConfig"]["url"]).rsplit("/", 1)[1]: entry
        for entry in configuration["webhooks"]
    }


def test_every_handler_gets_its_own_path_and_the_ca_bundle() -> None:
    entries = entries_by_handler(URL_CONFIG)
    assert sorted(entries) == sorted(definition.handler_id for definition in ALL_WEBHOOKS)
    for handler_id, entry in entries.items():
        assert entry["clientConfig"] == {
            "url": f"https://127.0.0.1:40123/{handler_id}",
            "caBundle": "Q0E=",
        }


def test_webhook_names_are_fully_qualified_as_the_api_server_requires() -> None:
    configuration = webhook_configuration("quarantine.io", URL_CONFIG)
    names = [entry["name"] for entry in configuration["webhooks"]]
    assert len(set(names)) == len(names)
    for name in names:
        assert name.count(".") >= 2
        assert name == name.lower() and "_" not in name


def test_rule_validation_refuses_when_the_webhook_is_unreachable() -> None:
    entry = entries_by_handler(URL_CONFIG)[RULE_VALIDATION.handler_id]
    assert entry["failurePolicy"] == "Fail"
    assert entry["rules"] == [
        {
            "apiGroups": ["quarantine.io"],
            "apiVersions": ["v1alpha1"],
            "resources": ["detectionrules"],
            "operations": ["CREATE", "UPDATE"],
            "scope": "*",
        }
    ]
    assert "objectSelector" not in entry


def test_pod_protection_sees_only_updates_of_quarantined_pods_and_fails_open() -> None:
    entry = entries_by_handler(URL_CONFIG)[POD_PROTECTION.handler_id]
    assert entry["failurePolicy"] == "Ignore"
    assert entry["rules"][0]["resources"] == ["pods"]
    assert entry["rules"][0]["operations"] == ["UPDATE"]
    assert entry["objectSelector"] == {
        "matchExpressions": [{"key": ISOLATED_POD_LABEL, "operator": "Exists"}]
    }
    assert entry["sideEffects"] == "None"
    assert int(entry["timeoutSeconds"]) <= 5


def test_network_policy_protection_sees_only_quarantines_policies() -> None:
    entry = entries_by_handler(URL_CONFIG)[NETWORK_POLICY_PROTECTION.handler_id]
    assert entry["failurePolicy"] == "Ignore"
    assert entry["rules"][0]["apiGroups"] == ["networking.k8s.io"]
    assert entry["rules"][0]["operations"] == ["UPDATE", "DELETE"]
    assert entry["objectSelector"] == {
        "matchLabels": {"app.kubernetes.io/managed-by": "quarantine"}
    }


def test_a_service_client_config_gets_the_handler_path_appended() -> None:
    service = {"service": {"name": "q-operator", "namespace": "q", "port": 443, "path": "/hooks/"}}
    config = with_path(service, "validate-detectionrule")
    assert config == {
        "service": {
            "name": "q-operator",
            "namespace": "q",
            "port": 443,
            "path": "/hooks/validate-detectionrule",
        }
    }


def test_a_client_config_without_url_or_service_is_refused() -> None:
    with pytest.raises(ValueError, match="url or a service"):
        with_path({"caBundle": "eA=="}, "validate-detectionrule")
