"""Recursive-descent parser for Elasticsearch's EQL dialect: tokens in, `ast` nodes out.

Everything Elasticsearch refuses (join, unsupported pipes, array indexing, `=`, chained
comparisons, single-quoted strings, ...) is refused here with a message naming it.
"""

from __future__ import annotations

from typing import NoReturn, cast

from quarantine.eql import ast
from quarantine.eql.errors import EqlSyntaxError
from quarantine.eql.lexer import Kind, Token, tokenize

_COMPARE_OPS = frozenset({"==", "!=", "<", "<=", ">", ">="})
_MATCH_OPERATORS = {
    ":": ("seq", True),
    "like": ("like", False),
    "like~": ("like", True),
    "regex": ("regex", False),
    "regex~": ("regex", True),
}
_TIME_UNITS_NS = {
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
    "d": 86_400_000_000_000,
}
_UNSUPPORTED_PIPES = frozenset({"count", "filter", "sort", "unique", "unique_count", "window"})
_MAX_RUNS = 100
_DEFAULT_HEAD_TAIL = 10


def parse(text: str) -> ast.QueryNode:
    """Parse a whole EQL query (event query, sequence or sample, with pipes)."""
    return _Parser(text).query()


def parse_expression(text: str) -> ast.Expr:
    """Parse a bare boolean or value expression (used for exceptions and folding tests)."""
    parser = _Parser(text)
    expr = parser.expression()
    parser.expect_end()
    return expr


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.index = 0

    # --- token helpers -----------------------------------------------------------------

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def peek(self, ahead: int = 1) -> Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind is not Kind.EOF:
            self.index += 1
        return token

    def at(self, kind: Kind, text: str | None = None) -> bool:
        token = self.current
        return token.kind is kind and (text is None or token.text == text)

    def at_keyword(self, *words: str) -> bool:
        return self.current.kind is Kind.KEYWORD and self.current.text in words

    def at_op(self, *ops: str) -> bool:
        return self.current.kind is Kind.OP and self.current.text in ops

    def accept_keyword(self, word: str) -> bool:
        if self.at_keyword(word):
            self.advance()
            return True
        return False

    def accept_op(self, op: str) -> bool:
        if self.at_op(op):
            self.advance()
            return True
        return False

    def fail(self, message: str, token: Token | None = None) -> NoReturn:
        token = token or self.current
        raise EqlSyntaxError(message, token.line, token.column)

    def expected(self, what: str) -> NoReturn:
        self.fail(f"expected {what}, found {self.current.describe()}")

    def expect_op(self, op: str, context: str = "") -> Token:
        if not self.at_op(op):
            self.expected(f"'{op}'{context}")
        return self.advance()

    def expect_end(self) -> None:
        if not self.at(Kind.EOF):
            if self.at_op("="):
                self.fail("'=' is not an operator in EQL; use '==' to compare")
            self.expected("the end of the query or a pipe '|'")

    @staticmethod
    def position(token: Token) -> ast.Position:
        return ast.Position(token.line, token.column)

    # --- queries -----------------------------------------------------------------------

    def query(self) -> ast.QueryNode:
        token = self.current
        if self.at_keyword("join"):
            self.fail("'join' is not supported by Elasticsearch EQL; use 'sequence' instead")
        node: ast.QueryNode
        if self.accept_keyword("sequence"):
            node = self.sequence(token)
        elif self.accept_keyword("sample"):
            node = self.sample(token)
        else:
            event_filter = self.event_filter()
            node = ast.EventQuery(event_filter, self.pipes())
        self.expect_end()
        return node

    def event_filter(self) -> ast.EventFilter:
        token = self.current
        category: str | None
        if self.accept_keyword("any"):
            category = None
        elif token.kind in (Kind.IDENT, Kind.STRING, Kind.QUOTED_IDENT):
            self.advance()
            category = token.text
        else:
            self.expected("an event category (such as 'process') or 'any'")
        if not self.at_keyword("where"):
            if self.at_op("."):
                self.fail(
                    "expected 'where' after the event category; a category is a single name "
                    '(quote unusual names: "my-category")'
                )
            self.expected(f"'where' after the event category {token.describe()}")
        self.advance()
        condition = self.expression()
        self._refuse_relationship()
        return ast.EventFilter(category, condition, self.position(token))

    def _refuse_relationship(self) -> None:
        relationship = self.current.kind is Kind.IDENT and self.current.text in (
            "child",
            "descendant",
        )
        if relationship and self.peek().kind is Kind.KEYWORD and self.peek().text == "of":
            self.fail(f"'{self.current.text} of' is not supported by Elasticsearch EQL")

    def sequence(self, start: Token) -> ast.SequenceQuery:
        keys: tuple[ast.Expr, ...] = ()
        maxspan: int | None = None
        if self.accept_keyword("by"):
            keys = self.join_keys()
        if self.accept_keyword("with"):
            maxspan = self.maxspan()
            if self.at_keyword("by"):
                self.fail("write the sequence's 'by' keys before 'with maxspan', not after")
        stages: list[ast.Stage] = []
        while self.at_op("[", "!"):
            stages.extend(self.stage(in_sequence=True))
        if not stages:
            self.expected("a bracketed sequence stage such as [process where true]")
        until: ast.Stage | None = None
        if self.accept_keyword("until"):
            until_stages = self.stage(in_sequence=False)
            until = until_stages[0]
        if len(stages) < 2:
            self.fail(f"a sequence needs at least 2 stages, found {len(stages)}", start)
        if not any(not stage.missing for stage in stages):
            self.fail("a sequence needs at least one stage that is not a missing event", start)
        if maxspan is None and any(stage.missing for stage in stages):
            self.fail("a sequence with missing events (![...]) needs 'with maxspan=...'", start)
        self._check_key_counts(keys, stages, until)
        return ast.SequenceQuery(keys, maxspan, tuple(stages), until, self.pipes())

    def sample(self, start: Token) -> ast.SampleQuery:
        keys: tuple[ast.Expr, ...] = ()
        if self.accept_keyword("by"):
            keys = self.join_keys()
        if self.at_keyword("with"):
            self.fail("a sample does not support 'with' (maxspan and runs are for sequences)")
        stages: list[ast.Stage] = []
        while self.at_op("[", "!"):
            if self.at_op("!"):
                self.fail("a sample cannot have missing events (![...])")
            stages.extend(self.stage(in_sequence=False))
            if self.at_keyword("with"):
                self.fail("a sample does not support 'with runs=...'")
        if self.at_keyword("until"):
            self.fail("a sample does not support 'until'")
        if len(stages) < 2:
            self.fail(f"a sample needs at least 2 filters, found {len(stages)}", start)
        self._check_key_counts(keys, stages, None)
        return ast.SampleQuery(keys, tuple(stages), self.pipes())

    def _check_key_counts(
        self, keys: tuple[ast.Expr, ...], stages: list[ast.Stage], until: ast.Stage | None
    ) -> None:
        del keys  # sequence-level keys apply to every stage equally
        expected = len(stages[0].keys)
        for stage in [*stages, *([until] if until else [])]:
            if len(stage.keys) != expected:
                raise EqlSyntaxError(
                    f"every stage must have the same number of 'by' keys: the first has "
                    f"{expected}, this one has {len(stage.keys)}",
                    stage.pos.line,
                    stage.pos.column,
                )

    def stage(self, *, in_sequence: bool) -> list[ast.Stage]:
        start = self.current
        missing = self.accept_op("!")
        self.expect_op("[", " to open a stage")
        event_filter = self.event_filter()
        self.expect_op("]", " to close the stage")
        keys: tuple[ast.Expr, ...] = ()
        if self.accept_keyword("by"):
            keys = self.join_keys()
        runs = 1
        if in_sequence and self.at_keyword("with"):
            with_token = self.advance()
            name = self.current
            if name.kind is not Kind.IDENT or name.text != "runs":
                if name.kind is Kind.KEYWORD and name.text == "maxspan":
                    self.fail("'maxspan' belongs after 'sequence', not after a stage", name)
                self.expected("'runs' after 'with' on a stage")
            self.advance()
            self.expect_op("=", " after 'runs'")
            count = self.current
            if count.kind is not Kind.INTEGER:
                self.expected("a whole number of runs")
            self.advance()
            runs = int(count.text)
            if not 1 <= runs <= _MAX_RUNS:
                self.fail(f"runs must be between 1 and {_MAX_RUNS}, found {runs}", count)
            del with_token
        stage = ast.Stage(event_filter, keys, missing, self.position(start))
        return [stage] * runs

    def join_keys(self) -> tuple[ast.Expr, ...]:
        keys = [self.expression()]
        while self.accept_op(","):
            keys.append(self.expression())
        return tuple(keys)

    def maxspan(self) -> int:
        name = self.current
        if not (name.kind is Kind.KEYWORD and name.text == "maxspan"):
            self.expected("'maxspan' after 'with'")
        self.advance()
        self.expect_op("=", " after 'maxspan'")
        number = self.current
        if number.kind is not Kind.INTEGER:
            self.expected("a whole number followed by a time unit (ms, s, m, h, d), e.g. 5m")
        self.advance()
        unit = self.current
        if unit.kind is not Kind.IDENT or unit.text not in _TIME_UNITS_NS:
            self.expected("a time unit (ms, s, m, h or d) after the maxspan number")
        self.advance()
        value = int(number.text)
        if value <= 0:
            self.fail("maxspan must be greater than zero", number)
        return value * _TIME_UNITS_NS[unit.text]

    def pipes(self) -> tuple[ast.Pipe, ...]:
        pipes: list[ast.Pipe] = []
        while self.accept_op("|"):
            name = self.current
            if name.kind not in (Kind.IDENT, Kind.KEYWORD):
                self.expected("a pipe name ('head' or 'tail') after '|'")
            self.advance()
            if name.text in _UNSUPPORTED_PIPES:
                self.fail(
                    f"pipe '{name.text}' is not supported by Elasticsearch EQL "
                    "(only 'head' and 'tail' are)",
                    name,
                )
            if name.text not in ("head", "tail"):
                self.fail(f"unknown pipe '{name.text}'; Elasticsearch EQL has 'head' and 'tail'")
            count = _DEFAULT_HEAD_TAIL
            if self.at(Kind.INTEGER):
                count = int(self.advance().text)
            elif self.at_op("-"):
                self.fail(f"'{name.text}' needs a number of results that is zero or more")
            elif not (self.at(Kind.EOF) or self.at_op("|")):
                self.expected(f"a whole number after '{name.text}'")
            pipes.append(ast.Pipe(cast(ast.PipeKind, name.text), count, self.position(name)))
        return tuple(pipes)

    # --- expressions -------------------------------------------------------------------

    def expression(self) -> ast.Expr:
        return self.or_expression()

    def or_expression(self) -> ast.Expr:
        first = self.current
        operands = [self.and_expression()]
        while self.accept_keyword("or"):
            operands.append(self.and_expression())
        if len(operands) == 1:
            return operands[0]
        return ast.Or(tuple(operands), self.position(first))

    def and_expression(self) -> ast.Expr:
        first = self.current
        operands = [self.not_expression()]
        while self.accept_keyword("and"):
            operands.append(self.not_expression())
        if len(operands) == 1:
            return operands[0]
        return ast.And(tuple(operands), self.position(first))

    def not_expression(self) -> ast.Expr:
        token = self.current
        if self.accept_keyword("not"):
            return ast.Not(self.not_expression(), self.position(token))
        return self.comparison()

    def comparison(self) -> ast.Expr:
        left = self.additive()
        token = self.current
        if token.kind is Kind.OP and token.text == "=":
            self.fail("'=' is not an operator in EQL; use '==' to compare")
        if token.kind is Kind.OP and token.text in _COMPARE_OPS:
            self.advance()
            right = self.additive()
            after = self.current
            if after.kind is Kind.OP and after.text in _COMPARE_OPS:
                self.fail(
                    "chained comparisons such as 'a < b < c' are not supported; "
                    "combine two comparisons with 'and'"
                )
            op = cast(ast.CompareOp, token.text)
            return ast.Compare(op, left, right, self.position(token))
        return left

    def additive(self) -> ast.Expr:
        left = self.multiplicative()
        while self.at_op("+", "-"):
            token = self.advance()
            right = self.multiplicative()
            left = ast.Arith(cast(ast.ArithOp, token.text), left, right, self.position(token))
        return left

    def multiplicative(self) -> ast.Expr:
        left = self.unary()
        while self.at_op("*", "/", "%"):
            token = self.advance()
            right = self.unary()
            left = ast.Arith(cast(ast.ArithOp, token.text), left, right, self.position(token))
        return left

    def unary(self) -> ast.Expr:
        token = self.current
        if self.accept_op("-"):
            operand = self.unary()
            if isinstance(operand, ast.Literal) and _is_number(operand.value):
                value = operand.value
                assert isinstance(value, int | float)
                return ast.Literal(-value, self.position(token))
            return ast.Negate(operand, self.position(token))
        if self.accept_op("+"):
            return self.unary()
        return self.predicate()

    def predicate(self) -> ast.Expr:
        operand = self.primary()
        token = self.current
        if token.kind is Kind.KEYWORD and token.text == "not":
            following = self.peek()
            if following.kind is Kind.KEYWORD and following.text in ("in", "in~"):
                self.advance()
                inner = self.in_set(operand)
                return ast.Not(inner, self.position(token))
            if following.kind is Kind.KEYWORD and following.text in _MATCH_OPERATORS:
                self.fail(
                    f"'not {following.text}' is not supported; write 'not (x {following.text} ...)'"
                )
            return operand
        if token.kind is Kind.KEYWORD and token.text in ("in", "in~"):
            return self.in_set(operand)
        if (token.kind is Kind.OP and token.text == ":") or (
            token.kind is Kind.KEYWORD and token.text in _MATCH_OPERATORS
        ):
            self.advance()
            kind, insensitive = _MATCH_OPERATORS[token.text]
            patterns = self.match_patterns(token)
            return ast.Match(
                cast(ast.MatchKind, kind),
                operand,
                patterns,
                insensitive,
                self.position(token),
            )
        return operand

    def in_set(self, operand: ast.Expr) -> ast.Expr:
        token = self.advance()
        self.expect_op("(", f" after '{token.text}'")
        values = [self.expression()]
        while self.accept_op(","):
            values.append(self.expression())
        self.expect_op(")", f" to close the '{token.text}' list")
        return ast.InSet(operand, tuple(values), token.text == "in~", self.position(token))

    def match_patterns(self, operator: Token) -> tuple[ast.Scalar, ...]:
        if self.accept_op("("):
            patterns = [self.match_constant(operator)]
            while self.accept_op(","):
                patterns.append(self.match_constant(operator))
            self.expect_op(")", f" to close the '{operator.text}' list")
            return tuple(patterns)
        return (self.match_constant(operator),)

    def match_constant(self, operator: Token) -> ast.Scalar:
        token = self.current
        if token.kind is Kind.STRING:
            self.advance()
            return token.text
        if operator.text == ":" and token.kind in (Kind.INTEGER, Kind.DECIMAL):
            self.advance()
            return _number(token)
        if operator.text == ":" and token.kind is Kind.KEYWORD and token.text in ("true", "false"):
            self.advance()
            return token.text == "true"
        self.fail(
            f"the right side of '{operator.text}' must be a string constant (or a list of "
            f"them in parentheses), found {token.describe()}"
        )

    def primary(self) -> ast.Expr:
        token = self.current
        position = self.position(token)
        kind = token.kind
        if kind is Kind.STRING:
            self.advance()
            return ast.Literal(token.text, position)
        if kind in (Kind.INTEGER, Kind.DECIMAL):
            self.advance()
            return ast.Literal(_number(token), position)
        if kind is Kind.KEYWORD and token.text in ("true", "false", "null"):
            self.advance()
            constants: dict[str, ast.Scalar] = {"true": True, "false": False, "null": None}
            return ast.Literal(constants[token.text], position)
        if self.accept_op("("):
            inner = self.expression()
            self.expect_op(")", " to close the parenthesis")
            return inner
        following = self.peek()
        if (
            kind in (Kind.IDENT, Kind.TILDE_IDENT)
            and following.kind is Kind.OP
            and (following.text == "(")
        ):
            return self.call()
        if kind is Kind.TILDE_IDENT:
            self.expected(f"'(' after the function name {token.describe()}")
        if self.at_op("?"):
            self.advance()
            if self.current.kind is Kind.STRING:
                self.fail('?"..." raw strings are not supported; use """...""" instead')
            return self.field(optional=True, start=token)
        if kind in (Kind.IDENT, Kind.QUOTED_IDENT):
            return self.field(optional=False, start=token)
        if kind is Kind.OP and token.text == "'":
            self.fail("single-quoted strings are not supported in EQL; use double quotes")
        self.expected("a value, a field name or a function call")

    def call(self) -> ast.Expr:
        name_token = self.advance()
        self.advance()  # (
        args: list[ast.Expr] = []
        if not self.at_op(")"):
            args.append(self.expression())
            while self.accept_op(","):
                args.append(self.expression())
        self.expect_op(")", f" to close the call to {name_token.text}")
        insensitive = name_token.kind is Kind.TILDE_IDENT
        name = name_token.text[:-1] if insensitive else name_token.text
        return ast.Call(name, tuple(args), insensitive, self.position(name_token))

    def field(self, *, optional: bool, start: Token) -> ast.Expr:
        token = self.current
        if token.kind not in (Kind.IDENT, Kind.QUOTED_IDENT):
            self.expected("a field name after '?'")
        self.advance()
        parts = [token.text]
        while True:
            if self.at_op(".") and self.peek().kind in (
                Kind.IDENT,
                Kind.QUOTED_IDENT,
                Kind.KEYWORD,
            ):
                self.advance()
                parts.append(self.advance().text)
            elif self.at_op(".") and self.peek().kind is Kind.INTEGER:
                self.fail("a field name part cannot start with a digit; quote it with backticks")
            elif self.at_op("[") and self.peek().kind is Kind.INTEGER:
                self.fail(
                    "array indexing such as field[0] is not supported by Elasticsearch EQL; "
                    "array fields match when any element matches"
                )
            else:
                break
        return ast.Field(".".join(parts), optional, self.position(start))


def _is_number(value: ast.Scalar) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_MAX_LONG = 2**63 - 1


def _number(token: Token) -> int | float:
    if token.kind is Kind.INTEGER:
        value = int(token.text)
        # Elasticsearch reads integers too large for a long as doubles.
        return value if value <= _MAX_LONG else float(value)
    return float(token.text)
