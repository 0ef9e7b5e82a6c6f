"""Vectorised parsing of RFC 3339 UTC timestamps to epoch milliseconds (pure: numpy).

Capture events carry ``event_time`` as text such as ``2026-01-01T00:00:01.250Z`` (what our SDK,
proxy and ingest write). Turning each into a ``datetime`` and asking its ``timestamp()`` costs
~0.4 µs per event; this parses a whole batch with array arithmetic. It accepts only the
canonical forms, all of one length in a batch: ``YYYY-MM-DDTHH:MM:SS``, an optional fraction
of 1–6 digits, then ``Z`` or ``+00:00``. Anything else (another offset, a missing zone, an
impossible date) gives None, and the caller parses those events one by one with the strict
decoder, so the accepted set and the results equal msgspec's datetime decoding.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

Int64Array = npt.NDArray[np.int64]

_LONGEST = len("2026-01-01T00:00:00.123456+00:00")
_SEPARATORS = {4: "-", 7: "-", 10: "T", 13: ":", 16: ":"}
_DIGITS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


def epoch_millis(texts: Sequence[str]) -> Int64Array | None:
    """Epoch milliseconds (the fraction floored to the millisecond), or None when any text is
    not in a canonical form shared by all of them."""
    n = len(texts)
    if not n:
        return np.empty(0, dtype=np.int64)
    if max(map(len, texts)) > _LONGEST:  # before numpy makes every row that wide
        return None
    arr = np.array(texts)
    if arr.dtype.kind != "U":
        return None
    width = arr.dtype.itemsize // 4
    zone = _zone_width(texts[0], width)
    if zone is None:
        return None
    codes = arr.view(np.uint32).reshape(n, width)
    body = width - zone  # characters before the zone
    fraction = body - 20 if body > 19 else 0  # digits after the point
    if not _well_formed(codes, body, fraction, width):
        return None
    return _to_millis(codes.astype(np.int64) - ord("0"), fraction)


def _zone_width(first: str, width: int) -> int | None:
    if first.endswith("Z"):
        zone = 1
    elif first.endswith("+00:00"):
        zone = 6
    else:
        return None
    body = width - zone
    return zone if body == 19 or 21 <= body <= 26 else None


def _well_formed(codes: npt.NDArray[np.uint32], body: int, fraction: int, width: int) -> bool:
    """Every row: separators in place, digits elsewhere, the same zone text as the first row."""
    expect = np.zeros(width, dtype=np.uint32)
    is_digit = np.zeros(width, dtype=bool)
    for i, ch in _SEPARATORS.items():
        expect[i] = ord(ch)
    is_digit[_DIGITS] = True
    if fraction:
        expect[19] = ord(".")
        is_digit[20:body] = True
    expect[body:] = codes[0, body:]
    fixed = ~is_digit
    if not (codes[:, fixed] == expect[fixed]).all():
        return False
    digits = codes[:, is_digit]
    return bool(((digits >= ord("0")) & (digits <= ord("9"))).all())


def _number(d: npt.NDArray[np.int64], start: int, stop: int) -> Int64Array:
    out = np.zeros(len(d), dtype=np.int64)
    for i in range(start, stop):
        out = out * 10 + d[:, i]
    return out


def _to_millis(d: npt.NDArray[np.int64], fraction: int) -> Int64Array | None:
    year, month, day = _number(d, 0, 4), _number(d, 5, 7), _number(d, 8, 10)
    hour, minute, second = _number(d, 11, 13), _number(d, 14, 16), _number(d, 17, 19)
    if not (
        (year >= 1).all()
        and ((month >= 1) & (month <= 12)).all()
        and (hour <= 23).all()
        and (minute <= 59).all()
        and (second <= 59).all()
    ):
        return None
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_days = _MONTH_DAYS[month] + ((month == 2) & leap)
    if not ((day >= 1) & (day <= month_days)).all():
        return None
    millis = _number(d, 20, 20 + min(fraction, 3)) * 10 ** (3 - min(fraction, 3))
    seconds = (_days_from_civil(year, month, day) * 24 + hour) * 3600 + minute * 60 + second
    out: Int64Array = seconds * 1000 + millis
    return out


def _days_from_civil(y: Int64Array, m: Int64Array, d: Int64Array) -> Int64Array:
    """Days since 1970-01-01 of proleptic Gregorian dates (H. Hinnant's algorithm)."""
    y = y - (m <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    mp = (m + 9) % 12
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    days: Int64Array = era * 146097 + doe - 719468
    return days
