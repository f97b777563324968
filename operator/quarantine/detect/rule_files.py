"""DetectionRule manifests read from YAML files and folders (for offline testing)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from quarantine.api import ApiValidationError, DetectionRule, validate_object

_RULE_KIND = "DetectionRule"
_YAML_SUFFIXES = (".yaml", ".yml")


class RuleFileError(ValueError):
    """A rule file that cannot be used: names the file, the document and what is wrong."""


@dataclass(frozen=True)
class RuleSource:
    """A validated DetectionRule and where it was read from."""

    rule: DetectionRule
    path: Path
    document: int
    """1-based position of the YAML document in the file."""

    @property
    def where(self) -> str:
        return f"{self.path} (document {self.document})" if self.document > 1 else str(self.path)


def rule_files(paths: Iterable[Path]) -> Iterator[Path]:
    """The YAML files named, and those under the folders named (sorted, recursively)."""
    for path in paths:
        if path.is_dir():
            yield from sorted(found for found in path.rglob("*") if found.suffix in _YAML_SUFFIXES)
        elif path.exists():
            yield path
        else:
            raise RuleFileError(f"{path}: no such file or folder")


def load_rule_sources(paths: Iterable[Path]) -> tuple[list[RuleSource], list[str]]:
    """Every DetectionRule in `paths`, validated, and notes on documents skipped because
    they are another kind of object. Raises RuleFileError on the first bad file or rule."""
    sources: list[RuleSource] = []
    skipped: list[str] = []
    for path in rule_files(paths):
        for number, document in _documents(path):
            where = f"{path} (document {number})"
            if document is None:
                continue
            kind = document.get("kind") if isinstance(document, dict) else None
            if isinstance(kind, str) and kind != _RULE_KIND:
                skipped.append(f"{where}: skipped, kind {kind} is not {_RULE_KIND}")
                continue
            try:
                rule = validate_object(DetectionRule, document, what=where)
            except ApiValidationError as error:
                raise RuleFileError(str(error)) from error
            sources.append(RuleSource(rule=rule, path=path, document=number))
    return sources, skipped


def _documents(path: Path) -> Iterator[tuple[int, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise RuleFileError(f"{path}: cannot read: {error}") from error
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        place = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise RuleFileError(f"{path}:{place}: not valid YAML: {problem}") from error
    yield from enumerate(documents, start=1)
