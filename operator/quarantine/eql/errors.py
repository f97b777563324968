"""The one error type of the EQL engine: a query that cannot be compiled."""

from __future__ import annotations


class EqlSyntaxError(ValueError):
    """A query that is malformed or uses something Elasticsearch EQL does not support.

    `line` and `column` are 1-based and point at the offending token; `message` says what was
    expected and what was found, in words a rule author understands.
    """

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(f"line {line}, column {column}: {message}")
        self.message = message
        self.line = line
        self.column = column


def render_error(text: str, error: EqlSyntaxError) -> str:
    """The error with the offending query line and a caret under the column."""
    lines = text.splitlines() or [""]
    line = lines[error.line - 1] if 0 < error.line <= len(lines) else ""
    caret = " " * (error.column - 1) + "^"
    return (
        f"EQL error at line {error.line}, column {error.column}: {error.message}\n{line}\n{caret}"
    )
