"""Generated Python per event query: one function instead of a tree of closures.

The closure compiler (`compiler.py`) is the reference. This module writes the source of one
function `matches(event) -> bool` for an event filter (category test and condition), so
that evaluating a rule is one Python call: `and`/`or`/`not` become inline three-valued
expressions, each field is read once into a local variable, and the common element tests
(string equality, set membership, wildcard shapes, regexes) are inline C-level calls. The
constants they need (sets, tuples, compiled regexes) are bound as the function's globals.

Anything without an inline form here (function calls, arithmetic, typed schema fields,
comparisons of two expressions) is compiled by the reference compiler and called from the
generated code as a bound predicate, so every query gets a generated function and every
node keeps the reference semantics. Generated and reference results are compared on random
events and on the conformance corpus (`tests/unit/eql/test_eql_codegen.py`).

The top-level `and` is a sequence of statements, evaluated rare tests first (as the
reference does); the function returns False as soon as a conjunct is not true, since a
null condition does not match either. Fields are read just before the first conjunct that
needs them, so an event that fails early reads little.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from quarantine.eql import ast
from quarantine.eql.categories import category_test
from quarantine.eql.compiler import Compiler, any_element, membership_test
from quarantine.eql.dispatch import literal_guard
from quarantine.eql.fields import nested_getter, values_of
from quarantine.eql.lucene_regex import lucene_finder
from quarantine.eql.ordering import rare_first
from quarantine.eql.regex_literals import required_literals
from quarantine.eql.values import NUMBER_TYPES, is_number
from quarantine.eql.wildcard import has_wildcard, infix_search, wildcard_shapes

Event = Mapping[str, Any]
Matcher = Callable[[Event], bool]
# An element test in source form: the Python expression testing the variable named.
Element = Callable[[str], str]


class _Odd:
    """Marks an intermediate object that is neither a dict nor missing (an array of objects,
    a scalar): the field below it is then read by the reference accessor."""

    def __repr__(self) -> str:
        return "ODD"


ODD = _Odd()


def generate_matcher(compiler: Compiler, node: ast.EventFilter, category_field: str) -> Matcher:
    """`event -> bool`, true exactly when the event is in the filter's category and its
    condition is true (what `CompiledFilter.matches` answers with the reference closures)."""
    return _Generator(compiler).matcher(node, category_field)


class _Generator:
    def __init__(self, compiler: Compiler) -> None:
        self.compiler = compiler
        self.constants: dict[str, Any] = {
            "_NUM": NUMBER_TYPES,
            "_ODD": ODD,
            "_values_of": values_of,
            "_any_element": any_element,
        }
        self.helpers: list[str] = []  # module-level defs (array walks)
        self.body: list[str] = []  # statements of the matcher
        self.variables: dict[str, str] = {}  # field path or object prefix -> local name
        self.pending: list[str] = []  # reads not yet emitted
        self.counter = 0

    # --- the function ------------------------------------------------------------------

    def matcher(self, node: ast.EventFilter, category_field: str) -> Matcher:
        if node.category is not None:
            self._category(node.category, category_field)
        condition = self.compiler.resolve(node.condition)
        if isinstance(condition, ast.And):
            order = rare_first(condition.operands)
            conjuncts = [condition.operands[index] for index in order]
        else:
            conjuncts = [condition]
        for conjunct in conjuncts:
            if isinstance(conjunct, ast.Or) and self._switched_or(conjunct):
                continue
            decisive = self._decisive_string_test(conjunct)
            if decisive is not None:
                self._flush_reads()
                self.body.append(f"if not {decisive}:\n        return False")
                continue
            test = self.predicate(conjunct)
            self._flush_reads()
            self.body.append(f"if {test} is not True:\n        return False")
        self.body.append("return True")
        return self._build()

    def _decisive_string_test(self, expr: ast.Expr) -> str | None:
        """For a top-level conjunct, where only "true or not" counts, the commonest tests as
        one boolean expression: a field equal to a string, or in a set of strings. A string
        is tested at once, and an array by `in` before its walk (which nested arrays need):
        ECS writes `event.type` and `event.category` as arrays. None for anything else."""
        expr = self.compiler.resolve(expr)
        if isinstance(expr, ast.Compare) and expr.op == "==":
            field, literal = self.compiler.resolve(expr.left), self.compiler.resolve(expr.right)
            if isinstance(field, ast.Literal):
                field, literal = literal, field
            if not (isinstance(field, ast.Field) and isinstance(literal, ast.Literal)):
                return None
            if type(literal.value) is not str or self.compiler.converter(field) is not None:
                return None
            value, name = self.field(field.path), self.constant(literal.value)
            walk = self._array_walk(lambda v: f"{v} == {name}")
            return (
                f"({value} == {name} or (type({value}) is list and "
                f"({name} in {value} or {walk}({value}) is True)))"
            )
        if isinstance(expr, ast.InSet) and not expr.insensitive:
            operand = self.compiler.resolve(expr.operand)
            if not isinstance(operand, ast.Field) or self.compiler.converter(operand) is not None:
                return None
            members: set[str] = set()
            for member in expr.values:
                resolved = self.compiler.resolve(member)
                if not (isinstance(resolved, ast.Literal) and type(resolved.value) is str):
                    return None
                members.add(resolved.value)
            value = self.field(operand.path)
            strings = self.constant(frozenset(members))
            walk = self._array_walk(lambda v: f"type({v}) is str and {v} in {strings}")
            return (
                f"((type({value}) is str and {value} in {strings}) or "
                f"(type({value}) is list and {walk}({value}) is True))"
            )
        return None

    def _switched_or(self, node: ast.Or) -> bool:
        """An `or` conjunct whose branches mostly require one field to hold one of a few
        strings (`process.name == "ssh" and ...`, `process.name in (...)`): one set lookup
        tells which branches can be true at all, and only those are evaluated. A branch whose
        required field is a string outside its names is false, so when the value is outside
        every such branch's names, the `or` is true exactly when one of the other branches
        is. Emitted when it applies; False otherwise."""
        branches = [self.compiler.resolve(branch) for branch in node.operands]
        guards = [_string_guards(branch) for branch in branches]
        counts: dict[str, int] = {}
        for found in guards:
            for path in found:
                counts[path] = counts.get(path, 0) + 1
        if not counts:
            return False
        path = max(counts, key=lambda candidate: counts[candidate])
        if counts[path] < 3:
            return False  # too few branches to skip to pay for the lookup
        names: set[str] = set()
        others: list[ast.Expr] = []
        for branch, found in zip(branches, guards, strict=True):
            if path in found:
                names |= found[path]
            else:
                others.append(branch)
        full = self.predicate(node)
        rest = self._chain(others, decisive=True) if others else "False"
        value = self.field(path)
        union = self.constant(frozenset(names))
        self._flush_reads()
        self.body.append(
            f"if type({value}) is str and {value}.lower() not in {union}:\n"
            f"        if {rest} is not True:\n            return False\n"
            f"    elif {full} is not True:\n        return False"
        )
        return True

    def _category(self, category: str, category_field: str) -> None:
        value = self.field(category_field)
        name = self.constant(category)
        exact = self.constant(
            category_test(category_field, category, nested_only=self.compiler.nested_only)
        )
        self._flush_reads()
        # A nested array can still hold the category: the reference test settles that case.
        self.body.append(
            f"if not ({value} == {name} or (type({value}) is list and "
            f"({name} in {value} or {exact}(event)))):\n        return False"
        )

    def _build(self) -> Matcher:
        statements = "\n    ".join(self.body)
        source = "\n".join([*self.helpers, f"def matches(event):\n    {statements}\n"])
        namespace = dict(self.constants)
        exec(compile(source, "<eql generated matcher>", "exec"), namespace)
        matcher: Matcher = namespace["matches"]
        matcher.source = source  # type: ignore[attr-defined]  # for debugging and tests
        return matcher

    # --- names ---------------------------------------------------------------------------

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def constant(self, value: Any) -> str:
        name = self.fresh("_k")
        self.constants[name] = value
        return name

    # --- field reads -------------------------------------------------------------------

    def field(self, path: str) -> str:
        """The local variable holding the field's raw value (read before the conjunct that
        first needs it). Without `nested_only` the general accessor is called."""
        known = self.variables.get(path)
        if known is not None:
            return known
        variable = self.fresh("f")
        self.variables[path] = variable
        if not self.compiler.nested_only:
            self.pending.append(f"{variable} = {self.constant(self.compiler.getter(path))}(event)")
            return variable
        *parents, leaf = path.split(".")
        if not parents:
            self.pending.append(f"{variable} = event.get({leaf!r})")
            return variable
        parent = self._object(tuple(parents))
        reference = self.constant(nested_getter(path))
        self.pending.append(
            f"{variable} = {parent}.get({leaf!r}) if type({parent}) is dict else "
            f"(None if {parent} is None else {reference}(event))"
        )
        return variable

    def _object(self, parts: tuple[str, ...]) -> str:
        """The local holding the object at `parts` while every object above is a dict: None
        when one is missing, ODD when one is something else."""
        key = "." + ".".join(parts)  # cannot collide with a field path
        known = self.variables.get(key)
        if known is not None:
            return known
        variable = self.fresh("o")
        self.variables[key] = variable
        if len(parts) == 1:
            self.pending.append(f"{variable} = event.get({parts[0]!r})")
            return variable
        parent = self._object(parts[:-1])
        self.pending.append(
            f"{variable} = {parent}.get({parts[-1]!r}) if type({parent}) is dict else "
            f"(None if {parent} is None else _ODD)"
        )
        return variable

    def _flush_reads(self) -> None:
        self.body.extend(self.pending)
        self.pending.clear()

    # --- predicates: three-valued expressions --------------------------------------------

    def predicate(self, expr: ast.Expr) -> str:
        """A Python expression evaluating to True, False or None (null), as the reference
        predicate of `expr` does."""
        expr = self.compiler.resolve(expr)
        if isinstance(expr, ast.Literal) and (expr.value is None or type(expr.value) is bool):
            return repr(expr.value)
        if isinstance(expr, ast.Field):
            return self.field_test(expr, lambda v: f"{v} is True")
        if isinstance(expr, ast.Not):
            inner = self.fresh("t")
            return f"(None if ({inner} := {self.predicate(expr.operand)}) is None else not {inner})"
        if isinstance(expr, ast.And):
            order = rare_first(expr.operands)
            return self._chain([expr.operands[i] for i in order], decisive=False)
        if isinstance(expr, ast.Or):
            return self._chain(list(expr.operands), decisive=True)
        generated: str | None = None
        if isinstance(expr, ast.Compare):
            generated = self._compare(expr)
        elif isinstance(expr, ast.InSet):
            generated = self._in_set(expr)
        elif isinstance(expr, ast.Match):
            generated = self._match(expr)
        if generated is not None:
            return generated
        return f"{self.constant(self.compiler.predicate(expr))}(event)"

    def _chain(self, operands: list[ast.Expr], *, decisive: bool) -> str:
        """`or` (decisive=True: the first true operand decides) or `and` (the first false
        one does); otherwise null if any operand was null."""
        names = [self.fresh("t") for _ in operands]
        tests = [self.predicate(operand) for operand in operands]
        unknown = " or ".join(f"{name} is None" for name in names)
        text = f"(None if {unknown} else {not decisive})"
        for name, test in zip(reversed(names), reversed(tests), strict=True):
            text = f"({decisive} if ({name} := {test}) is {decisive} else {text})"
        return text

    def field_test(self, field: ast.Field, element: Element) -> str:
        """Null for a missing field; for an array, whether any non-null element passes
        (null when it holds none); else whether the value passes."""
        value = self.field(field.path)
        walk = self._array_walk(element)
        return (
            f"(None if {value} is None else ({walk}({value}) if type({value}) is list "
            f"else ({element(value)})))"
        )

    def _array_walk(self, element: Element) -> str:
        """A helper testing every element of an array in one loop (flat arrays, the usual
        case, without a call per element; a nested array goes to the reference walk)."""
        walk = self.fresh("_walk")
        single = self.fresh("_element")
        self.helpers.append(
            f"def {single}(v):\n    return {element('v')}\n"
            f"def {walk}(raw):\n"
            "    seen = False\n"
            "    for v in raw:\n"
            "        if v is None:\n"
            "            continue\n"
            "        if type(v) is list:\n"
            f"            return _any_element(raw, {single})\n"
            f"        if {element('v')}:\n"
            "            return True\n"
            "        seen = True\n"
            "    return False if seen else None\n"
        )
        return walk

    # --- comparisons ---------------------------------------------------------------------

    def _compare(self, expr: ast.Compare) -> str | None:
        left = self.compiler.resolve(expr.left)
        right = self.compiler.resolve(expr.right)
        op = expr.op
        for side, other in ((left, right), (right, left)):
            if isinstance(side, ast.Literal) and side.value is None:
                if op not in ("==", "!=") or not isinstance(other, ast.Field):
                    return None  # the reference's constant null or value test
                value = self.field(other.path)
                is_null = (
                    f"({value} is None or (type({value}) is list and not _values_of({value})))"
                )
                return is_null if op == "==" else f"(not {is_null})"
        if isinstance(left, ast.Literal) and isinstance(right, ast.Field):
            left, right = right, left
            op = _FLIPPED[op]
        if not (isinstance(left, ast.Field) and isinstance(right, ast.Literal)):
            return None
        if op == "!=":
            equal = self.field_test(left, self._equality(left, right, "=="))
            inner = self.fresh("t")
            return f"(None if ({inner} := {equal}) is None else not {inner})"
        return self.field_test(left, self._equality(left, right, op))

    def _equality(self, field: ast.Field, literal: ast.Literal, op: str) -> Element:
        if self.compiler.converter(field) is not None:
            test = self.constant(self.compiler.element_test(op, field, literal))
            return lambda v: f"{test}({v})"
        value = literal.value
        name = self.constant(value)
        if type(value) is str:
            if op == "==":
                return lambda v: f"{v} == {name}"
            return lambda v: f"type({v}) is str and {v} {op} {name}"
        if type(value) is bool:
            if op == "==":
                return lambda v: f"{v} is {name}"
            return lambda v: f"type({v}) is bool and {v} {op} {name}"
        return lambda v: f"type({v}) in _NUM and {v} {op} {name}"

    def _in_set(self, expr: ast.InSet) -> str | None:
        operand = self.compiler.resolve(expr.operand)
        members = [self.compiler.resolve(value) for value in expr.values]
        if not isinstance(operand, ast.Field) or self.compiler.converter(operand) is not None:
            return None
        constants = []
        for member in members:
            if not isinstance(member, ast.Literal):
                return None
            constants.append(member.value)
        return self.field_test(operand, self._membership(constants, expr.insensitive))

    def _membership(self, constants: list[Any], insensitive: bool) -> Element:
        strings = frozenset(c.lower() if insensitive else c for c in constants if type(c) is str)
        numbers = frozenset(c for c in constants if is_number(c))
        booleans = any(type(c) is bool for c in constants)
        if not numbers and not booleans:
            name = self.constant(strings)
            lowered = ".lower()" if insensitive else ""
            return lambda v: f"type({v}) is str and {v}{lowered} in {name}"
        if not insensitive and not strings and not booleans:
            name = self.constant(numbers)
            return lambda v: f"type({v}) in _NUM and {v} in {name}"
        test = self.constant(membership_test(constants, insensitive=insensitive))
        return lambda v: f"{test}({v})"

    # --- patterns ----------------------------------------------------------------------

    def _match(self, expr: ast.Match) -> str | None:
        operand = self.compiler.resolve(expr.operand)
        if not isinstance(operand, ast.Field):
            return None
        strings = [p for p in expr.patterns if type(p) is str]
        if len(strings) != len(expr.patterns):
            return None  # numbers or booleans among the patterns: the reference test
        string_test = self._string_pattern(expr, strings)
        return self.field_test(operand, lambda v: f"type({v}) is str and ({string_test(v)})")

    def _string_pattern(self, expr: ast.Match, strings: list[str]) -> Element:
        if expr.kind == "regex":
            tests = [self._regex_test(p, expr.insensitive) for p in strings]
            return lambda v: " or ".join(test(v) for test in tests) or "False"
        if expr.kind == "like" or any(has_wildcard(p) for p in strings):
            patterns = [p.lower() for p in strings] if expr.insensitive else strings
            return self._shapes(patterns, lowered=expr.insensitive)
        name = self.constant(frozenset(p.lower() for p in strings))
        return lambda v: f"{v}.lower() in {name}"

    def _regex_test(self, pattern: str, insensitive: bool) -> Element:
        """A regex test behind a C-level check for the literals every match holds: most
        values lack one, and `in` costs far less than a regex search. With `regex~` only
        literals without letters are checked (case cannot change them)."""
        find = self.constant(lucene_finder(pattern, insensitive=insensitive))
        literals = [
            literal
            for literal in required_literals(pattern, insensitive=insensitive)
            if not insensitive or not any(char.isalpha() for char in literal)
        ]
        guards = "".join(f"{literal!r} in {{v}} and " for literal in literals)
        return lambda v: f"({guards.format(v=v)}{find}({v}) is not None)"

    def _shapes(self, patterns: list[str], *, lowered: bool) -> Element:
        shapes = wildcard_shapes(patterns)
        tests: list[Callable[[str], str]] = []
        if shapes.literals:
            name = self.constant(shapes.literals)
            tests.append(lambda s: f"{s} in {name}")
        if shapes.prefixes:
            prefixes = self.constant(shapes.prefixes)
            tests.append(lambda s: f"{s}.startswith({prefixes})")
        if shapes.suffixes:
            suffixes = self.constant(shapes.suffixes)
            tests.append(lambda s: f"{s}.endswith({suffixes})")
        if len(shapes.infixes) == 1:
            infix = self.constant(shapes.infixes[0])
            tests.append(lambda s: f"{infix} in {s}")
        elif shapes.infixes:
            search = self.constant(infix_search(shapes.infixes))
            tests.append(lambda s: f"{search}({s}) is not None")
        if shapes.others is not None:
            fullmatch = self.constant(shapes.others.fullmatch)
            tests.append(lambda s: f"{fullmatch}({s}) is not None")
        if not tests:
            return lambda v: "False"
        if not lowered:
            return lambda v: " or ".join(test(v) for test in tests)
        if len(tests) == 1:
            return lambda v: tests[0](f"{v}.lower()")

        def lowered_once(v: str) -> str:
            # The value is lower-cased once, into a temporary the later tests reuse.
            temporary = self.fresh("t")
            first = tests[0](f"({temporary} := {v}.lower())")
            return " or ".join([first, *(test(temporary) for test in tests[1:])])

        return lowered_once


_FLIPPED: dict[str, ast.CompareOp] = {
    "==": "==",
    "!=": "!=",
    "<": ">",
    "<=": ">=",
    ">": "<",
    ">=": "<=",
}


def _string_guards(branch: ast.Expr) -> dict[str, frozenset[str]]:
    """Field -> the lower-cased strings one of which the field must equal for `branch` to be
    true (a top-level test of the branch, or of one of its `and` operands)."""
    operands = branch.operands if isinstance(branch, ast.And) else (branch,)
    found: dict[str, frozenset[str]] = {}
    for operand in operands:
        guard = _string_guard(operand)
        if guard is not None and guard[0] not in found:
            found[guard[0]] = guard[1]
    return found


def _string_guard(expr: ast.Expr) -> tuple[str, frozenset[str]] | None:
    """(field, lower-cased strings) when `expr` is true only if the field equals one of them
    (`dispatch.literal_guard`, its strings lower-cased whatever the comparison's case)."""
    guard = literal_guard(expr)
    if guard is None:
        return None
    return guard.field.path, frozenset(value.lower() for value in guard.values)
