"""Readable validation errors: each problem names its field path, e.g. spec.riskScore."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

ModelT = TypeVar("ModelT", bound=BaseModel)


class ApiValidationError(ValueError):
    """An object does not fit its API model. `problems` holds one "path: message" per error."""

    def __init__(self, what: str, problems: list[str]) -> None:
        self.what = what
        self.problems = problems
        super().__init__(f"{what} is invalid:\n" + "\n".join(f"  {p}" for p in problems))


def field_path(location: tuple[int | str, ...]) -> str:
    """Render a pydantic error location as `spec.response.actions[0].isolate`."""
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path or "(object)"


def _problem(error: ErrorDetails) -> str:
    message = error["msg"]
    # Our own validators raise ValueError; pydantic prefixes those, which only adds noise.
    message = message.removeprefix("Value error, ")
    return f"{field_path(tuple(error['loc']))}: {message}"


def describe_validation_error(error: ValidationError) -> list[str]:
    """One "path: message" line per problem, in pydantic's order."""
    return [_problem(detail) for detail in error.errors(include_url=False)]


def validate_object(model: type[ModelT], data: Any, *, what: str | None = None) -> ModelT:
    """Validate a decoded YAML/JSON object; raise ApiValidationError naming each bad field."""
    label = what or _describe(model, data)
    if not isinstance(data, Mapping):
        raise ApiValidationError(
            label, [f"(object): expected a mapping, got {type(data).__name__}"]
        )
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ApiValidationError(label, describe_validation_error(error)) from None


def _describe(model: type[BaseModel], data: Any) -> str:
    name = None
    if isinstance(data, Mapping):
        metadata = data.get("metadata")
        if isinstance(metadata, Mapping):
            name = metadata.get("name")
    return f"{model.__name__} {name!r}" if name else model.__name__
