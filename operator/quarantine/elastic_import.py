"""Convert Elastic detection-rules TOML files into DetectionRule resources.

Everything Elastic knows about a rule carries over (identity, query, schedule, severity, MITRE
mapping, guide ...). The response playbook is a default isolate in DryRun mode, so an imported
rule shows what it would do before anyone lets it act.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from quarantine.api import (
    ApiValidationError,
    DetectionRule,
    IsolateAction,
    ObjectMeta,
    PlaybookAction,
    ResponsePlaybook,
    validate_object,
)

SOURCE_LABEL = "quarantine.io/source"
SOURCE_VALUE = "elastic-detection-rules"
MATURITY_ANNOTATION = "quarantine.io/elastic-maturity"
UPDATED_ANNOTATION = "quarantine.io/elastic-updated-date"
BUILDING_BLOCK_ANNOTATION = "quarantine.io/elastic-building-block"

_MAX_NAME_LENGTH = 63
_HASH_LENGTH = 8
_LOOKBACK_RE = re.compile(r"^now-([0-9]+[smhd])$")


class ElasticImportError(ValueError):
    """A rule file could not be converted; the message names the file and the reason."""


class NotEqlRuleError(ElasticImportError):
    """The rule is valid Elastic, but not EQL (kuery, ES|QL, machine learning ...)."""


def resource_name(display_name: str, rule_id: str) -> str:
    """A DNS-1123 name from the rule name, made unique by a short hash of the rule_id.

    "Sensitive Files Compression Inside A Container" becomes
    "sensitive-files-compression-inside-a-container-<8 hex>"; the same inputs always give the
    same name, and two rules with one display name still differ.
    """
    slug = re.sub(r"[^a-z0-9]+", "-", display_name.lower()).strip("-")
    suffix = hashlib.sha256(rule_id.encode("utf-8")).hexdigest()[:_HASH_LENGTH]
    slug = slug[: _MAX_NAME_LENGTH - _HASH_LENGTH - 1].rstrip("-")
    return f"{slug}-{suffix}" if slug else f"rule-{suffix}"


def default_playbook() -> ResponsePlaybook:
    """Isolate the pod, in DryRun: imported rules report what they would do until reviewed."""
    return ResponsePlaybook(mode="DryRun", actions=[PlaybookAction(isolate=IsolateAction())])


def lookback_from(elastic_from: str) -> str:
    """Elastic's `from = "now-6m"` as a lookback duration ("6m")."""
    match = _LOOKBACK_RE.match(elastic_from.strip())
    if not match:
        raise ValueError(f'from = {elastic_from!r} is not of the form "now-<number><s|m|h|d>"')
    return match.group(1)


def convert_rule(document: Mapping[str, Any], *, source: str) -> DetectionRule:
    """Convert one parsed Elastic rule file (its [metadata] and [rule] tables) to a DetectionRule.

    `source` names the file in error messages.
    """
    rule = document.get("rule")
    if not isinstance(rule, Mapping):
        raise ElasticImportError(f"{source}: no [rule] table; is this an Elastic rule file?")
    metadata = document.get("metadata", {})
    if not isinstance(metadata, Mapping):
        raise ElasticImportError(f"{source}: [metadata] must be a table")
    _require_eql(rule, source)
    try:
        spec = _spec_from(rule, metadata)
    except (KeyError, ValueError) as error:
        raise ElasticImportError(f"{source}: {_reason(error)}") from None
    manifest = {
        "apiVersion": "quarantine.io/v1alpha1",
        "kind": "DetectionRule",
        "metadata": _metadata_from(rule, metadata),
        "spec": spec,
    }
    try:
        return validate_object(DetectionRule, manifest, what=f"{source}: converted rule")
    except ApiValidationError as error:
        raise ElasticImportError(str(error)) from None


def load_elastic_rule(path: Path) -> DetectionRule:
    """Read and convert one Elastic rule TOML file."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ElasticImportError(f"{path}: cannot read: {error.strerror or error}") from None
    except tomllib.TOMLDecodeError as error:
        raise ElasticImportError(f"{path}: not valid TOML: {error}") from None
    return convert_rule(document, source=str(path))


def _require_eql(rule: Mapping[str, Any], source: str) -> None:
    rule_type = rule.get("type")
    language = rule.get("language")
    if rule_type != "eql" or language not in (None, "eql"):
        raise NotEqlRuleError(
            f"{source}: rule {rule.get('name', '?')!r} is of type {rule_type!r}"
            f' (language {language!r}); only EQL rules (type = "eql") can be imported'
        )


def _metadata_from(rule: Mapping[str, Any], metadata: Mapping[str, Any]) -> dict[str, Any]:
    annotations: dict[str, str] = {}
    if "maturity" in metadata:
        annotations[MATURITY_ANNOTATION] = str(metadata["maturity"])
    if "updated_date" in metadata:
        annotations[UPDATED_ANNOTATION] = str(metadata["updated_date"])
    if "building_block_type" in rule:
        annotations[BUILDING_BLOCK_ANNOTATION] = str(rule["building_block_type"])
    meta = ObjectMeta(
        name=resource_name(str(rule["name"]), str(rule["rule_id"])),
        labels={SOURCE_LABEL: SOURCE_VALUE},
        annotations=annotations,
    )
    return meta.model_dump(by_alias=True, exclude_none=True)


def _spec_from(rule: Mapping[str, Any], metadata: Mapping[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "ruleId": rule["rule_id"],
        "displayName": rule["name"],
        "description": _text(rule.get("description")),
        "language": "eql",
        "query": _text(rule["query"]),
        "severity": rule["severity"],
        "riskScore": rule["risk_score"],
        "interval": rule.get("interval", "5m"),
    }
    if "from" in rule:
        spec["lookback"] = lookback_from(str(rule["from"]))
    optional = {
        "max_signals": "maxSignals",
        "timestamp_override": "timestampField",
        "index": "indices",
        "tags": "tags",
        "threat": "threat",
        "false_positives": "falsePositives",
        "references": "references",
        "author": "author",
        "license": "license",
        "version": "version",
    }
    for elastic_key, our_key in optional.items():
        if elastic_key in rule:
            spec[our_key] = rule[elastic_key]
    if "note" in rule:
        spec["investigationGuide"] = _text(rule["note"])
    # Deprecated rules come along for reference but do not run unless someone enables them.
    spec["enabled"] = bool(rule.get("enabled", metadata.get("maturity") != "deprecated"))
    spec["response"] = default_playbook().model_dump(by_alias=True, exclude_unset=True)
    return spec


def _text(value: Any) -> str | None:
    return None if value is None else str(value).strip()


def _reason(error: KeyError | ValueError) -> str:
    if isinstance(error, KeyError):
        return f"missing required key rule.{error.args[0]}"
    return str(error)
