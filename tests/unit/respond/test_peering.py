"""Leader-election options: a standby needs a peering name, distinct priorities, a lifetime kopf
can renew in time; and the settings reach kopf as one cluster-wide peering."""

from __future__ import annotations

import argparse
import time

import kopf
import pytest

from quarantine.respond.options import add_responder_arguments, peering_options
from quarantine.respond.peering import MIN_LIFETIME_SECONDS, Peering, seniority_priority


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="quarantine operator")
    add_responder_arguments(parser)
    return parser.parse_args(argv)


def test_without_peering_the_operator_runs_standalone() -> None:
    assert peering_options(parse()) is None


def test_a_priority_without_peering_is_refused() -> None:
    with pytest.raises(ValueError, match="--priority needs --peering"):
        peering_options(parse("--priority=5"))


def test_explicit_settings_are_kept() -> None:
    peering = peering_options(parse("--peering=q", "--priority=7", "--peering-lifetime=30"))
    assert peering == Peering(name="q", priority=7, lifetime=30)


def test_the_default_lifetime_is_documented_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    peering = peering_options(parse("--peering=q"))
    assert peering is not None and peering.lifetime == 15
    with pytest.raises(SystemExit):
        parse("--help")
    assert "default 15" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("lifetime", [0, 1, MIN_LIFETIME_SECONDS - 1])
def test_a_lifetime_kopf_cannot_renew_in_time_is_refused(lifetime: int) -> None:
    with pytest.raises(ValueError, match=f"--peering-lifetime must be at least 5.*got {lifetime}"):
        peering_options(parse("--peering=q", f"--peering-lifetime={lifetime}"))


def test_replicas_started_one_after_another_rank_the_elder_first() -> None:
    elder = seniority_priority()
    time.sleep(0.002)
    younger = seniority_priority()
    assert elder > younger, "the replica that started first must keep the lead"


def test_replicas_started_together_still_get_distinct_priorities(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A thousand replicas in the very same nanosecond: the random part alone keeps them
    # apart (a million values: about one pair alike is expected, more than ten is not).
    monkeypatch.setattr(time, "time_ns", lambda: 1_795_000_000_123_456_789)
    priorities = [seniority_priority() for _ in range(1000)]
    assert len(set(priorities)) >= 990, "equal priorities would pause both replicas"


def test_priorities_fit_a_signed_64_bit_json_integer_until_2262() -> None:
    new_year_2262 = 9_214_646_400 * 10**9  # 2262-01-01T00:00:00Z in epoch nanoseconds
    for now in (time.time_ns(), new_year_2262):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(time, "time_ns", lambda now=now: now)
            priority = seniority_priority()
        assert -(2**63) <= priority < 0, "must fit a signed 64-bit JSON integer"


def test_each_replica_draws_its_own_default_priority() -> None:
    first = peering_options(parse("--peering=q"))
    second = peering_options(parse("--peering=q"))
    assert first is not None and second is not None
    assert first.priority != second.priority


def test_settings_reach_kopf_as_one_cluster_wide_mandatory_peering() -> None:
    settings = kopf.OperatorSettings()
    settings.peering.clusterwide = False  # what kopf derives from --watch-namespace
    Peering(name="quarantine-x", priority=-3, lifetime=9).configure(settings)
    assert settings.peering.name == "quarantine-x"
    assert settings.peering.priority == -3
    assert settings.peering.lifetime == 9
    assert settings.peering.clusterwide is True
    assert settings.peering.mandatory is True
    assert settings.peering.standalone is False
