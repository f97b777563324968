"""Body limits: declared and streamed sizes, gzip decoding, gzip bombs."""

from __future__ import annotations

import asyncio
import gzip

import pytest

from quarantine.ingest.body import (
    BodyError,
    BodyTooLarge,
    UnsupportedEncoding,
    decode_content,
    gunzip_limited,
    read_limited,
)


class ChunkedBytes:
    """A byte source handing out at most `n` bytes per read, like a socket."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self.reads = 0

    async def read(self, n: int = -1) -> bytes:
        self.reads += 1
        size = len(self._data) if n < 0 else n
        chunk, self._data = self._data[:size], self._data[size:]
        return chunk


def read(data: bytes, limit: int, declared: int | None = None) -> bytes:
    return asyncio.run(read_limited(ChunkedBytes(data), limit, declared))


def test_body_within_limit_is_returned_whole() -> None:
    data = b"x" * 200_000
    assert read(data, limit=200_000) == data


def test_declared_length_over_limit_is_refused_before_reading() -> None:
    source = ChunkedBytes(b"x" * 10)
    with pytest.raises(BodyTooLarge) as caught:
        asyncio.run(read_limited(source, 5, 10))
    assert source.reads == 0
    assert caught.value.status == 413
    assert "limit of 5 bytes" in str(caught.value)


def test_undeclared_body_over_limit_is_refused_while_streaming() -> None:
    source = ChunkedBytes(b"x" * 1_000_000)
    with pytest.raises(BodyTooLarge):
        asyncio.run(read_limited(source, 100_000, None))
    # Refused after about limit/chunk reads, not after buffering the megabyte.
    assert source.reads <= 3


def test_identity_and_missing_encoding_pass_through() -> None:
    assert decode_content(b"abc", None, 10) == b"abc"
    assert decode_content(b"abc", "identity", 10) == b"abc"


def test_gzip_is_decoded() -> None:
    assert decode_content(gzip.compress(b"hello\n"), "gzip", 100) == b"hello\n"
    assert decode_content(gzip.compress(b"hello\n"), "GZIP", 100) == b"hello\n"


def test_concatenated_gzip_members_are_all_decoded() -> None:
    data = gzip.compress(b"one\n") + gzip.compress(b"two\n")
    assert gunzip_limited(data, 100) == b"one\ntwo\n"


def test_gzip_bomb_is_refused_at_the_decompressed_limit() -> None:
    bomb = gzip.compress(b"\0" * 50_000_000)
    assert len(bomb) < 100_000
    with pytest.raises(BodyTooLarge) as caught:
        gunzip_limited(bomb, 1_000_000)
    assert "after gzip decompression" in str(caught.value)


def test_output_exactly_at_limit_is_accepted() -> None:
    assert gunzip_limited(gzip.compress(b"a" * 1000), 1000) == b"a" * 1000
    with pytest.raises(BodyTooLarge):
        gunzip_limited(gzip.compress(b"a" * 1001), 1000)


def test_invalid_and_truncated_gzip_are_bad_requests() -> None:
    with pytest.raises(BodyError, match="not valid gzip") as invalid:
        gunzip_limited(b"definitely not gzip", 100)
    assert invalid.value.status == 400
    with pytest.raises(BodyError, match="truncated"):
        gunzip_limited(gzip.compress(b"x" * 1000)[:-12], 10_000)


def test_unknown_encoding_is_unsupported_media_type() -> None:
    with pytest.raises(UnsupportedEncoding) as caught:
        decode_content(b"abc", "br", 100)
    assert caught.value.status == 415
    assert "'br'" in str(caught.value)
