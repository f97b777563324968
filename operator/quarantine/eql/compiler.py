"""Compiles `ast` expressions once into Python closures.

Two shapes come out: a *predicate* `(event) -> True | False | None` (three-valued: None is
null and never matches) and a *value* `(event) -> scalar | None`. Field-versus-constant
predicates (`==`, `<`, `:`, `like`, `regex`, `in`, `== null`, `startsWith`, `cidrMatch`) see every
element of an array field and match if any element does, as Elasticsearch's pushed-down
queries do; functions and arithmetic see only the field's first doc value (the smallest).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from quarantine.eql import ast
from quarantine.eql.dispatch import Event, Predicate, any_true, dispatched_or
from quarantine.eql.errors import EqlSyntaxError
from quarantine.eql.fields import Getter, doc_value, field_getter, values_of
from quarantine.eql.functions import (
    ANY,
    BOOLEAN,
    FUNCTIONS,
    UNSUPPORTED_FUNCTIONS,
    FunctionSpec,
    cidr_networks,
    literal_kind,
    make_cidr_test,
)
from quarantine.eql.lucene_regex import LuceneRegexError, compile_lucene_test
from quarantine.eql.ordering import rare_first
from quarantine.eql.values import (
    NUMBER_TYPES,
    ORDERING,
    Converter,
    converter_for,
    is_number,
    scalar_compare,
)
from quarantine.eql.wildcard import compile_wildcards, has_wildcard

ValueFn = Callable[[Event], Any]
ElementTest = Callable[[Any], bool]

Schema = Mapping[str, str]


def _error(message: str, pos: ast.Position) -> EqlSyntaxError:
    return EqlSyntaxError(message, pos.line, pos.column)


class Compiler:
    """Turns expressions into closures; `schema` (field -> Elasticsearch type) is optional.

    With `nested_only`, events are promised to be canonical (nested objects, no dotted keys,
    as `quarantine.events` produces them), and fields are read with a plain walk.

    With a schema, `date`/`date_nanos` and `version` fields compare as dates and versions, and
    an optional `?field` missing from the schema is the constant null, as in Elasticsearch.
    """

    def __init__(self, schema: Schema | None = None, *, nested_only: bool = False) -> None:
        self.schema = schema
        self.nested_only = nested_only

    def getter(self, path: str) -> Getter:
        """The accessor of a field path, for the kind of events this compiler expects."""
        return field_getter(path, nested_only=self.nested_only)

    # --- constants -----------------------------------------------------------------------

    def resolve(self, expr: ast.Expr) -> ast.Expr:
        """Fold constant sub-expressions into literals (after checking them)."""
        if isinstance(expr, ast.Literal):
            return expr
        if isinstance(expr, ast.Field):
            if expr.optional and self.schema is not None and expr.path not in self.schema:
                return ast.Literal(None, expr.pos)
            return expr
        if not self._has_field(expr):
            value = self.value(expr)({})
            return ast.Literal(value, _pos(expr))
        return expr

    def _has_field(self, expr: ast.Expr) -> bool:
        if isinstance(expr, ast.Field):
            return not (expr.optional and self.schema is not None and expr.path not in self.schema)
        if isinstance(expr, ast.Literal):
            return False
        return any(self._has_field(child) for child in _children(expr))

    # --- predicates ----------------------------------------------------------------------

    def predicate(self, expr: ast.Expr) -> Predicate:
        return self._raw_predicate(self.resolve(expr))

    def _raw_predicate(self, expr: ast.Expr) -> Predicate:
        if isinstance(expr, ast.Literal):
            if expr.value is None or type(expr.value) is bool:
                constant = expr.value
                return lambda event: constant
            raise _error(
                f"a condition must be true or false, found the constant {expr.value!r}",
                expr.pos,
            )
        if isinstance(expr, ast.Field):
            return self._field_predicate(expr, lambda value: value is True)
        if isinstance(expr, ast.Not):
            return _negate(self.predicate(expr.operand))
        if isinstance(expr, ast.And):
            # Compiled as written (so the first error reported is the first in the text),
            # evaluated rare tests first.
            predicates = [self.predicate(operand) for operand in expr.operands]
            return _all_of([predicates[index] for index in rare_first(expr.operands)])
        if isinstance(expr, ast.Or):
            predicates = [self.predicate(operand) for operand in expr.operands]
            switched = dispatched_or(
                expr.operands, predicates, self._plain_string_field, self.getter
            )
            return switched or _any_of(predicates)
        if isinstance(expr, ast.Compare):
            return self._compare(expr)
        if isinstance(expr, ast.InSet):
            return self._in_set(expr)
        if isinstance(expr, ast.Match):
            return self._match(expr)
        if isinstance(expr, ast.Call):
            return self._call_predicate(expr)
        raise _error("a condition must be true or false, found an arithmetic value", _pos(expr))

    def _field_predicate(self, field: ast.Field, test: ElementTest) -> Predicate:
        get = self.getter(field.path)

        def predicate(event: Event) -> bool | None:
            raw = get(event)
            if raw is None:
                return None
            if type(raw) is list:
                return any_element(raw, test)
            return test(raw)

        return predicate

    def _plain_string_field(self, field: ast.Field) -> bool:
        """Whether the field's values compare as plain JSON strings (no schema type, and not
        an optional field the schema lacks, which is the constant null)."""
        return self.resolve(field) is field and self.converter(field) is None

    def converter(self, field: ast.Field) -> Converter | None:
        if self.schema is None:
            return None
        return converter_for(self.schema.get(field.path))

    def _is_null(self, expr: ast.Expr) -> Predicate:
        if isinstance(expr, ast.Field):
            get = self.getter(expr.path)
            return lambda event: not values_of(get(event))
        value = self.value(expr)
        return lambda event: value(event) is None

    def _compare(self, expr: ast.Compare) -> Predicate:
        left, right = self.resolve(expr.left), self.resolve(expr.right)
        op = expr.op
        # `x == null` is IS NULL and `x != null` IS NOT NULL: never null themselves.
        for side, other in ((left, right), (right, left)):
            if isinstance(side, ast.Literal) and side.value is None:
                if op == "==":
                    return self._is_null(other)
                if op == "!=":
                    return _negate(self._is_null(other))
                return lambda event: None
        if isinstance(left, ast.Literal) and isinstance(right, ast.Field):
            left, right, op = right, left, _FLIPPED[op]
        if isinstance(left, ast.Field) and isinstance(right, ast.Literal):
            if op == "!=":
                return _negate(self._field_predicate(left, self.element_test("==", left, right)))
            return self._field_predicate(left, self.element_test(op, left, right))
        if (
            isinstance(left, ast.Field)
            and isinstance(right, ast.Field)
            and not (left.optional or right.optional)
        ):
            raise _error(
                f"comparing two fields ({left.path} {op} {right.path}) is not supported "
                "by Elasticsearch EQL; compare a field with a constant",
                expr.pos,
            )
        left_value, right_value = self.value(left), self.value(right)
        return lambda event: scalar_compare(op, left_value(event), right_value(event))

    def element_test(self, op: str, field: ast.Field, literal: ast.Literal) -> ElementTest:
        constant = literal.value
        convert = self.converter(field)
        if convert is not None:
            target = convert(constant)
            if target is None:
                raise _error(
                    f"{constant!r} is not a valid value for the {self.schema_type(field)} "
                    f"field {field.path}",
                    literal.pos,
                )
            if op == "==":
                return lambda value: convert(value) == target
            order = ORDERING[op]

            def typed(value: Any) -> bool:
                converted = convert(value)
                return converted is not None and order(converted, target)

            return typed
        if op == "==":
            if type(constant) is str:
                return lambda value: value == constant
            if type(constant) is bool:
                return lambda value: value is constant
            return lambda value: type(value) in NUMBER_TYPES and value == constant
        order = ORDERING[op]
        if type(constant) is str:
            return lambda value: type(value) is str and order(value, constant)
        if type(constant) is bool:
            return lambda value: type(value) is bool and order(value, constant)
        return lambda value: type(value) in NUMBER_TYPES and order(value, constant)

    def value_test(self, condition: ast.Expr) -> ElementTest | None:
        """The test one value of a field must pass for a condition on that field alone
        (`field == constant`, `field in (...)`, a pattern match) to hold of it, exactly as
        the condition's own predicate tests each value of an array; None for any other
        condition (or one that does not compile)."""
        try:
            return self._value_test(condition)
        except EqlSyntaxError:
            return None

    def _value_test(self, condition: ast.Expr) -> ElementTest | None:
        if isinstance(condition, ast.Compare) and condition.op == "==":
            left, right = self.resolve(condition.left), self.resolve(condition.right)
            if isinstance(left, ast.Literal):
                left, right = right, left
            if (
                isinstance(left, ast.Field)
                and isinstance(right, ast.Literal)
                and right.value is not None
            ):
                return self.element_test("==", left, right)
            return None
        if isinstance(condition, ast.InSet):
            operand = self.resolve(condition.operand)
            members = [self.resolve(value) for value in condition.values]
            if not isinstance(operand, ast.Field):
                return None
            constants = [m.value for m in members if isinstance(m, ast.Literal)]
            if len(constants) != len(members):
                return None
            return self._field_membership(operand, constants, condition.insensitive)
        if isinstance(condition, ast.Match) and isinstance(
            self.resolve(condition.operand), ast.Field
        ):
            return self._pattern_test(condition)
        return None

    def _field_membership(
        self, field: ast.Field, constants: list[Any], insensitive: bool
    ) -> ElementTest:
        """The per-value test of `field in (constants)`, through the field's schema type."""
        convert = self.converter(field)
        if convert is not None:
            targets = {convert(c) for c in constants} - {None}
            return lambda value: convert(value) in targets
        return membership_test(constants, insensitive=insensitive)

    def schema_type(self, field: ast.Field) -> str:
        return (self.schema or {}).get(field.path, "unmapped")

    def _in_set(self, expr: ast.InSet) -> Predicate:
        operand = self.resolve(expr.operand)
        members = [self.resolve(value) for value in expr.values]
        if all(isinstance(member, ast.Literal) for member in members):
            constants = [m.value for m in members if isinstance(m, ast.Literal)]
            if isinstance(operand, ast.Field):
                field_test = self._field_membership(operand, constants, expr.insensitive)
                return self._field_predicate(operand, field_test)
            test = membership_test(constants, insensitive=expr.insensitive)
            value = self.value(operand)

            def scalar_in(event: Event) -> bool | None:
                result = value(event)
                return None if result is None else test(result)

            return scalar_in
        # Lists with non-constant members: an OR of scalar equalities.
        value = self.value(operand)
        member_values = [self.value(member) for member in members]
        insensitive = expr.insensitive

        def dynamic_in(event: Event) -> bool | None:
            result = value(event)
            if result is None:
                return None
            for member in member_values:
                candidate = member(event)
                if insensitive and type(result) is str and type(candidate) is str:
                    if result.lower() == candidate.lower():
                        return True
                elif scalar_compare("==", result, candidate):
                    return True
            return False

        return dynamic_in

    def _match(self, expr: ast.Match) -> Predicate:
        operand = self.resolve(expr.operand)
        test = self._pattern_test(expr)
        if isinstance(operand, ast.Field):
            return self._field_predicate(operand, test)
        if isinstance(operand, ast.Literal):
            constant = operand.value
            result = None if constant is None else test(constant)
            return lambda event: result
        value = self.value(operand)

        def scalar_match(event: Event) -> bool | None:
            result = value(event)
            return None if result is None else test(result)

        return scalar_match

    def _pattern_test(self, expr: ast.Match) -> ElementTest:
        string_test, other_test = self._string_pattern_test(expr)
        if other_test is None:
            return lambda value: type(value) is str and string_test(value)
        return lambda value: string_test(value) if type(value) is str else other_test(value)

    def _string_pattern_test(
        self, expr: ast.Match
    ) -> tuple[Callable[[str], bool], ElementTest | None]:
        """The test of string values, and of the others (None: they never match)."""
        strings = [p for p in expr.patterns if type(p) is str]
        others = [p for p in expr.patterns if type(p) is not str]
        string_test: Callable[[str], bool]
        if expr.kind == "regex":
            try:
                tests = [compile_lucene_test(p, insensitive=expr.insensitive) for p in strings]
            except (LuceneRegexError, re.error) as error:
                raise _error(f"invalid regular expression: {error}", expr.pos) from None
            string_test = tests[0] if len(tests) == 1 else _any_string_test(tests)

        elif expr.kind == "like" or any(has_wildcard(p) for p in strings):
            string_test = compile_wildcards(strings, insensitive=expr.insensitive)
        else:
            # `:` without wildcards is case-insensitive equality.
            lowered = frozenset(p.lower() for p in strings)

            def string_test(value: str) -> bool:
                return value.lower() in lowered

        other_test = membership_test(others, insensitive=False) if others else None
        return string_test, other_test

    # --- functions -----------------------------------------------------------------------

    def _lookup(self, call: ast.Call) -> FunctionSpec:
        key = call.name.lower()
        if key in UNSUPPORTED_FUNCTIONS:
            raise _error(f"function '{call.name}' is not supported by Elasticsearch EQL", call.pos)
        spec = FUNCTIONS.get(key)
        if spec is None:
            known = ", ".join(sorted(s.name for s in FUNCTIONS.values()))
            raise _error(f"unknown function '{call.name}'; EQL functions are: {known}", call.pos)
        if call.insensitive and not spec.has_insensitive:
            raise _error(f"function '{spec.name}' has no case-insensitive '~' form", call.pos)
        count = len(call.args)
        if count < spec.min_args or (spec.max_args is not None and count > spec.max_args):
            if spec.max_args is None:
                wanted = f"at least {spec.min_args}"
            elif spec.min_args == spec.max_args:
                wanted = str(spec.min_args)
            else:
                wanted = f"{spec.min_args} to {spec.max_args}"
            raise _error(
                f"function '{spec.name}' takes {wanted} arguments, found {count}", call.pos
            )
        for index, arg in enumerate(call.args):
            resolved = self.resolve(arg)
            wanted_kind = spec.kind_of_arg(index)
            if isinstance(resolved, ast.Literal) and resolved.value is not None:
                found_kind = literal_kind(resolved.value)
                if wanted_kind != ANY and found_kind != wanted_kind:
                    raise _error(
                        f"argument {index + 1} of '{spec.name}' must be a {wanted_kind}, "
                        f"found {found_kind} {resolved.value!r}",
                        _pos(arg),
                    )
        return spec

    def _call_predicate(self, call: ast.Call) -> Predicate:
        spec = self._lookup(call)
        if spec.returns != BOOLEAN:
            raise _error(
                f"a condition must be true or false, but '{spec.name}' returns a {spec.returns}",
                call.pos,
            )
        args = [self.resolve(arg) for arg in call.args]
        first = args[0]
        constants = args[1:]
        if isinstance(first, ast.Field) and all(isinstance(c, ast.Literal) for c in constants):
            values = tuple(c.value for c in constants if isinstance(c, ast.Literal))
            # Elasticsearch pushes these down as term/prefix queries: any array element counts.
            if spec.name == "cidrMatch":
                try:
                    networks = cidr_networks(values)
                except ValueError as error:
                    raise _error(str(error), call.pos) from None
                return self._field_predicate(first, make_cidr_test(networks))
            if spec.name == "startsWith" and type(values[0]) is str:
                prefix = values[0].lower() if call.insensitive else values[0]
                if call.insensitive:
                    return self._field_predicate(
                        first, lambda v: type(v) is str and v.lower().startswith(prefix)
                    )
                return self._field_predicate(
                    first, lambda v: type(v) is str and v.startswith(prefix)
                )
        value = self._call_value(call, spec)

        def call_predicate(event: Event) -> bool | None:
            result = value(event)
            return result if result is None or type(result) is bool else None

        return call_predicate

    def _call_value(self, call: ast.Call, spec: FunctionSpec) -> ValueFn:
        if spec.name == "cidrMatch":
            blocks = [self.resolve(arg) for arg in call.args[1:]]
            if all(isinstance(b, ast.Literal) for b in blocks):
                try:
                    cidr_networks(tuple(b.value for b in blocks if isinstance(b, ast.Literal)))
                except ValueError as error:
                    raise _error(str(error), call.pos) from None
        impl = spec.make(call.insensitive)
        arg_values = [self.value(arg) for arg in call.args]
        if len(arg_values) == 1:
            (only,) = arg_values
            return lambda event: impl(only(event))
        if len(arg_values) == 2:
            first, second = arg_values
            return lambda event: impl(first(event), second(event))
        return lambda event: impl(*[arg(event) for arg in arg_values])

    # --- values --------------------------------------------------------------------------

    def value(self, expr: ast.Expr) -> ValueFn:
        if isinstance(expr, ast.Literal):
            constant = expr.value
            return lambda event: constant
        if isinstance(expr, ast.Field):
            if expr.optional and self.schema is not None and expr.path not in self.schema:
                return lambda event: None
            get = self.getter(expr.path)
            return lambda event: doc_value(get(event))
        if isinstance(expr, ast.Arith):
            return self._arith(expr)
        if isinstance(expr, ast.Negate):
            operand = self.value(expr.operand)

            def negate(event: Event) -> Any:
                result = operand(event)
                return -result if is_number(result) else None

            return negate
        if isinstance(expr, ast.Call):
            return self._call_value(expr, self._lookup(expr))
        # Boolean sub-expressions used as values (`null == (x > 1)`) yield their truth value.
        return self._raw_predicate(expr)

    def _arith(self, expr: ast.Arith) -> ValueFn:
        spec = FUNCTIONS[_ARITH_FUNCTIONS[expr.op]]
        for side in (expr.left, expr.right):
            resolved = self.resolve(side)
            constant = resolved.value if isinstance(resolved, ast.Literal) else None
            if constant is not None and not is_number(constant):
                raise _error(
                    f"arithmetic '{expr.op}' needs numbers, found {constant!r}", _pos(side)
                )
        impl = spec.make(False)
        left, right = self.value(expr.left), self.value(expr.right)
        return lambda event: impl(left(event), right(event))


