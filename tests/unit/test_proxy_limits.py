"""The proxy inflates captured bodies within a cap, chunk-bounded: a bomb never inflates in full."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelmon.errors import InvalidEventError
from modelmon_services.capture_proxy.capture import _plain

LIMIT = 64 * 1024


def _compress(data: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.compress(data, mtime=0)
    if encoding == "deflate":
        return zlib.compress(data)
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)  # raw deflate, as some clients send
    return raw.compress(data) + raw.flush()


@settings(max_examples=80, deadline=None)
@given(
    size=st.integers(0, 4 * LIMIT),
    ratio=st.sampled_from([1, 2, 16, 256, 4096]),
    encoding=st.sampled_from(["gzip", "deflate", "raw-deflate"]),
)
def test_bodies_inflate_exactly_within_the_cap_and_are_refused_beyond(
    size: int, ratio: int, encoding: str
) -> None:
    unit = bytes(range(256)) * (size // 256 // ratio + 1)
    data = (unit * ratio)[:size]  # the higher the ratio, the more repetitive the body
    body = _compress(data, encoding)
    header = "deflate" if encoding == "raw-deflate" else encoding
    if size <= LIMIT:
        assert _plain(body, header, LIMIT) == data
    else:
        with pytest.raises(InvalidEventError, match="inflates beyond"):
            _plain(body, header, LIMIT)
    if size:
        with pytest.raises(InvalidEventError):
            _plain(body[: len(body) // 2], header, LIMIT)  # truncated


def test_a_300_mb_bomb_is_refused_without_inflating_it() -> None:
    inflater = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = b"\0" * (1 << 20)
    bomb = b"".join(inflater.compress(chunk) for _ in range(300)) + inflater.flush()
    assert len(bomb) < 400_000
    tracemalloc.start()
    try:
        with pytest.raises(InvalidEventError, match="inflates beyond"):
            _plain(bomb, "gzip", 8 * 1024 * 1024)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * 8 * 1024 * 1024  # the old gzip.decompress allocated the full 300 MB
