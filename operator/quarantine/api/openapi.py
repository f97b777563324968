"""Structural OpenAPI v3 schemas for CRDs, derived from the pydantic models.

Kubernetes wants a "structural" schema: every node has a `type`, no `$ref`, no `anyOf` for
nullables, free-form objects marked `x-kubernetes-preserve-unknown-fields`. Pydantic emits plain
JSON Schema, so this module rewrites it into that shape and refuses anything it cannot express.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

_SCALAR_TYPES = (str, int, float, bool)
_DROPPED_KEYS = {"title", "$defs"}
_KEY_ORDER = (
    "description",
    "type",
    "format",
    "enum",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "default",
    "required",
    "properties",
    "items",
    "additionalProperties",
    "x-kubernetes-preserve-unknown-fields",
)


class SchemaError(ValueError):
    """A model uses a construct a structural CRD schema cannot express."""


def structural_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's validation schema (YAML names) rewritten as a structural CRD schema."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    definitions: dict[str, Any] = raw.get("$defs", {})
    return _convert(raw, definitions, model.__name__)


def _convert(node: dict[str, Any], definitions: dict[str, Any], path: str) -> dict[str, Any]:
    node = _inline(node, definitions, path)
    result: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED_KEYS:
            continue
        if key == "description":
            # Docstrings wrap lines; kubectl explain re-wraps text itself.
            result["description"] = " ".join(str(value).split())
        elif key == "const":
            result["enum"] = [value]
        elif key == "default":
            # Object and list defaults would be copied into every stored object; the models
            # supply those on read instead.
            if isinstance(value, _SCALAR_TYPES):
                result["default"] = value
        elif key == "properties":
            result["properties"] = {
                name: _convert(child, definitions, f"{path}.{name}")
                for name, child in value.items()
            }
        elif key == "items":
            result["items"] = _convert(value, definitions, f"{path}[]")
        elif key == "additionalProperties":
            _convert_additional(value, result, definitions, path)
        elif key in ("anyOf", "oneOf", "allOf", "$ref", "not"):
            raise SchemaError(f"{path}: {key} cannot appear in a structural schema")
        else:
            result[key] = value
    if "type" not in result and not result.get("x-kubernetes-preserve-unknown-fields"):
        raise SchemaError(f"{path}: schema node has no type")
    return _ordered(result)


def _inline(node: dict[str, Any], definitions: dict[str, Any], path: str) -> dict[str, Any]:
    """Replace `$ref` by its definition and `Optional[X]` (anyOf X|null) by X, keeping the outer
    description and default, which belong to the field rather than to the referenced type."""
    while True:
        outer = dict(node)
        if "$ref" in outer:
            name = outer.pop("$ref").rsplit("/", 1)[-1]
            inner = definitions[name]
        elif "anyOf" in outer:
            choices = [c for c in outer.pop("anyOf") if c != {"type": "null"}]
            if len(choices) != 1:
                raise SchemaError(f"{path}: unions other than Optional[X] are not supported")
            inner = choices[0]
        elif "allOf" in outer and len(outer["allOf"]) == 1:
            inner = outer.pop("allOf")[0]
        else:
            return node
        if outer.get("default", ...) is None:
            del outer["default"]
        node = {**inner, **outer}


def _convert_additional(
    value: Any, result: dict[str, Any], definitions: dict[str, Any], path: str
) -> None:
    if value is True:
        result["x-kubernetes-preserve-unknown-fields"] = True
    elif isinstance(value, dict):
        result["additionalProperties"] = _convert(value, definitions, f"{path}{{}}")
    # `false` comes from extra="forbid"; a CRD may not combine it with properties, and the API
    # server prunes unknown fields anyway, so it is simply left out.


def _ordered(node: dict[str, Any]) -> dict[str, Any]:
    rank = {key: index for index, key in enumerate(_KEY_ORDER)}
    return dict(sorted(node.items(), key=lambda item: rank.get(item[0], len(rank))))