_ARITH_FUNCTIONS = {"+": "add", "-": "subtract", "*": "multiply", "/": "divide", "%": "modulo"}
_FLIPPED: dict[str, ast.CompareOp] = {
    "==": "==",
    "!=": "!=",
    "<": ">",
    "<=": ">=",
    ">": "<",
    ">=": "<=",
}


def membership_test(constants: list[Any], *, insensitive: bool) -> ElementTest:
    strings = {c.lower() if insensitive else c for c in constants if type(c) is str}
    numbers = {c for c in constants if is_number(c)}
    booleans = {c for c in constants if type(c) is bool}
    if insensitive:
        frozen_strings = frozenset(strings)
        if not numbers and not booleans:
            return lambda value: type(value) is str and value.lower() in frozen_strings
    elif not numbers and not booleans:
        frozen_strings = frozenset(strings)
        return lambda value: type(value) is str and value in frozen_strings
    elif not strings and not booleans:
        frozen_numbers = frozenset(numbers)
        return lambda value: type(value) in NUMBER_TYPES and value in frozen_numbers

    def mixed(value: Any) -> bool:
        kind = type(value)
        if kind is str:
            return (value.lower() if insensitive else value) in strings
        if kind is bool:
            return value in booleans
        if kind in NUMBER_TYPES:
            return value in numbers
        return False

    return mixed


