"""Bearer tokens: header parsing, comparison, file rotation, empty tokens refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from quarantine.ingest.auth import (
    FileToken,
    RotatingToken,
    StaticToken,
    TokenError,
    bearer_token,
    is_authorized,
)


def test_bearer_header_parsing() -> None:
    assert bearer_token("Bearer abc") == b"abc"
    assert bearer_token("bearer   abc  ") == b"abc"
    assert bearer_token("Basic abc") is None
    assert bearer_token("Bearer") is None
    assert bearer_token("Bearer   ") is None
    assert bearer_token(None) is None


def test_only_the_exact_token_is_authorized() -> None:
    source = StaticToken("s3cret")
    assert is_authorized("Bearer s3cret", source)
    assert not is_authorized("Bearer s3cre", source)
    assert not is_authorized("Bearer s3cret2", source)
    assert not is_authorized(None, source)


def test_empty_tokens_are_refused_at_startup(tmp_path: Path) -> None:
    with pytest.raises(TokenError, match="empty"):
        StaticToken("")
    empty = tmp_path / "token"
    empty.write_text("\n")
    with pytest.raises(TokenError, match="empty"):
        FileToken(empty)
    with pytest.raises(TokenError, match="cannot read token file"):
        FileToken(tmp_path / "missing")


def test_file_token_follows_rotation_and_survives_a_bad_rewrite(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("first\n")
    source = FileToken(path, recheck_seconds=0)
    assert source.current() == b"first"
    path.write_text("second\n")
    os.utime(path, ns=(1, 2_000_000_000_000_000_000))
    assert source.current() == b"second"
    path.write_text("")
    os.utime(path, ns=(1, 3_000_000_000_000_000_000))
    assert source.current() == b"second"


def test_rotating_token_refuses_to_become_empty() -> None:
    source = RotatingToken(b"a", origin="Secret ns/name")
    source.set(b"b")
    assert source.current() == b"b"
    with pytest.raises(TokenError, match="Secret ns/name is empty"):
        source.set(b"")
    assert source.current() == b"b"
