"""EQL engine throughput: our engine beside the `eql` package on the same event stream.

Runs the EQL queries of Elastic's cloud_defend rules (../shared/elastic-rules/cloud_defend)
over a generated cloud_defend process stream (benchmarks/ecs_stream.py) and prints events/s
for each engine and their ratio. The `eql` package (Endgame's engine) is only a baseline:
it evaluates with its own semantics and some rules fail to compile or crash on ECS arrays,
so the report says how many of its rules ran.

    .venv/bin/python benchmarks/bench_eql.py            # default: 20000 events
    .venv/bin/python benchmarks/bench_eql.py --events 5000
    .venv/bin/python benchmarks/bench_eql.py --general-fields   # dotted-key-aware access
"""

from __future__ import annotations

import argparse
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ecs_stream import generate_events
from quarantine.eql import Query, compile_query

RULES_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "elastic-rules" / "cloud_defend"


def load_rule_queries() -> list[tuple[str, str]]:
    rules = []
    for path in sorted(RULES_DIR.glob("*.toml")):
        rule = tomllib.loads(path.read_text())["rule"]
        if rule.get("language") == "eql":
            rules.append((path.stem, rule["query"]))
    return rules


def run_ours(queries: list[Query], events: list[dict[str, Any]]) -> tuple[float, int]:
    event_queries = [q for q in queries if q.kind == "event"]
    streams = [q.stream(timestamp_field="@timestamp") for q in queries if q.kind == "sequence"]
    matches = 0
    start = time.perf_counter()
    for event in events:
        for query in event_queries:
            if query.matches(event):
                matches += 1
        for stream in streams:
            matches += len(stream.feed(event))
    for stream in streams:
        matches += len(stream.flush())
    return time.perf_counter() - start, matches


def run_endgame(texts: list[tuple[str, str]], events: list[dict[str, Any]]) -> dict[str, Any]:
    import eql

    def to_event(data: dict[str, Any], index: int) -> Any:
        category = data["event"]["category"]
        return eql.Event(category[0] if isinstance(category, list) else category, index, data)

    wrapped = [to_event(event, index) for index, event in enumerate(events)]
    compiled: list[tuple[str, Any]] = []
    crashed: list[str] = []
    for name, text in texts:
        try:
            with eql.parser.elasticsearch_syntax, eql.parser.ignore_missing_functions:
                parsed = eql.parse_query(text)
        except Exception:  # the baseline's own parse errors are what we count
            continue
        compiled.append((name, parsed))
    runnable, runnable_names = [], []
    for name, parsed in compiled:
        engine = eql.PythonEngine()
        engine.add_query(parsed)
        try:
            engine.stream_events(wrapped[:500])
        except Exception:  # crashes on ECS arrays are counted, not hidden
            crashed.append(name)
            continue
        runnable.append(parsed)
        runnable_names.append(name)
    engine = eql.PythonEngine()
    matches = [0]
    engine.add_output_hook(lambda _: matches.__setitem__(0, matches[0] + 1))
    for parsed in runnable:
        engine.add_query(parsed)
    start = time.perf_counter()
    engine.stream_events(wrapped)
    elapsed = time.perf_counter() - start
    return {
        "compiled": len(compiled),
        "ran": len(runnable),
        "ran_names": runnable_names,
        "crashed": crashed,
        "seconds": elapsed,
        "matches": matches[0],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000, help="events in the stream")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--attack-ratio", type=float, default=0.01)
    parser.add_argument("--no-baseline", action="store_true", help="skip the eql package")
    parser.add_argument(
        "--general-fields",
        action="store_true",
        help="read fields as for any document (dotted keys too), not as the detector does",
    )
    args = parser.parse_args(argv)
    if not RULES_DIR.is_dir():
        print(f"rules not found at {RULES_DIR}", file=sys.stderr)
        return 2
    texts = load_rule_queries()
    events = generate_events(args.events, seed=args.seed, attack_ratio=args.attack_ratio)
    start = time.perf_counter()
    # The generated events are canonical (nested, no dotted keys), as the detector sees them.
    nested_only = not args.general_fields
    queries = [compile_query(text, nested_only=nested_only) for _, text in texts]
    compile_ms = (time.perf_counter() - start) * 1000
    sequences = sum(q.kind == "sequence" for q in queries)
    print(f"rules: {len(texts)} EQL queries from cloud_defend ({sequences} sequences)")
    print(f"field access: {'nested only (as the detector)' if nested_only else 'general'}")
    print(f"events: {len(events)} (seed {args.seed}, attack ratio {args.attack_ratio})")
    ours_seconds, ours_matches = run_ours(queries, events)
    ours_rate = len(events) / ours_seconds
    print(
        f"quarantine.eql: compiled {len(queries)}/{len(texts)} in {compile_ms:.0f} ms; "
        f"{ours_rate:,.0f} events/s ({ours_seconds:.2f} s, {ours_matches} matches)"
    )
    if args.no_baseline:
        return 0
    try:
        baseline = run_endgame(texts, events)
    except ImportError:
        print("eql package not installed: no baseline")
        return 0
    base_rate = len(events) / baseline["seconds"] if baseline["seconds"] else float("inf")
    print(
        f"eql package:    compiled {baseline['compiled']}/{len(texts)}, "
        f"ran {baseline['ran']}/{len(texts)} without crashing; "
        f"{base_rate:,.0f} events/s ({baseline['seconds']:.2f} s, {baseline['matches']} matches)"
    )
    if baseline["crashed"]:
        print(f"  crashed on ECS events: {', '.join(baseline['crashed'])}")
    print(
        f"ratio (all rules for us, {baseline['ran']} for it): "
        f"{ours_rate / base_rate:.2f}x the eql package's events/s"
    )
    # Same work on both sides: only the rules the eql package could run.
    names = set(baseline["ran_names"])
    subset = [q for (name, _), q in zip(texts, queries, strict=True) if name in names]
    subset_seconds, subset_matches = run_ours(subset, events)
    subset_rate = len(events) / subset_seconds
    print(
        f"same {len(subset)} rules: quarantine.eql {subset_rate:,.0f} events/s "
        f"({subset_matches} matches) vs eql package {base_rate:,.0f} events/s "
        f"({baseline['matches']} matches): ratio {subset_rate / base_rate:.2f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
