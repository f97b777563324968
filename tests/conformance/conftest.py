"""Prints a per-file pass summary of the EQL conformance corpus at the end of the run."""

from __future__ import annotations

from collections import defaultdict

import pytest

_COUNTS: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))


def _spec_file(nodeid: str) -> str | None:
    if "tests/conformance/test_eql_spec.py" not in nodeid or "[" not in nodeid:
        return None
    param = nodeid.split("[", 1)[1]
    return param.split("::", 1)[0]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    spec_file = _spec_file(report.nodeid)
    if spec_file is None:
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        outcome = "xfailed" if hasattr(report, "wasxfail") else report.outcome
        _COUNTS[spec_file][outcome] += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _COUNTS:
        return
    terminalreporter.section("EQL conformance (Elasticsearch spec corpus)")
    total_passed = total = 0
    for spec_file in sorted(_COUNTS):
        counts = _COUNTS[spec_file]
        count = sum(counts.values())
        passed = counts.get("passed", 0)
        total += count
        total_passed += passed
        terminalreporter.write_line(
            f"{spec_file:<28} {passed:>4}/{count:<4} passed"
            f"  (expected failures: {counts.get('xfailed', 0)}, failed: {counts.get('failed', 0)})"
        )
    share = 100.0 * total_passed / total if total else 0.0
    terminalreporter.write_line(f"{'total':<28} {total_passed:>4}/{total:<4} passed ({share:.1f}%)")
