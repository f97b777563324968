"""Intake options of `quarantine matcher` and `quarantine run` (which share them) that are refused
before anything connects to a cluster."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from quarantine.commands import matcher, run

COMMANDS = ("matcher", "run")


def run_cli(argv: list[str]) -> int:
    """Parse and run as the CLI would, with only these two commands registered."""
    parser = argparse.ArgumentParser(prog="quarantine")
    subparsers = parser.add_subparsers(dest="command", required=True)
    matcher.register(subparsers)
    run.register(subparsers)
    args = parser.parse_args(argv)
    result: int = args.handler(args)
    return result


@pytest.fixture
def token(tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text("t")
    return path


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("name", ["Isolate-Pod", "isolate_pod", "-isolate", "a/../b"])
def test_a_default_alert_rule_that_cannot_name_a_rule_stops_at_once(
    command: str, name: str, token: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [command, f"--token-file={token}", f"--default-alert-rule={name}"]
    assert run_cli(argv) == 2
    error = capsys.readouterr().err
    assert f"quarantine {command}: {name!r} cannot name a DetectionRule" in error


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--max-body-bytes=0"], "--max-body-bytes must be positive, got 0"),
        (["--tls-cert=/tls/cert.pem"], "--tls-cert and --tls-key go together"),
        (["--listen=nowhere"], "nowhere"),
    ],
)
def test_bad_intake_flags_stop_at_once(
    command: str,
    flags: list[str],
    message: str,
    token: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run_cli([command, f"--token-file={token}", *flags]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"quarantine {command}: ") and message in error


@pytest.mark.parametrize("command", COMMANDS)
def test_the_intake_flags_are_documented_in_help(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        run_cli([command, "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--default-alert-rule NAME" in help_text
    assert "/v1/alerts/elastic" in help_text
    for flag in ("--listen", "--token-file", "--token-secret", "--max-body-bytes", "--tls-key"):
        assert flag in help_text


def test_run_takes_the_same_intake_options_as_the_matcher(token: Path) -> None:
    parser = argparse.ArgumentParser(prog="quarantine")
    subparsers = parser.add_subparsers(dest="command", required=True)
    matcher.register(subparsers)
    run.register(subparsers)
    flags = [
        f"--token-file={token}",
        "--listen=127.0.0.1:0",
        "--max-body-bytes=1024",
        "--fallback-namespace=sec",
        "--default-alert-rule=isolate-pod",
    ]
    alone = matcher.matcher_options(parser.parse_args(["matcher", *flags]))
    together = matcher.matcher_options(parser.parse_args(["run", *flags]))
    assert alone == together
    assert together.default_alert_rule == "isolate-pod"
    assert together.max_body_bytes == 1024