def any_element(raw: list[Any], test: ElementTest) -> bool | None:
    """Whether any non-null element of an array passes `test` (None when it holds none).
    Flat arrays, the usual case, are walked as they are; nested ones are flattened first."""
    seen = False
    for value in raw:
        if value is None:
            continue
        if type(value) is list:
            values = values_of(raw)
            return any_element(values, test) if values else None
        if test(value):
            return True
        seen = True
    return False if seen else None


def _any_string_test(tests: list[Callable[[str], bool]]) -> Callable[[str], bool]:
    def any_test(value: str) -> bool:
        for test in tests:  # noqa: SIM110 - a plain loop is faster on this hot path
            if test(value):
                return True
        return False

    return any_test


def _negate(predicate: Predicate) -> Predicate:
    def negated(event: Event) -> bool | None:
        result = predicate(event)
        return None if result is None else not result

    return negated


def _all_of(predicates: list[Predicate]) -> Predicate:
    if len(predicates) == 2:
        first, second = predicates

        def both(event: Event) -> bool | None:
            left = first(event)
            if left is False:
                return False
            right = second(event)
            if right is False:
                return False
            return None if left is None or right is None else True

        return both

    def every(event: Event) -> bool | None:
        unknown = False
        for predicate in predicates:
            result = predicate(event)
            if result is False:
                return False
            if result is None:
                unknown = True
        return None if unknown else True

    return every


def _any_of(predicates: list[Predicate]) -> Predicate:
    def some(event: Event) -> bool | None:
        return any_true(predicates, event)

    return some


def _children(expr: ast.Expr) -> tuple[ast.Expr, ...]:
    if isinstance(expr, ast.Not | ast.Negate):
        return (expr.operand,)
    if isinstance(expr, ast.And | ast.Or):
        return expr.operands
    if isinstance(expr, ast.Compare | ast.Arith):
        return (expr.left, expr.right)
    if isinstance(expr, ast.InSet):
        return (expr.operand, *expr.values)
    if isinstance(expr, ast.Match):
        return (expr.operand,)
    if isinstance(expr, ast.Call):
        return expr.args
    return ()


def _pos(expr: ast.Expr) -> ast.Position:
    return expr.pos


def _text(expr: ast.Expr) -> str:
    return expr.path if isinstance(expr, ast.Field) else type(expr).__name__
