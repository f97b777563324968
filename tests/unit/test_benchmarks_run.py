"""The benchmarks the README quotes still run end to end (on tiny inputs: this checks that they
work and report both sides, not how fast anything is)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO / ".." / "shared"


def _run(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _rate(output: str, label: str) -> float:
    match = re.search(rf"{re.escape(label)}\s*:?\s*([\d,]+) events/s", output)
    assert match is not None, output
    return float(match.group(1).replace(",", ""))


def test_the_product_path_benchmark_reports_both_sides() -> None:
    if not (SHARED / "elastic-rules").is_dir():
        pytest.skip(f"shared rules not found at {SHARED}")
    output = _run("benchmarks/bench_pipeline.py", "--events", "3000", "--repeat", "1")
    assert "rules: 48 compiled, 0 refused" in output
    assert _rate(output, "decode only") > 0 and _rate(output, "full path") > 0
    assert re.search(r"\((\d+) alert drafts\)", output)


def test_the_ingest_benchmark_reports_both_routes() -> None:
    output = _run("benchmarks/bench_ingest.py", "--seconds", "1", "--batch", "200")
    assert _rate(output, "baseline (decode only)") > 0
    assert _rate(output, "matcher  (/v1/events)") > 0
    assert re.search(r"detections: [1-9]\d* in \d+ Alert writes", output)


def test_the_ingest_benchmark_runs_all_cloud_defend_rules() -> None:
    if not (SHARED / "elastic-rules").is_dir():
        pytest.skip(f"shared rules not found at {SHARED}")
    output = _run(
        "benchmarks/bench_ingest.py", "--seconds", "1", "--batch", "200", "--rules", "cloud_defend"
    )
    assert "rules: cloud_defend" in output
    assert _rate(output, "matcher  (/v1/events)") > 0
    assert re.search(r"detections: [1-9]\d* in \d+ Alert writes", output)
