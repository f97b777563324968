"""Turns EQL source text into tokens, tracking line and column for error messages."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from quarantine.eql.errors import EqlSyntaxError


class Kind(Enum):
    IDENT = "identifier"
    QUOTED_IDENT = "quoted identifier"
    TILDE_IDENT = "case-insensitive function name"
    STRING = "string"
    INTEGER = "integer"
    DECIMAL = "decimal number"
    KEYWORD = "keyword"
    OP = "operator"
    EOF = "end of query"


# Reserved words of the Elasticsearch EQL grammar (lower case, case-sensitive as there).
KEYWORDS = frozenset(
    {
        "and",
        "any",
        "by",
        "false",
        "in",
        "join",
        "like",
        "maxspan",
        "not",
        "null",
        "of",
        "or",
        "regex",
        "sample",
        "sequence",
        "true",
        "until",
        "where",
        "with",
    }
)
# Keywords that take a `~` suffix to become case-insensitive operators.
TILDE_KEYWORDS = frozenset({"in", "like", "regex"})

OPERATORS = ("==", "!=", "<=", ">=", "<", ">", "=", ":", "+", "-", "*", "/", "%")
PUNCTUATION = "()[],.|!?"


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    text: str  # keyword/operator text, identifier name, or decoded string value
    line: int
    column: int
    offset: int
    raw: str  # the source text of the token, for messages

    def describe(self) -> str:
        if self.kind is Kind.EOF:
            return "the end of the query"
        return f"'{self.raw}'"


_IDENT_RE = re.compile(r"[A-Za-z_@][A-Za-z0-9_]*")
_NUMBER_RE = re.compile(r"(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?")
_UNICODE_ESCAPE_RE = re.compile(r"\{([0-9A-Fa-f]{2,8})\}")
_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"', "'": "'"}


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.line_start = 0

    def error(self, message: str, offset: int | None = None) -> EqlSyntaxError:
        offset = self.pos if offset is None else offset
        line = self.text.count("\n", 0, offset) + 1
        column = offset - (self.text.rfind("\n", 0, offset) + 1) + 1
        return EqlSyntaxError(message, line, column)

    def advance_to(self, new_pos: int) -> None:
        newlines = self.text.count("\n", self.pos, new_pos)
        if newlines:
            self.line += newlines
            self.line_start = self.text.rfind("\n", self.pos, new_pos) + 1
        self.pos = new_pos

    def token(self, kind: Kind, text: str, start: int) -> Token:
        line = self.text.count("\n", 0, start) + 1
        column = start - (self.text.rfind("\n", 0, start) + 1) + 1
        return Token(kind, text, line, column, start, self.text[start : self.pos])


def tokenize(text: str) -> list[Token]:
    """Split `text` into tokens; raises EqlSyntaxError on characters EQL does not allow."""
    scanner = _Scanner(text)
    tokens: list[Token] = []
    length = len(text)
    while True:
        _skip_blanks_and_comments(scanner)
        start = scanner.pos
        if start >= length:
            scanner.advance_to(length)
            tokens.append(scanner.token(Kind.EOF, "", length))
            return tokens
        char = text[start]
        if text.startswith('"""', start):
            end = text.find('"""', start + 3)
            if end < 0:
                raise scanner.error('unterminated raw string: missing closing """', start)
            scanner.advance_to(end + 3)
            tokens.append(scanner.token(Kind.STRING, text[start + 3 : end], start))
        elif char == '"':
            value, end = _read_string(scanner, start)
            scanner.advance_to(end)
            tokens.append(scanner.token(Kind.STRING, value, start))
        elif char == "'":
            raise scanner.error(
                "single-quoted strings are not supported in EQL; use double quotes", start
            )
        elif char == "`":
            value, end = _read_quoted_identifier(scanner, start)
            scanner.advance_to(end)
            tokens.append(scanner.token(Kind.QUOTED_IDENT, value, start))
        elif char.isdigit() or (char == "." and text[start + 1 : start + 2].isdigit()):
            match = _NUMBER_RE.match(text, start)
            assert match is not None
            number = match.group()
            scanner.advance_to(match.end())
            is_integer = number.isdigit()
            tokens.append(
                scanner.token(Kind.INTEGER if is_integer else Kind.DECIMAL, number, start)
            )
        elif match := _IDENT_RE.match(text, start):
            word = match.group()
            end = match.end()
            if text.startswith("~", end):
                scanner.advance_to(end + 1)
                kind = Kind.KEYWORD if word in TILDE_KEYWORDS else Kind.TILDE_IDENT
                tokens.append(scanner.token(kind, word + "~", start))
            else:
                scanner.advance_to(end)
                kind = Kind.KEYWORD if word in KEYWORDS else Kind.IDENT
                tokens.append(scanner.token(kind, word, start))
        else:
            for op in OPERATORS:
                if text.startswith(op, start):
                    scanner.advance_to(start + len(op))
                    tokens.append(scanner.token(Kind.OP, op, start))
                    break
            else:
                if char in PUNCTUATION:
                    scanner.advance_to(start + 1)
                    tokens.append(scanner.token(Kind.OP, char, start))
                else:
                    raise scanner.error(f"unexpected character {char!r}", start)


def _skip_blanks_and_comments(scanner: _Scanner) -> None:
    text = scanner.text
    pos = scanner.pos
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
        elif text.startswith("//", pos):
            end = text.find("\n", pos)
            pos = len(text) if end < 0 else end + 1
        elif text.startswith("/*", pos):
            end = text.find("*/", pos + 2)
            if end < 0:
                raise scanner.error("unterminated comment: missing closing */", pos)
            pos = end + 2
        else:
            break
    scanner.advance_to(pos)


def _read_string(scanner: _Scanner, start: int) -> tuple[str, int]:
    text = scanner.text
    pos = start + 1
    parts: list[str] = []
    while True:
        if pos >= len(text) or text[pos] == "\n":
            raise scanner.error('unterminated string: missing closing "', start)
        char = text[pos]
        if char == '"':
            return "".join(parts), pos + 1
        if char != "\\":
            parts.append(char)
            pos += 1
            continue
        escape = text[pos + 1 : pos + 2]
        if escape in _SIMPLE_ESCAPES:
            parts.append(_SIMPLE_ESCAPES[escape])
            pos += 2
        elif escape == "u":
            match = _UNICODE_ESCAPE_RE.match(text, pos + 2)
            if match is None:
                raise scanner.error(
                    r"invalid unicode escape: expected \u{XXXX} with 2 to 8 hex digits", pos
                )
            code = int(match.group(1), 16)
            if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                raise scanner.error(f"invalid unicode code point {match.group(1)}", pos)
            parts.append(chr(code))
            pos = match.end()
        else:
            raise scanner.error(
                f"invalid escape sequence '\\{escape}' in string "
                '(allowed: \\n \\r \\t \\\\ \\" \\u{XXXX}; or use a """raw""" string)',
                pos,
            )


def _read_quoted_identifier(scanner: _Scanner, start: int) -> tuple[str, int]:
    text = scanner.text
    pos = start + 1
    parts: list[str] = []
    while True:
        end = text.find("`", pos)
        if end < 0:
            raise scanner.error("unterminated quoted field name: missing closing `", start)
        parts.append(text[pos:end])
        if text.startswith("``", end):
            parts.append("`")
            pos = end + 2
            continue
        return "".join(parts), end + 1
