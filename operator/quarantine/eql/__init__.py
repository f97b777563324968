"""Elasticsearch's EQL dialect in pure Python: parser, compiler and evaluator.

from quarantine.eql import compile_query, EqlSyntaxError

query = compile_query('process where process.name : "tar" and process.args : "*.ssh*"')
query.matches(event)                 # event queries: one event, fast path
for match in query.run(events): ...  # any query over a batch, Elasticsearch's order
stream = query.stream(); stream.feed(event); stream.flush()
"""

from quarantine.eql.errors import EqlSyntaxError
from quarantine.eql.query import (
    Query,
    QueryStream,
    compile_condition,
    compile_query,
    evaluate_expression,
)
from quarantine.eql.stages import Result

__all__ = [
    "EqlSyntaxError",
    "Query",
    "QueryStream",
    "Result",
    "compile_condition",
    "compile_query",
    "evaluate_expression",
]
