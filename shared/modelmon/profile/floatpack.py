"""Lossless, compact encoding of sorted float64 arrays (KLL levels, a small window's values).

Every bit pattern round-trips (-0.0, subnormals, +/-1.7e308, even NaN payloads); the encoding is
small when the values are sorted and short decimals, as measured data mostly is. All work is
numpy over whole arrays: no Python per value.

An array is encoded as one or more **runs** (e.g. the levels of a KLL sketch, or the levels of
every numeric feature of a profile: one call, whatever the number of features). The caller
keeps the run lengths (``unpack_runs`` needs them: a KLL stores its level sizes anyway). Each
run gets one code byte, then comes one LEB128 varint stream, then the raw section::

    R code bytes     bits 0-3: 0-9 decimal scale d, 10 float bits, 11 raw; bit 4: zigzag deltas
    varints          the non-raw runs' deltas, run after run (first delta of a run from 0)
    8 * n bytes      the raw runs' values, little-endian float64

- **decimal scale d**: every value times 10**d is an integer m with |m| < 2**53 and
  ``float(m) / 10**d`` is the value bit for bit (checked on the whole run; -0.0 fails it). The
  run stores m: sorted, so its deltas are small non-negative integers.
- **float bits**: the values' bit patterns mapped to integers in the floats' order (negative
  values' bits flipped except the sign), so sorted values give non-negative deltas; close
  values share their high bits and the deltas take fewer than 8 bytes.
- **zigzag**: a run whose deltas are not all non-negative (not sorted, or -0.0 after 0.0)
  stores them zigzag-coded (its first delta always is: a run may start below zero).
- **raw**: when the varints of a run would take more than 8 bytes per value. So a run never
  takes more than 8 bytes per value plus its code byte.

Measured (``bench/bench_floatpack.py``; one sorted run; 2-core EPYC, loaded):

    data (sorted)                    bytes/value      encode µs/1k   decode µs/1k
    normal(50, 10), 3 decimals       see docs/decisions/0008-profile-format-v3.md
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from modelmon.errors import CorruptBlobError
from modelmon.profile.columns import FloatArray

IntArray = npt.NDArray[np.int64]
UintArray = npt.NDArray[np.uint64]

MAX_SCALE: Final = 9
BITS: Final = 10
RAW: Final = 11
ZIGZAG: Final = 0x10
_MAGIC: Final = 1.5 * 2.0**52
_LIMIT: Final = 2.0**51
_SIGN_FLIP: Final = np.int64(0x7FFF_FFFF_FFFF_FFFF)
_POW10: Final[FloatArray] = 10.0 ** np.arange(MAX_SCALE + 1, dtype=np.float64)
_THRESHOLDS: Final = np.array([1 << (7 * i) for i in range(1, 10)], dtype=np.uint64)


def pack_sorted(values: FloatArray) -> bytes:
    """One array (sorted: compact; any order: lossless); read back with ``unpack_sorted``."""
    return pack_runs(values, [len(values)])


def unpack_sorted(data: bytes, count: int) -> FloatArray:
    """The ``count`` values ``pack_sorted`` wrote; CorruptBlobError when the bytes are bad."""
    return unpack_runs(data, [count])


# ----- encoding -----------------------------------------------------------------------------


def pack_runs(values: FloatArray, lengths: list[int] | IntArray) -> bytes:
    """``values`` as consecutive runs of ``lengths`` (each sorted for a compact result)."""
    values = np.ascontiguousarray(values, dtype=np.float64)
    sizes = np.asarray(lengths, dtype=np.int64).reshape(-1)
    if int(sizes.sum()) != len(values) or (sizes < 0).any():
        raise ValueError("run lengths must be non-negative and add up to the number of values")
    if not len(values):
        return bytes(len(sizes))
    live = np.flatnonzero(sizes)
    starts = (np.cumsum(sizes) - sizes)[live]
    run = np.repeat(np.arange(len(live)), sizes[live])  # index into ``live``
    scale, ints = _decimal_ints(values, starts, sizes[live], run)
    delta = np.empty_like(ints)
    delta[0] = ints[0]
    np.subtract(ints[1:].view(np.uint64), ints[:-1].view(np.uint64), out=delta[1:].view(np.uint64))
    delta[starts] = 0
    zig = np.zeros(len(starts), dtype=bool)
    if int(delta.min()) < 0:  # some run is not sorted
        zig = np.logical_or.reduceat(delta < 0, starts)
    delta[starts] = ints[starts]
    if zig.any():
        zig_value = zig[run]
        zig_value[starts] = True
        coded = np.where(zig_value, _zigzag(delta), delta.view(np.uint64))
    else:  # sorted runs: only each run's first value may be negative
        coded = delta.view(np.uint64).copy()
        coded[starts] = _zigzag(delta[starts])
    nbytes, width = _varint_sizes(coded)
    modes = np.zeros(len(sizes), dtype=np.uint8)
    raw = np.zeros(len(live), dtype=bool)
    if width > 8:  # a run may be cheaper raw
        raw = np.add.reduceat(nbytes, starts) > 8 * sizes[live]
    modes[live] = np.where(raw, RAW, scale) | np.where(zig & ~raw, ZIGZAG, 0)
    if not raw.any():
        return modes.tobytes() + _leb128(coded, nbytes, width)
    is_raw = raw[run]
    keep = ~is_raw
    stream = _leb128(coded[keep], nbytes[keep], width) if keep.any() else b""
    return modes.tobytes() + stream + values[is_raw].astype("<f8").tobytes()


def _decimal_ints(
    values: FloatArray, starts: IntArray, sizes: IntArray, run: IntArray
) -> tuple[IntArray, IntArray]:
    """Per run, its mode (the smallest decimal scale every value round-trips at, else BITS)
    and each value as its run's integer (m for a decimal run, ordered float bits otherwise).
    Long runs are searched on a sample of their values, then checked whole."""
    if len(values) > 16 * len(starts) and len(values) > 256:
        picks = (starts[:, None] + (sizes - 1)[:, None] * np.arange(8)[None, :] // 7).ravel()
        scale = _search(values[picks], np.arange(0, len(picks), 8))
    else:
        scale = _search(values, starts)
    m, ok = _round(values, _per_value(_POW10[np.minimum(scale, MAX_SCALE)], run))
    good = np.logical_and.reduceat(ok, starts) & (scale <= MAX_SCALE)
    if not good.all():  # a run the sample misjudged (or not decimal): search it whole
        scale = np.where(good, scale, _search(values, starts, ~good))
        m, ok = _round(values, _per_value(_POW10[np.minimum(scale, MAX_SCALE)], run))
    decimal = scale <= MAX_SCALE
    if decimal.all():
        return scale, m.astype(np.int64)
    m[~decimal[run]] = 0.0  # NaN, inf or out of range there: not cast
    ints = m.astype(np.int64)
    bits = values.view(np.int64)
    ordered = np.where(bits < 0, bits ^ _SIGN_FLIP, bits)
    out: IntArray = np.where(decimal[run], ints, ordered)
    return scale, out


def _per_value(per_run: FloatArray, run: IntArray) -> float | FloatArray:
    """A run's number for each of its values (one number when the runs agree)."""
    if (per_run == per_run[0]).all():
        return float(per_run[0])
    spread: FloatArray = per_run[run]
    return spread


