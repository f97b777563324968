"""`compile_query` and the compiled `Query`: the engine's public face."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Literal

from quarantine.eql import ast
from quarantine.eql.compiler import Compiler, Schema
from quarantine.eql.dispatch import Predicate
from quarantine.eql.parser import parse, parse_expression
from quarantine.eql.pipes import StreamingPipes, apply_pipes
from quarantine.eql.prefilter import RequiredValues, categories_of, required_values
from quarantine.eql.sample import run_sample
from quarantine.eql.sequence import (
    DEFAULT_MAX_KEYS,
    UNREAD,
    SequenceMatcher,
    SequencePlan,
    Unread,
)
from quarantine.eql.stages import (
    CategoryTest,
    CompiledFilter,
    CompiledStage,
    Result,
    category_test,
    compile_filter,
    compile_stage,
)
from quarantine.eql.timestamps import sort_events, timestamp_reader
from quarantine.eql.values import converter_for

Event = Mapping[str, Any]
QueryKind = Literal["event", "sequence", "sample"]
DEFAULT_SAMPLE_BUFFER = 100_000


def compile_query(text: str, *, schema: Schema | None = None, nested_only: bool = False) -> Query:
    """Parse and compile an EQL query once; raises EqlSyntaxError with line and column.

    `schema` (field path -> Elasticsearch field type) is optional: with it, `date` and
    `version` fields compare as dates and versions and unmapped `?optional` fields are null.
    `nested_only` promises canonical events (nested objects, no dotted keys at any depth, as
    `quarantine.events` normalises them): fields are then read with a plain, faster walk.
    """
    return Query(text, parse(text), Compiler(schema, nested_only=nested_only))


def compile_condition(text: str, *, schema: Schema | None = None) -> Predicate:
    """Compile a bare boolean condition (e.g. a rule exception) into a predicate."""
    return Compiler(schema).predicate(parse_expression(text))


def evaluate_expression(text: str, event: Event | None = None) -> Any:
    """Evaluate a bare expression, e.g. `concat("a", 1)`, optionally against one event."""
    return Compiler().value(Compiler().resolve(parse_expression(text)))(event or {})


class Query:
    """A compiled EQL query. Compile once with `compile_query`, then evaluate many times."""

    def __init__(self, text: str, node: ast.QueryNode, compiler: Compiler) -> None:
        self.text = text
        self.node = node
        self.nested_only = compiler.nested_only
        self.kind: QueryKind
        self._category_tests: dict[tuple[str, str], CategoryTest] = {}
        filters: list[ast.EventFilter]
        if isinstance(node, ast.EventQuery):
            self.kind = "event"
            self._filter: CompiledFilter | None = compile_filter(compiler, node.filter)
            filters = [node.filter]
            self._stages: tuple[CompiledStage, ...] = ()
            self._until: CompiledStage | None = None
            derived = required_values(node.filter.condition)
            self.required_values: RequiredValues = _without_typed_fields(derived, compiler)
        else:
            self.kind = "sequence" if isinstance(node, ast.SequenceQuery) else "sample"
            self._filter = None
            self._stages = tuple(compile_stage(compiler, node.keys, s) for s in node.stages)
            filters = [stage.filter for stage in node.stages]
            self._until = None
            if isinstance(node, ast.SequenceQuery) and node.until is not None:
                self._until = compile_stage(compiler, node.keys, node.until)
                filters.append(node.until.filter)
            self.required_values = {}
        self.categories: frozenset[str] | None = categories_of(filters)
        self.first_stage_category: str | None = None
        """The category of a sequence's first positive stage (None: any, or not a sequence)."""
        self._first_stage: CompiledFilter | None = None
        self.fields_read: frozenset[str] = ast.field_paths(node)
        """Every field the query reads (conditions and join keys)."""
        self.has_missing_stages = not isinstance(node, ast.EventQuery) and any(
            stage.missing for stage in node.stages
        )
        if isinstance(node, ast.SequenceQuery):
            position, first = next(
                (i, stage) for i, stage in enumerate(node.stages) if not stage.missing
            )
            self.first_stage_category = first.filter.category
            self._first_stage = self._stages[position].filter
        self.pipes: tuple[ast.Pipe, ...] = node.pipes

    def __repr__(self) -> str:
        return f"Query(kind={self.kind!r}, text={self.text!r})"

    # --- event queries -------------------------------------------------------------------

    def matches(self, event: Event, category_field: str = "event.category") -> bool:
        """Whether one event matches an event query (no pipes applied)."""
        return self.matcher(category_field)(event)

    def matcher(self, category_field: str = "event.category") -> Callable[[Event], bool]:
        """`matches` as one generated function (`eql/codegen.py`), built once per category
        field, for hot loops."""
        compiled = self._filter
        if compiled is None:
            raise TypeError(f"matcher() is for event queries; this is a {self.kind} query")
        return compiled.matcher(category_field)

    def first_stage_matcher(
        self, category_field: str = "event.category"
    ) -> Callable[[Event], bool]:
        """Whether an event enters a sequence's first positive stage, as one generated call:
        the only test that matters while the sequence waits for nothing (`QueryStream.idle`)."""
        if self._first_stage is None:
            raise TypeError(f"first_stage_matcher() is for sequences; this is a {self.kind} query")
        return self._first_stage.matcher(category_field)

    def reference_matcher(self, category_field: str = "event.category") -> Callable[[Event], bool]:
        """`matches` through the reference closures (what the generated function must equal)."""
        compiled = self._filter
        if compiled is None:
            raise TypeError(f"reference_matcher() needs an event query; this is a {self.kind} one")
        predicate = compiled.predicate
        category = compiled.category
        if category is None:
            return lambda event: predicate(event) is True
        in_category = self._in_category(category_field, category)
        return lambda event: in_category(event) and predicate(event) is True

    def _in_category(self, category_field: str, category: str) -> CategoryTest:
        test = self._category_tests.get((category_field, category))
        if test is None:
            test = self._category_tests[(category_field, category)] = category_test(
                category_field, category, nested_only=self.nested_only
            )
        return test

    # --- batch ---------------------------------------------------------------------------

    def run(
        self,
        events: Iterable[Event],
        *,
        category_field: str = "event.category",
        timestamp_field: str = "@timestamp",
        tiebreaker_field: str | None = None,
        size: int | None = None,
        max_samples_per_key: int = 1,
    ) -> Iterator[Result]:
        """Evaluate over a batch of events; yields matches in Elasticsearch's result order.

        Events are ordered by timestamp, then tiebreaker, then input order. Each match is a
        list of events in stage order (None at a missing-event stage) with `.join_keys`.
        """
        if self.kind == "sample":
            samples = run_sample(
                self._stages,
                events,
                category_field=category_field,
                max_samples_per_key=max_samples_per_key,
            )
            yield from apply_pipes(samples, self.pipes, size)
            return
        ordered = sort_events(
            list(events), timestamp_field=timestamp_field, tiebreaker_field=tiebreaker_field
        )
        if self.kind == "event":
            if not self.pipes and size is None:
                for _, event in ordered:
                    if self.matches(event, category_field):
                        yield Result([event])
                return
            found = [Result([e]) for _, e in ordered if self.matches(e, category_field)]
            yield from apply_pipes(found, self.pipes, size)
            return
        matcher = self._sequence_matcher(category_field, timestamp_field, DEFAULT_MAX_KEYS)
        results: list[Result] = []
        for _, event in ordered:
            results.extend(matcher.feed(event))
        results.extend(matcher.flush())
        results.sort(key=lambda result: result.ordinal)  # stable: ties keep emission order
        yield from apply_pipes(results, self.pipes, size)

    # --- streaming -----------------------------------------------------------------------

    def stream(
        self,
        *,
        category_field: str = "event.category",
        timestamp_field: str = "@timestamp",
        tiebreaker_field: str | None = None,
        max_keys: int = DEFAULT_MAX_KEYS,
    ) -> QueryStream:
        """A stateful matcher for events arriving in order; see QueryStream."""
        del tiebreaker_field  # arrival order breaks ties in a stream
        return QueryStream(self, category_field, timestamp_field, max_keys)

    def _sequence_matcher(
        self, category_field: str, timestamp_field: str, max_keys: int
    ) -> SequenceMatcher:
        node = self.node
        assert isinstance(node, ast.SequenceQuery)
        plan = SequencePlan(self._stages, self._until, node.maxspan_ns)
        return SequenceMatcher(
            plan,
            category_field=category_field,
            read_timestamp=timestamp_reader(timestamp_field, nested_only=self.nested_only),
            max_keys=max_keys,
        )


