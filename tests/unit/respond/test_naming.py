"""Deterministic, valid names and label keys."""

from __future__ import annotations

import re

from quarantine.respond.naming import (
    ISOLATED_POD_LABEL,
    is_isolation_label,
    is_quarantine_label,
    isolation_label_key,
    label_value,
    policy_name,
)

LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")


def test_isolation_label_is_per_alert_and_stable() -> None:
    assert (
        isolation_label_key("sensitive-files-abc") == "isolated.quarantine.io/sensitive-files-abc"
    )
    assert isolation_label_key("a") == isolation_label_key("a")
    assert isolation_label_key("a") != isolation_label_key("b")


def test_long_names_are_shortened_with_a_digest_and_stay_distinct() -> None:
    first = isolation_label_key("x" * 80 + "1")
    second = isolation_label_key("x" * 80 + "2")
    assert first != second
    for key in (first, second):
        name = key.split("/", 1)[1]
        assert len(name) <= 63
        assert LABEL_NAME.match(name)


def test_policy_name_fits_and_is_deterministic() -> None:
    assert policy_name("alert-1") == "quarantine-alert-1"
    long = policy_name("a" * 300)
    assert len(long) <= 253
    assert long == policy_name("a" * 300)


def test_label_value_is_valid() -> None:
    value = label_value("ns.with/odd chars--" + "z" * 70)
    assert len(value) <= 63
    assert LABEL_NAME.match(value)


def test_quarantine_label_predicates() -> None:
    assert is_isolation_label(isolation_label_key("a"))
    assert not is_isolation_label(ISOLATED_POD_LABEL)
    assert is_quarantine_label(ISOLATED_POD_LABEL)
    assert not is_quarantine_label("app")
