"""Loads Elasticsearch's EQL spec corpus (../shared/eql-spec) the way its Java runner does.

Each spec file runs against a dataset: documents are loaded in file order, `@timestamp` is
derived where the runner derives it, mapping-level behaviour ES applies at index time
(`null_value`, custom date formats) is applied here, and the mappings become the engine's
optional schema (field -> type).
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SPEC_ROOT = Path(__file__).resolve().parents[2] / ".." / "shared" / "eql-spec"

_FILETIME_EPOCH_OFFSET_MS = 11_644_473_600_000


@dataclass(frozen=True)
class Dataset:
    name: str
    events: list[dict[str, Any]]
    schema: dict[str, str]
    id_field: str
    tiebreaker: str | None
    category_field: str = "event_type"


@dataclass(frozen=True)
class SpecQuery:
    file: str
    name: str
    query: str
    expected: list[list[int]]  # alternatives; each a flattened id list
    join_keys: list[str] | None
    size: int | None
    max_samples_per_key: int
    dataset: str

    @property
    def test_id(self) -> str:
        return f"{self.file}::{self.name}"


@dataclass(frozen=True)
class FoldCase:
    file: str
    section: str
    index: int
    expression: str
    expected: Any = None
    must_fail: bool = False  # a verifier failure: compiling must raise
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def test_id(self) -> str:
        return f"{self.file}::{self.section}[{self.index}] {self.expression}"


# Which dataset each data-driven spec file runs on (test_queries also runs on the nanos index).
SPEC_FILES: list[tuple[str, str, str]] = [
    ("test_queries.toml", "test_queries", "endgame-140"),
    ("test_queries.toml", "test_queries@nanos", "endgame-140-nanos"),
    ("additional_test_queries.toml", "additional_test_queries", "endgame-140"),
    ("test_queries_date.toml", "test_queries_date", "endgame-140"),
    ("test_queries_date_nanos.toml", "test_queries_date_nanos", "endgame-140-nanos"),
    ("test_extra.toml", "test_extra", "extra"),
    ("test_missing_events.toml", "test_missing_events", "missing-events"),
    ("test_sample.toml", "test_sample", "sample"),
    ("test_sample_multi.toml", "test_sample_multi", "sample-multi"),
]
UNIT_FILES = ["test_string_functions.toml", "test_folding.toml"]


def corpus_present() -> bool:
    return SPEC_ROOT.is_dir()


def load_spec_queries() -> list[SpecQuery]:
    queries: list[SpecQuery] = []
    for filename, label, dataset in SPEC_FILES:
        document = _read_toml(SPEC_ROOT / filename)
        for entry in document.get("queries", []):
            expected = entry["expected_event_ids"]
            alternatives = expected if expected and isinstance(expected[0], list) else [expected]
            keys = entry.get("join_keys")
            queries.append(
                SpecQuery(
                    file=label,
                    name=entry["name"],
                    query=entry["query"].strip(),
                    expected=alternatives,
                    join_keys=None if keys is None else [str(k) for k in keys],
                    size=entry.get("size"),
                    max_samples_per_key=entry.get("max_samples_per_key", 1),
                    dataset=dataset,
                )
            )
    return queries


def _read_toml(path: Path) -> dict[str, Any]:
    text = path.read_text()
    # test_extra.toml writes bare `null` inside join_keys arrays, which TOML forbids.
    text = re.sub(
        r"^(join_keys\s*=.*)$",
        lambda m: re.sub(r"(?<![\w\"])null(?![\w\"])", '"null"', m.group(1)),
        text,
        flags=re.MULTILINE,
    )
    return tomllib.loads(text)


# Elasticsearch's own runner (TomlFoldTests) subtracts the cases listed in its
# test_unsupported.toml from these unit files: the old Endgame case-insensitive comparison
# section and the `"x":length()` method syntax. They are not Elasticsearch behaviour, so they
# are not run here either (section -> predicate on the expression).
EXCLUDED_BY_ELASTICSEARCH: dict[str, Any] = {
    "string_case_insensitive_match_comparison": lambda expression: True,
    "complex": lambda expression: '":length()' in expression,
}


def _excluded_by_elasticsearch(section: str, expression: str) -> bool:
    predicate = EXCLUDED_BY_ELASTICSEARCH.get(section)
    return bool(predicate and predicate(expression))


def load_fold_cases() -> list[FoldCase]:
    return [c for c in _all_fold_cases() if not _excluded_by_elasticsearch(c.section, c.expression)]


def _all_fold_cases() -> list[FoldCase]:
    cases: list[FoldCase] = []
    for filename in UNIT_FILES:
        label = Path(filename).stem
        document = tomllib.loads((SPEC_ROOT / "unit" / filename).read_text())
        for section, body in document.items():
            counter = 0
            for failure in body.get("verifier", {}).get("failures", []):
                cases.append(FoldCase(label, section, counter, failure["expression"], None, True))
                counter += 1
            tests = [*body.get("fold", {}).get("tests", []), *body.get("tests", [])]
            for test in tests:
                cases.append(
                    FoldCase(label, section, counter, test["expression"], test.get("expected"))
                )
                counter += 1
            for loop in body.get("loop", []):
                param = loop["param"]
                for kind in param["type"]:
                    literal = _LOOP_VALUES[kind]
                    for test in loop["fold"]["tests"]:
                        expression = test["expression"].replace("$" + param["name"], literal)
                        cases.append(
                            FoldCase(label, section, counter, expression, test.get("expected"))
                        )
                        counter += 1
    return cases


_LOOP_VALUES = {"bool": "true", "int": "1", "string": '"foo"', "float": "1.5", "null": "null"}


# --- datasets --------------------------------------------------------------------------------


def load_dataset(name: str) -> Dataset:
    data = SPEC_ROOT / "data"
    if name in ("endgame-140", "endgame-140-nanos"):
        events = _read_json(data / "endgame-140.data")
        for event in events:
            filetime = event["timestamp"]
            if name == "endgame-140":
                event["@timestamp"] = filetime // 10_000 - _FILETIME_EPOCH_OFFSET_MS
            else:
                digits = str(filetime)
                event["@timestamp"] = f"{digits[:12]}.{digits[12:]}"
                event["timestamp"] = filetime // 1_000_000
        schema = {**_dynamic_schema(events), **_read_mapping(data / f"{name}.mapping")}
        return Dataset(name, events, schema, "serial_event_id", "serial_event_id")
    if name in ("extra", "missing-events"):
        events = _read_json(data / f"{name}.data")
        mapping = _mapping_document(data / f"{name}.mapping")
        _apply_index_time_rules(events, mapping)
        schema = {**_dynamic_schema(events), **_schema_of(mapping)}
        return Dataset(name, events, schema, "sequence", "sequence")
    indices = ["sample1", "sample2", "sample3"] if name == "sample" else [name]
    events = []
    schema: dict[str, str] = {}
    for index in indices:
        loaded = _read_json(data / f"{index}.data")
        mapping = _mapping_document(data / f"{index}.mapping")
        _apply_index_time_rules(loaded, mapping)
        events.extend(loaded)
        schema.update({**_dynamic_schema(loaded), **_schema_of(mapping)})
    return Dataset(name, events, schema, "id", None)


def _read_json(path: Path) -> list[dict[str, Any]]:
    lines = [line for line in path.read_text().splitlines() if not line.strip().startswith("//")]
    loaded: list[dict[str, Any]] = json.loads("\n".join(lines))
    return loaded


def _mapping_document(path: Path) -> dict[str, Any]:
    lines = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")]
    text = "\n".join(lines).replace("[runtime_random_keyword_type]", "keyword")
    document: dict[str, Any] = json.loads(text)
    return document


def _read_mapping(path: Path) -> dict[str, str]:
    return _schema_of(_mapping_document(path))


def _properties(mapping: dict[str, Any], prefix: str = "") -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for key, spec in mapping.get("properties", {}).items():
        path = f"{prefix}{key}"
        if "properties" in spec:
            found.update(_properties(spec, f"{path}."))
        else:
            found[path] = spec
    return found


def _schema_of(mapping: dict[str, Any]) -> dict[str, str]:
    return {
        path: spec["type"]
        for path, spec in _properties(mapping).items()
        if spec.get("type") not in (None, "alias")
    }


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z?")


def _dynamic_schema(events: list[dict[str, Any]]) -> dict[str, str]:
    """Fields ES maps dynamically when documents are indexed (not in the mapping file)."""
    schema: dict[str, str] = {}

    def visit(path: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                visit(f"{path}.{key}" if path else key, inner)
        elif isinstance(value, list):
            for inner in value:
                visit(path, inner)
        elif value is not None and path not in schema:
            if isinstance(value, bool):
                schema[path] = "boolean"
            elif isinstance(value, int):
                schema[path] = "long"
            elif isinstance(value, float):
                schema[path] = "float"
            else:
                schema[path] = "date" if _ISO_DATE.fullmatch(value) else "keyword"

    for event in events:
        visit("", event)
    return schema


_JAVA_DATE_PARTS = {"yyyy": "%Y", "MM": "%m", "dd": "%d"}


def _apply_index_time_rules(events: list[dict[str, Any]], mapping: dict[str, Any]) -> None:
    """What ES does when indexing: `null_value` substitution and custom date formats."""
    for path, spec in _properties(mapping).items():
        null_value = spec.get("null_value")
        date_format = spec.get("format") if spec.get("type") == "date" else None
        for event in events:
            if path not in event:
                continue
            if event[path] is None and null_value is not None:
                event[path] = null_value
            elif date_format and isinstance(event[path], str):
                python_format = date_format
                for java, python in _JAVA_DATE_PARTS.items():
                    python_format = python_format.replace(java, python)
                parsed = datetime.strptime(event[path], python_format).replace(tzinfo=UTC)
                event[path] = parsed.strftime("%Y-%m-%dT%H:%M:%S.000Z")
