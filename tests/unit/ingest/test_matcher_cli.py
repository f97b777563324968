"""`quarantine matcher` options that are refused before anything connects to a cluster."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from quarantine.commands.matcher import register


def run_cli(argv: list[str]) -> int:
    """Parse and run as the CLI would, with only the matcher command registered."""
    parser = argparse.ArgumentParser(prog="quarantine")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    result: int = args.handler(args)
    return result


@pytest.mark.parametrize("name", ["Isolate-Pod", "isolate_pod", "-isolate", "a/../b"])
def test_a_default_alert_rule_that_cannot_name_a_rule_stops_at_once(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = tmp_path / "token"
    token.write_text("t")
    argv = ["matcher", f"--token-file={token}", f"--default-alert-rule={name}"]
    assert run_cli(argv) == 2
    error = capsys.readouterr().err
    assert f"quarantine matcher: {name!r} cannot name a DetectionRule" in error


def test_the_default_alert_rule_flag_is_documented_in_help(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        run_cli(["matcher", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--default-alert-rule NAME" in help_text
    assert "/v1/alerts/elastic" in help_text
