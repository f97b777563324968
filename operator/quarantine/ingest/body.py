"""Reading request bodies within a byte budget, before and after gzip decompression."""

from __future__ import annotations

import zlib
from typing import Protocol

# Read the socket in slices this big so an oversized body is refused before it is all buffered.
_READ_CHUNK = 64 * 1024
_GZIP_WBITS = 16 + zlib.MAX_WBITS


class BodyError(ValueError):
    """A request body that cannot be accepted; `status` is the HTTP status to answer with."""

    status = 400


class BodyTooLarge(BodyError):
    status = 413

    def __init__(self, limit: int, *, decompressed: bool = False) -> None:
        where = "after gzip decompression" if decompressed else "as sent"
        super().__init__(f"request body exceeds the limit of {limit} bytes {where}")
        self.limit = limit


class UnsupportedEncoding(BodyError):
    status = 415

    def __init__(self, encoding: str) -> None:
        super().__init__(
            f"unsupported Content-Encoding {encoding!r}: send the body plain or with gzip"
        )


class ChunkSource(Protocol):
    """What aiohttp's `StreamReader` offers and this module needs."""

    async def read(self, n: int = -1) -> bytes: ...


async def read_limited(source: ChunkSource, limit: int, declared_length: int | None) -> bytes:
    """Read the whole body, refusing it as soon as it is known to exceed `limit` bytes."""
    if declared_length is not None and declared_length > limit:
        raise BodyTooLarge(limit)
    parts: list[bytes] = []
    total = 0
    while True:
        chunk = await source.read(_READ_CHUNK)
        if not chunk:
            break
        total += len(chunk)
        if total > limit:
            raise BodyTooLarge(limit)
        parts.append(chunk)
    return b"".join(parts)


def decode_content(body: bytes, content_encoding: str | None, limit: int) -> bytes:
    """Undo `Content-Encoding` (identity or gzip) without letting the output exceed `limit`."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding in ("gzip", "x-gzip"):
        return gunzip_limited(body, limit)
    raise UnsupportedEncoding(encoding)


def gunzip_limited(data: bytes, limit: int) -> bytes:
    """Decompress gzip data (several members allowed) and stop at `limit` bytes of output.

    Decompressing with a bounded `max_length` means a small "gzip bomb" costs at most `limit`
    bytes of memory before it is refused.
    """
    output: list[bytes] = []
    produced = 0
    remaining = data
    while remaining:
        decompressor = zlib.decompressobj(_GZIP_WBITS)
        pending = remaining
        while pending:
            try:
                piece = decompressor.decompress(pending, limit + 1 - produced)
            except zlib.error as error:
                raise BodyError(f"request body is not valid gzip: {error}") from error
            produced += len(piece)
            if produced > limit:
                raise BodyTooLarge(limit, decompressed=True)
            output.append(piece)
            pending = decompressor.unconsumed_tail
        if not decompressor.eof:
            raise BodyError("request body is truncated gzip: the stream ends early")
        # Concatenated gzip members are valid gzip (`cat a.gz b.gz`); decode them all.
        remaining = decompressor.unused_data
    return b"".join(output)
