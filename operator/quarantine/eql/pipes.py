"""`head` and `tail`: the only pipes Elasticsearch EQL has."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import TypeVar

from quarantine.eql import ast

T = TypeVar("T")


def apply_pipes(results: list[T], pipes: Sequence[ast.Pipe], size: int | None) -> list[T]:
    """Apply pipes in order, then the request's `size` cap; `tail` keeps ascending order."""
    for pipe in pipes:
        if pipe.kind == "head":
            results = results[: pipe.count]
        else:
            results = results[len(results) - pipe.count :] if pipe.count else []
    if size is not None:
        results = results[: max(size, 0)]
    return results


class StreamingPipes:
    """The same pipes applied to results as they are produced: `head` passes the first N,
    `tail` holds the last N back until the end of the stream."""

    def __init__(self, pipes: Sequence[ast.Pipe]) -> None:
        self.pipes = list(pipes)
        self.passed = [0] * len(self.pipes)
        self.held: list[deque[object] | None] = [
            deque(maxlen=pipe.count) if pipe.kind == "tail" else None for pipe in self.pipes
        ]

    def push(self, results: list[T]) -> list[T]:
        return self._run(results, 0)

    def finish(self) -> list[T]:
        out: list[T] = []
        for index, held in enumerate(self.held):
            if held is not None:
                released: list[T] = list(held)  # type: ignore[arg-type]
                held.clear()
                self.held[index] = None  # a finished tail passes nothing more
                out = self._run(out + released, index + 1)
        return out

    def _run(self, results: list[T], start: int) -> list[T]:
        for index in range(start, len(self.pipes)):
            pipe = self.pipes[index]
            held = self.held[index]
            if pipe.kind == "head":
                room = max(pipe.count - self.passed[index], 0)
                results = results[:room]
                self.passed[index] += len(results)
            elif held is not None:
                if pipe.count:
                    held.extend(results)
                return []
        return results
