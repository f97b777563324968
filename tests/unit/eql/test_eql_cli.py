"""`quarantine eql`: output per match, caret errors, bad event files."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from quarantine.commands import eql as eql_command


def main(argv: list[str]) -> int:
    """The `eql` subcommand exactly as quarantine.cli wires it, without the other commands
    (so these tests do not depend on every other command importing cleanly)."""
    parser = argparse.ArgumentParser(prog="quarantine")
    eql_command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    result: int = args.handler(args)
    return result


EVENTS = [
    {"@timestamp": 2, "event": {"category": "process"}, "process": {"name": "tar"}, "id": "b"},
    {"@timestamp": 1, "event.category": "process", "process.name": "TAR", "id": "a"},
    {"@timestamp": 3, "event": {"category": "file"}, "id": "c"},
]


@pytest.fixture
def ndjson(tmp_path: Path) -> Path:
    path = tmp_path / "events.ndjson"
    path.write_text("\n".join(json.dumps(e) for e in EVENTS) + "\n")
    return path


def test_prints_one_json_array_per_match_in_order(
    ndjson: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["eql", 'process where process.name : "tar"', "--events", str(ndjson), "--id-field", "id"]
    )
    assert code == 0
    assert capsys.readouterr().out.splitlines() == ['["a"]', '["b"]']


def test_prints_events_for_sequences_and_honours_size(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "events.json"
    path.write_text(json.dumps(EVENTS))
    code = main(
        [
            "eql",
            "sequence [process where true] [file where true]",
            "--events",
            str(path),
            "--size",
            "1",
        ]
    )
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    assert [e["id"] for e in json.loads(lines[0])] == ["b", "c"]


def test_syntax_error_shows_the_line_and_a_caret(
    ndjson: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["eql", "process where\nname == 'x'", "--events", str(ndjson)])
    assert code == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("EQL error at line 2, column 9: single-quoted strings")
    assert err[1:] == ["name == 'x'", "        ^"]


def test_bad_events_file_names_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.ndjson"
    path.write_text('{"a": 1}\n\n[1, 2]\n')
    assert main(["eql", "any where true", "--events", str(path)]) == 2
    assert "line 3: expected a JSON object" in capsys.readouterr().err


def test_reads_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(EVENTS[2]) + "\n"))
    assert main(["eql", "file where true", "--events", "-", "--id-field", "id"]) == 0
    assert capsys.readouterr().out.strip() == '["c"]'
