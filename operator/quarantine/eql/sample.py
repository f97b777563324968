"""`sample`: events that share join-key values, one distinct event per filter, unordered.

Samples come out sorted by join key (ascending, nulls first). For each key the samples are
the first `max_samples_per_key` combinations of distinct events, taking candidates for each
filter in input order (Elasticsearch leaves the choice open; this one is deterministic).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from quarantine.eql.fields import sort_rank
from quarantine.eql.stages import CategoryTest, CompiledStage, Result, category_test

Event = Mapping[str, Any]


def run_sample(
    stages: tuple[CompiledStage, ...],
    events: Iterable[Event],
    *,
    category_field: str,
    max_samples_per_key: int = 1,
) -> list[Result]:
    in_category: dict[str, CategoryTest] = {}
    for stage in stages:
        category = stage.filter.category
        if category is not None and category not in in_category:
            in_category[category] = category_test(category_field, category)
    candidates: dict[tuple[Any, ...], list[list[tuple[int, Event]]]] = {}
    for index, event in enumerate(events):
        for position, stage in enumerate(stages):
            category = stage.filter.category
            if category is not None and not in_category[category](event):
                continue
            if stage.filter.predicate(event) is not True:
                continue
            for key in stage.keys(event):
                slots = candidates.get(key)
                if slots is None:
                    slots = candidates[key] = [[] for _ in stages]
                slots[position].append((index, event))
    results: list[Result] = []
    for key in sorted(candidates, key=_key_order):
        for combination in _combinations(candidates[key], max_samples_per_key):
            results.append(Result([event for _, event in combination], key, 0))
    return results


def _combinations(
    slots: list[list[tuple[int, Event]]], limit: int
) -> Iterator[list[tuple[int, Event]]]:
    """Combinations of distinct events, one per filter, in lexicographic candidate order."""
    if limit <= 0 or any(not slot for slot in slots):
        return
    chosen: list[tuple[int, Event]] = []
    used: set[int] = set()

    def search(depth: int) -> Iterator[list[tuple[int, Event]]]:
        if depth == len(slots):
            yield list(chosen)
            return
        for candidate in slots[depth]:
            if candidate[0] in used:
                continue
            used.add(candidate[0])
            chosen.append(candidate)
            yield from search(depth + 1)
            chosen.pop()
            used.discard(candidate[0])

    for produced, combination in enumerate(search(0), start=1):
        yield combination
        if produced >= limit:
            return


def _key_order(key: tuple[Any, ...]) -> tuple[tuple[int, Any], ...]:
    return tuple((0, 0) if value is None else (1, sort_rank(value)) for value in key)