class QueryStream:
    """Evaluates a query over a stream: `feed(event)` returns the matches that event
    completes, `flush()` those that can only be confirmed at the end of the stream.

    Pipes apply as results are produced (`tail` releases at `flush`). Sequence state is
    bounded (see `quarantine.eql.sequence`); sample queries buffer up to
    DEFAULT_SAMPLE_BUFFER matching events and answer at `flush`.
    """

    def __init__(
        self, query: Query, category_field: str, timestamp_field: str, max_keys: int
    ) -> None:
        self.query = query
        self.category_field = category_field
        self.pipes = StreamingPipes(query.pipes)
        self.matcher: SequenceMatcher | None = None
        self.buffer: list[Event] = []
        if query.kind == "sequence":
            self.matcher = query._sequence_matcher(category_field, timestamp_field, max_keys)
        # `feed` itself, or for a sequence without pipes its matcher's (one call fewer).
        self.feeder: Callable[[Event, int | Unread | None, bytes | None], list[Result]] = self.feed
        if self.matcher is not None and not query.pipes:
            self.feeder = self.matcher.feeder

    @property
    def idle(self) -> bool:
        """Whether a sequence waits for nothing: then only an event its first stage takes
        can change anything (always False for other queries)."""
        return self.matcher is not None and self.matcher.idle

    def may_take(self, event: Event) -> bool:
        """Whether feeding `event` could change anything; feeding an event this refuses
        returns nothing and changes nothing (always True for samples, which buffer)."""
        query = self.query
        if query.kind == "event":
            return query.matches(event, self.category_field)
        return self.matcher.may_take(event) if self.matcher is not None else True

    def feed(
        self, event: Event, timestamp: int | Unread | None = UNREAD, text: bytes | None = None
    ) -> list[Result]:
        """The matches `event` completes. For a sequence, `timestamp` may pass on the event's
        time as the stream reads it (epoch nanoseconds of its timestamp field), read already,
        and `text` the JSON text `event` decodes from (`SequenceMatcher.feed`)."""
        query = self.query
        if query.kind == "event":
            if query.matches(event, self.category_field):
                return self.pipes.push([Result([event])])
            return []
        if self.matcher is not None:
            completed = self.matcher.feed(event, timestamp, text)
            return self.pipes.push(completed) if completed else completed
        if len(self.buffer) < DEFAULT_SAMPLE_BUFFER:
            self.buffer.append(event)
        return []

    def flush(self) -> list[Result]:
        out: list[Result] = []
        if self.matcher is not None:
            out = self.pipes.push(self.matcher.flush())
        elif self.query.kind == "sample":
            samples = run_sample(
                self.query._stages, self.buffer, category_field=self.category_field
            )
            self.buffer = []
            out = self.pipes.push(samples)
        return out + self.pipes.finish()


def _without_typed_fields(values: RequiredValues, compiler: Compiler) -> RequiredValues:
    schema = compiler.schema
    if not schema:
        return values
    return {path: v for path, v in values.items() if converter_for(schema.get(path)) is None}
