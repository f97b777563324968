"""The one error every normaliser raises for input it cannot understand."""

from __future__ import annotations


class EventFormatError(ValueError):
    """An event that is not what its format promises.

    `path` names the offending field (dotted, e.g. ``process_exec.process.binary``) when the
    problem is one field; the message always says what was expected.
    """

    def __init__(self, message: str, *, path: str | None = None) -> None:
        self.message = message
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)

    def within(self, key: str) -> EventFormatError:
        """The same error, its path seen from the object that holds `key`."""
        return EventFormatError(self.message, path=f"{key}.{self.path}" if self.path else key)


def json_type_name(value: object) -> str:
    """How a JSON reader would name the type of `value`, for error messages."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"
