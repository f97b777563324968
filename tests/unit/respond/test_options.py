"""Responder command-line options become the right settings; bad values are refused by name."""

from __future__ import annotations

import argparse
from datetime import timedelta

import pytest

from quarantine.respond.options import add_responder_arguments, responder_config


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="quarantine operator")
    add_responder_arguments(parser)
    return parser.parse_args(argv)


def test_defaults() -> None:
    config = responder_config(parse("--namespace", "q"))
    assert config.safety.all_protected_namespaces == {
        "kube-system",
        "kube-public",
        "kube-node-lease",
        "q",
    }
    assert dict(config.safety.self_labels) == {"app.kubernetes.io/name": "quarantine"}
    assert config.limits.per_rule == 10 and config.limits.overall == 50
    assert config.limits.window == timedelta(minutes=10)
    assert config.limits.pod_cooldown == timedelta(minutes=5)
    assert config.dns.namespace == "kube-system"
    assert config.disabled_actions == frozenset()


def test_overrides() -> None:
    config = responder_config(
        parse(
            "--namespace=sec",
            "--protected-namespace=prod-core",
            "--self-label=team=secops",
            "--max-containments-per-rule=0",
            "--containment-window=1h",
            "--pod-cooldown=0",
            "--dns-namespace=dns",
            "--dns-pod-label=app=coredns",
            "--disable-action=deletePod",
            "--disable-action=scaleDown",
        )
    )
    assert config.safety.all_protected_namespaces == {"prod-core", "sec"}
    assert dict(config.safety.self_labels) == {"team": "secops"}
    assert config.limits.per_rule == 0
    assert config.limits.window == timedelta(hours=1)
    assert config.limits.pod_cooldown == timedelta(0)
    assert config.dns.pod_labels == (("app", "coredns"),)
    assert config.disabled_actions == {"deletePod", "scaleDown"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--pod-cooldown=soon",), "--pod-cooldown"),
        (("--max-containments=-1",), "expected 0 or more"),
        (("--self-label=novalue",), "expected KEY=VALUE"),
        (("--disable-action=explode",), "invalid choice: 'explode'"),
    ],
)
def test_bad_values_are_refused(
    argv: tuple[str, ...], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        parse(*argv)
    assert message in capsys.readouterr().err
