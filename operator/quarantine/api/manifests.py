"""Turning API models back into plain manifests (the dicts kubectl and the API server take)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml
from pydantic import BaseModel


def to_manifest(obj: BaseModel, *, only_set: bool = False) -> dict[str, Any]:
    """Dump with YAML/JSON names, JSON-compatible values and no null fields.

    `only_set` leaves out fields that were never given, so defaults stay implicit (the API server
    and the models fill them in again); use it for manifests meant for people to read.
    """
    return obj.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_unset=only_set)


class _ManifestDumper(yaml.SafeDumper):
    """Block style for multi-line text (queries, guides) and no anchors/aliases, which confuse
    people reading a manifest."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    # PyYAML falls back to a quoted style by itself when the text cannot be a literal block.
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_ManifestDumper.add_representer(str, _represent_text)


def dump_yaml(document: dict[str, Any]) -> str:
    """YAML text of one manifest, keys in the order given."""
    return yaml.dump(
        document, Dumper=_ManifestDumper, sort_keys=False, width=100, allow_unicode=True
    )


def dump_yaml_stream(documents: Iterable[dict[str, Any]]) -> str:
    """Several manifests as one multi-document YAML stream."""
    return "---\n".join(dump_yaml(document) for document in documents)
