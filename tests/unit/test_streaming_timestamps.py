"""Vectorised RFC 3339 parsing equals msgspec's datetime decoding, or declines (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import msgspec
import numpy as np
import pytest

from modelmon.streaming.timestamps import epoch_millis

UTC_DATETIME = Annotated[datetime, msgspec.Meta(tz=True)]


def _reference(text: str) -> int:
    """What the strict path gives: msgspec's datetime, floored to the millisecond."""
    when = msgspec.convert(text, UTC_DATETIME)
    return (when - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def _random_times(n: int, seed: int) -> list[datetime]:
    rng = np.random.default_rng(seed)
    start = datetime(1900, 1, 1, tzinfo=UTC)
    micros = rng.integers(0, 200 * 365 * 86400 * 10**6, n).tolist()
    return [start + timedelta(microseconds=m) for m in micros]


@pytest.mark.parametrize("digits", [0, 1, 2, 3, 4, 5, 6])
@pytest.mark.parametrize("zone", ["Z", "+00:00"])
def test_canonical_forms_equal_msgspec_to_the_millisecond(digits: int, zone: str) -> None:
    times = [
        *_random_times(2000, seed=digits),
        datetime(2000, 2, 29, 23, 59, 59, 999999, tzinfo=UTC),  # a leap day
        datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC),  # before the epoch
        datetime(2100, 3, 1, tzinfo=UTC),
    ]
    texts = []
    for t in times:
        base = t.strftime("%Y-%m-%dT%H:%M:%S")
        fraction = f"{t.microsecond:06d}"[:digits]
        texts.append(base + (f".{fraction}" if digits else "") + zone)
    got = epoch_millis(texts)
    assert got is not None
    assert got.tolist() == [_reference(t) for t in texts]


@pytest.mark.parametrize(
    "odd",
    [
        "2026-01-01T00:00:00",  # no zone
        "2026-01-01T01:00:00+01:00",  # another offset: the strict path converts it
        "2026-02-30T00:00:00Z",  # no such day
        "2025-02-29T00:00:00Z",  # not a leap year
        "2026-13-01T00:00:00Z",
        "2026-01-01T24:00:00Z",
        "2026-01-01T00:60:00Z",
        "2026-01-01T00:00:60Z",
        "2026-01-01 00:00:00Z",
        "2026-01-0xT00:00:00Z",
        "0000-01-01T00:00:00Z",
        "2026-01-01T00:00:00.1234567Z",  # more than microseconds
    ],
)
def test_anything_else_declines_for_the_strict_path(odd: str) -> None:
    good = "2026-01-01T00:00:00Z"
    assert epoch_millis([good, odd]) is None or len(odd) != len(good)
    assert epoch_millis([odd]) is None


def test_mixed_lengths_decline_and_empty_is_empty() -> None:
    assert epoch_millis(["2026-01-01T00:00:00Z", "2026-01-01T00:00:00.5Z"]) is None
    empty = epoch_millis([])
    assert empty is not None and empty.tolist() == []