def _search(
    values: FloatArray, starts: IntArray, todo: npt.NDArray[np.bool_] | None = None
) -> IntArray:
    """Per run: the smallest scale 0-9 all its values round-trip at, else BITS. A run failing
    at scale 9 is taken as not decimal (one pass for full-precision data)."""
    found = np.full(len(starts), BITS, dtype=np.int64)
    todo = np.ones(len(starts), dtype=bool) if todo is None else todo.copy()
    todo &= np.logical_and.reduceat(_round(values, _POW10[MAX_SCALE])[1], starts)
    for d in range(MAX_SCALE + 1):
        if not todo.any():
            break
        ok = np.logical_and.reduceat(_round(values, _POW10[d])[1], starts) & todo
        found[ok] = d
        todo &= ~ok
    return found


def _round(
    values: FloatArray, scale: float | FloatArray
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """values * scale rounded to integers m, and whether m / scale is each value bit for bit
    (with |m| < 2**51; -0.0 fails: m is 0.0)."""
    with np.errstate(over="ignore", invalid="ignore"):
        m = values * scale
        m += _MAGIC  # round half to even, exact while |m| < 2**51
        m -= _MAGIC
        back = m / scale
    ok = back.view(np.int64) == values.view(np.int64)
    if not (m.min() > -_LIMIT and m.max() < _LIMIT):  # NaN fails both tests
        ok &= np.abs(m) < _LIMIT
    return m, ok


def _zigzag(delta: IntArray) -> UintArray:
    return ((delta << 1) ^ (delta >> 63)).view(np.uint64)


def _unzigzag(coded: UintArray) -> UintArray:
    return (coded >> np.uint64(1)) ^ (np.uint64(0) - (coded & np.uint64(1)))


def _varint_sizes(coded: UintArray) -> tuple[IntArray, int]:
    """LEB128 bytes of each value (1 + the 7-bit thresholds it reaches), and the most."""
    top = int(coded.max())
    nbytes = np.ones(len(coded), dtype=np.int64)
    width = 1
    for threshold in _THRESHOLDS:
        if top < threshold:
            break
        nbytes += coded >= threshold
        width += 1
    return nbytes, width


def _leb128(values: UintArray, nbytes: IntArray, width: int) -> bytes:
    """Each value's 7-bit groups, low first, the high bit set on all but its last."""
    if width == 1:
        return values.astype(np.uint8).tobytes()
    ends = np.cumsum(nbytes)
    out = np.empty(int(ends[-1]), dtype=np.uint8)
    pos = ends - nbytes
    out[pos] = (values.astype(np.uint8) & 0x7F) | np.where(nbytes > 1, 0x80, 0).astype(np.uint8)
    for j in range(1, width):
        longer = np.flatnonzero(nbytes > j)
        part = (values[longer] >> np.uint64(7 * j)).astype(np.uint8) & 0x7F
        part[nbytes[longer] > j + 1] |= 0x80
        out[pos[longer] + j] = part
    return out.tobytes()


# ----- decoding -----------------------------------------------------------------------------


def unpack_runs(data: bytes, lengths: list[int] | IntArray) -> FloatArray:
    """The values ``pack_runs`` wrote for runs of ``lengths``; CorruptBlobError when ``data``
    is not such an encoding (it never allocates more than a few times ``len(data)``)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise CorruptBlobError("packed floats must be bytes")
    try:
        sizes = np.asarray(lengths, dtype=np.int64).reshape(-1)
    except (TypeError, ValueError, OverflowError) as exc:
        raise CorruptBlobError(f"packed floats: bad run lengths ({exc})") from exc
    if (sizes < 0).any() or (sizes > len(data)).any():
        raise CorruptBlobError("packed floats: a run is longer than the bytes")
    total = int(sizes.sum())
    if len(data) < len(sizes) + total:
        raise CorruptBlobError("packed floats: shorter than their values need")
    buf = np.frombuffer(data, dtype=np.uint8)
    codes = buf[: len(sizes)].astype(np.int64)
    modes, zig = codes & 0x0F, (codes & ZIGZAG) != 0
    if (codes > (ZIGZAG | RAW)).any() or (modes > RAW).any() or (zig & (modes == RAW)).any():
        raise CorruptBlobError("packed floats: unknown run code")
    run = np.repeat(np.arange(len(sizes)), sizes)
    is_raw = modes[run] == RAW
    n_var = total - int(is_raw.sum())
    coded, end = _unleb128(buf, len(sizes), n_var)
    raw_bytes = 8 * (total - n_var)
    if len(buf) - end != raw_bytes:
        raise CorruptBlobError("packed floats: length does not match the values")
    out = np.empty(total, dtype=np.float64)
    out[is_raw] = np.frombuffer(data, dtype="<f8", count=total - n_var, offset=end)
    var_run = run[~is_raw]
    out[~is_raw] = _from_deltas(coded, var_run, modes, zig)
    return out


def _unleb128(buf: npt.NDArray[np.uint8], offset: int, count: int) -> tuple[UintArray, int]:
    if not count:
        return np.empty(0, dtype=np.uint64), offset
    ends = np.flatnonzero(buf[offset:] < 0x80)
    if len(ends) < count:
        raise CorruptBlobError("packed floats: the varints end early")
    ends = ends[:count]
    end = int(ends[-1]) + 1
    body = buf[offset : offset + end]
    if end == count:  # every varint one byte
        return body.astype(np.uint64), offset + end
    lens = np.diff(ends, prepend=-1)
    width = int(lens.max())
    if width > 10 or (width == 10 and (body[ends[lens == 10]] > 1).any()):
        raise CorruptBlobError("packed floats: a varint overflows 64 bits")
    starts = ends - lens + 1
    values = (body[starts] & 0x7F).astype(np.uint64)
    for j in range(1, width):
        longer = np.flatnonzero(lens > j)
        part = (body[starts[longer] + j] & 0x7F).astype(np.uint64)
        values[longer] |= part << np.uint64(7 * j)
    return values, offset + end


def _from_deltas(
    coded: UintArray, run: IntArray, modes: IntArray, zig: npt.NDArray[np.bool_]
) -> FloatArray:
    """Values of the non-raw runs from their (zigzag-)coded deltas."""
    if not len(coded):
        return np.empty(0, dtype=np.float64)
    first = np.ones(len(run), dtype=bool)
    first[1:] = run[1:] != run[:-1]
    starts = np.flatnonzero(first)
    if zig.any():
        zig_value = zig[run]
        zig_value[starts] = True
        delta = np.where(zig_value, _unzigzag(coded), coded)
    else:
        delta = coded.copy()
        delta[starts] = _unzigzag(coded[starts])
    sums = np.cumsum(delta)  # wraps modulo 2**64, as the deltas did
    if len(starts) > 1:
        base = np.zeros(len(zig), dtype=np.uint64)
        base[run[starts[1:]]] = sums[starts[1:] - 1]
        sums -= base[run]
    ints = sums.view(np.int64)
    present = run[starts]
    if (modes[present] <= MAX_SCALE).all():  # every run decimal
        if int(ints.min()) <= -(2**53) or int(ints.max()) >= 2**53:
            raise CorruptBlobError("packed floats: a decimal value is out of range")
        scales = _POW10[modes[present]]
        scaled: FloatArray = ints.astype(np.float64)
        scaled /= scales[0] if (scales == scales[0]).all() else _POW10[modes[run]]
        return scaled
    mode = modes[run]
    decimal = mode <= MAX_SCALE
    if (decimal & ((ints >= 2**53) | (ints <= -(2**53)))).any():
        raise CorruptBlobError("packed floats: a decimal value is out of range")
    scaled = np.where(decimal, ints, 0).astype(np.float64)
    scaled /= _POW10[np.minimum(mode, MAX_SCALE)]
    bits = np.where(ints < 0, ints ^ _SIGN_FLIP, ints).view(np.float64)
    out: FloatArray = np.where(decimal, scaled, bits)
    return out
