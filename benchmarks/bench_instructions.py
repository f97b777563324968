"""Machine instructions per event of the product path beside decoding alone, counted by
Valgrind (cachegrind): a measure the machine's load does not move.

    .venv/bin/python benchmarks/bench_instructions.py [--layout nested] [--events 10000]

CPU time on a shared VM varies by a fifth from one minute to the next, so a change of a few
percent is hard to see with `bench_pipeline.py`. This runs the same path (NDJSON lines,
orjson, the normaliser, the 48 cloud_defend rules through the index, drafts) and the same
decode-only loop under cachegrind, each over `--events` and twice as many events after the
same warm-up, and takes the difference: set-up, rule compilation and warm-up cancel out.
Hash randomisation is fixed (`PYTHONHASHSEED=0`), so a run repeats to within a fraction of a
percent. Instructions are not time: the interpreter's branchy code retires fewer of them per
cycle than orjson's decoder, so the time ratio is higher than this one.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import orjson

from bench_pipeline import RULES_DIR, load_ruleset, make_stream
from quarantine.detect import Detector
from quarantine.events import bound_normaliser
from quarantine.heap import settle_startup_heap

WARM_UP = 10_000  # events run first in every measured process (memos, layouts, sequences)
_REFS = re.compile(r"I\s+refs:\s+([\d,]+)")


def drive(mode: str, layout: str, count: int, most: int) -> None:
    """The measured process: `WARM_UP + count` events of one fixed stream (of `WARM_UP +
    most` events, generated whatever `count` is, so that generating it cancels out)."""
    ruleset = load_ruleset()  # in both modes, for the same reason
    lines = make_stream(WARM_UP + most, 0.001, layout, seed=7).splitlines()[: WARM_UP + count]
    settle_startup_heap()
    loads = orjson.loads
    if mode == "decode":
        for line in lines:
            loads(line)
        return
    detector = Detector(ruleset)
    process = detector.process
    # Two batches, as the matcher's detection lane takes them: its normaliser is resolved per
    # batch, so the second one knows the layouts the first one taught.
    for batch in (lines[:WARM_UP], lines[WARM_UP:]):
        normalise = bound_normaliser("ecs", detector.field_reads)
        for line in batch:
            document = loads(line)
            event = normalise(document, line)
            if event is not None:  # as the matcher's detection lane hands events over
                process(event, line if event is document else None)


def instructions(mode: str, layout: str, count: int, most: int) -> int:
    """Instructions cachegrind counts for one driver process."""
    command = [
        "valgrind",
        "--tool=cachegrind",
        "--cache-sim=no",
        "--cachegrind-out-file=/dev/null",
        sys.executable,
        str(Path(__file__).resolve()),
        "--driver",
        mode,
        "--layout",
        layout,
        "--events",
        str(count),
        "--most",
        str(most),
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    found = _REFS.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"valgrind failed ({done.returncode}): {done.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layout", choices=("dotted", "nested"), default="dotted")
    parser.add_argument("--events", type=int, default=10_000, help="events per measurement")
    parser.add_argument("--driver", choices=("decode", "full"), help=argparse.SUPPRESS)
    parser.add_argument("--most", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.driver:
        drive(args.driver, args.layout, args.events, args.most)
        return 0
    if not RULES_DIR.is_dir():
        print(f"rules not found at {RULES_DIR}", file=sys.stderr)
        return 1
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt-get install valgrind)", file=sys.stderr)
        return 1
    count = args.events
    per_event = {}
    for mode in ("decode", "full"):
        fewer = instructions(mode, args.layout, count, 2 * count)
        more = instructions(mode, args.layout, 2 * count, 2 * count)
        per_event[mode] = (more - fewer) / count
    decode, full = per_event["decode"], per_event["full"]
    print(f"layout {args.layout}, {count} events measured (after {WARM_UP} to warm up)")
    print(f"decode only:  {decode:>9,.0f} instructions per event")
    print(f"full path:    {full:>9,.0f} instructions per event")
    print(f"matching:     {full - decode:>9,.0f} instructions per event")
    print(f"ratio full/decode: {full / decode:.2f}x the instructions of decoding")
    return 0


if __name__ == "__main__":
    sys.exit(main())
