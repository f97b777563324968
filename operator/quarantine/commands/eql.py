"""`quarantine eql QUERY --events FILE`: evaluate one EQL query over recorded events."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from quarantine.eql import EqlSyntaxError, compile_query
from quarantine.eql.errors import render_error
from quarantine.eql.event_files import EventFileError, read_events
from quarantine.eql.fields import doc_value, getter

EXIT_USAGE = 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "eql",
        help="evaluate one EQL query over events (NDJSON or a JSON array)",
        description="Evaluate an EQL query with Elasticsearch semantics; prints one JSON "
        "array per match (the id field's values, or the events).",
    )
    parser.add_argument("query", help="the EQL query")
    parser.add_argument("--events", required=True, help="events file, or - for stdin")
    parser.add_argument(
        "--category-field",
        default="event.category",
        help="field holding the event category (default event.category)",
    )
    parser.add_argument(
        "--timestamp-field",
        default="@timestamp",
        help="field the events are ordered by (default @timestamp)",
    )
    parser.add_argument(
        "--tiebreaker-field",
        default=None,
        help="field ordering events of equal timestamp (default: none)",
    )
    parser.add_argument("--id-field", default=None, help="print this field instead of events")
    parser.add_argument("--size", type=int, default=None, help="at most this many matches")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        query = compile_query(args.query)
    except EqlSyntaxError as error:
        print(render_error(args.query, error), file=sys.stderr)
        return EXIT_USAGE
    try:
        if args.events == "-":
            events = read_events(sys.stdin)
        else:
            with open(args.events, encoding="utf-8") as handle:
                events = read_events(handle)
    except EventFileError as error:
        print(f"bad events in {args.events}: {error}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:
        print(f"cannot read events: {error}", file=sys.stderr)
        return EXIT_USAGE
    matches = query.run(
        events,
        category_field=args.category_field,
        timestamp_field=args.timestamp_field,
        tiebreaker_field=args.tiebreaker_field,
        size=args.size,
    )
    for match in matches:
        print(json.dumps([_shown(event, args.id_field) for event in match], default=str))
    return 0


def _shown(event: dict[str, Any] | None, id_field: str | None) -> Any:
    if event is None or id_field is None:
        return event
    return doc_value(getter(id_field)(event))
