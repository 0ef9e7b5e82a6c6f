"""Lossless, compact encoding of sorted float64 arrays (KLL levels, a small window's values).

Every bit pattern round-trips (-0.0, subnormals, +/-1.7e308, even NaN payloads); the encoding is
small when the values are sorted, and smallest when they are short decimals, as measured data
mostly is. All work is numpy over whole arrays: no Python per value.

An array is encoded as one or more **runs** (e.g. the levels of a KLL sketch, or the levels of
every numeric feature of a profile: one call, whatever the number of features). The caller
keeps the run lengths (``unpack_runs`` needs them: a KLL stores its level sizes anyway)::

    R code bytes     one per run; bits 0-3: 0-9 decimal scale d, 10 float bits; bit 4: zigzag
    decimal section  the decimal runs' deltas (a run's first from 0) as LEB128 varints, stored
                     plane by plane: every value's first 7-bit group (high bit: another group
                     follows), then the second group of the values that have one, ...
    bits section     (if any float-bits run) u8 width W, u32 E; E u32 positions and E u64
                     deltas too wide for W bytes (e.g. a run's first value); every delta in W
                     bytes (W: the width that makes the section smallest, from a sample)

- **decimal scale d** (the smallest that works): every value of the run times 10**d rounds to
  an integer m with |m| < 2**51 and ``float(m) / 10**d`` is the value bit for bit (checked on
  the whole run; -0.0 fails it). The run stores m: sorted, so its deltas are small.
- **float bits** otherwise: the bit patterns as integers in the floats' order (negative values:
  all bits but the sign flipped), so sorted values give non-negative deltas; close values share
  their high bits and the deltas take 5-7 bytes instead of 8.
- **zigzag**: a run with a negative delta (not sorted, or -0.0 after 0.0) stores its deltas
  zigzag-coded; a run's first value always is (it may be below zero).

A decimal varint takes at most 8 bytes (|m| < 2**51) and a float-bits delta at most 8, so an
encoding never exceeds 8 bytes per value plus R + 5.

Measured (``bench/bench_floatpack.py``: one sorted array; 2-core AMD EPYC shared with other
work, load average ~5-9, so the CPU figures are high):

    data (sorted)                    1,000 values: bytes/value  pack µs  unpack µs  100,000: B/v
    normal(50, 10), 3 decimals                    1.09            90       59          1.00
    integers 0-500                                1.00            74       49          1.00
    timestamps in ms (integers)                   2.83           115       83          1.86
    prices: lognormal, 2 decimals                 1.04            83       54          1.00
    normal(0, 1), full precision                  6.70            95       58          6.00
    uniform(0, 1), full precision                 6.38            94       58          5.70

In a 100,000-value array packing or unpacking takes ~20 µs per 1,000 values (12-28 µs).
Most of the CPU of a small array is the fixed cost of ~60 numpy calls: pack many arrays in one
``pack_runs`` call rather than one call each.
"""

from __future__ import annotations

import importlib
import struct
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from modelmon.errors import CorruptBlobError
from modelmon.profile.columns import FloatArray

IntArray = npt.NDArray[np.int64]
UintArray = npt.NDArray[np.uint64]

MAX_SCALE: Final = 9
BITS: Final = 10
ZIGZAG: Final = 0x10
_MAGIC: Final = 1.5 * 2.0**52
_LIMIT: Final = 2.0**51
_SIGN_FLIP: Final = np.int64(0x7FFF_FFFF_FFFF_FFFF)
_POW10: Final[FloatArray] = 10.0 ** np.arange(MAX_SCALE + 1, dtype=np.float64)
_FIXED_HEAD: Final = struct.Struct("<BI")
_MATRIX: Final = 8192  # values up to which the scale search is one (10 x n) matrix
_NONE: Final[IntArray] = np.empty(0, dtype=np.int64)
_GROUP: Final = np.uint64(0x80)
_LOW7: Final = np.uint64(0x7F)
_SEVEN: Final = np.uint64(7)
#: The interface of the exact path's native functions this module reads
#: (``native/src/exact.rs``: ``exact_pack_groups``, ``exact_sort_values``).
EXACT_ABI: Final = 1


def _load_native() -> ModuleType | None:
    try:
        module = importlib.import_module("modelmon_native")
    except ImportError:
        return None
    return module if getattr(module, "EXACT_ABI", None) == EXACT_ABI else None


_NATIVE: dict[str, ModuleType | None] = {"built": _load_native(), "active": None}
_NATIVE["active"] = _NATIVE["built"]


def native() -> Any:
    """The extension module when its exact-path functions are built and in use, else None
    (``pack_groups`` and ``exact_store`` then run their numpy reference code)."""
    return _NATIVE["active"]


def use_native(enabled: bool) -> bool:
    """Use the native exact-path functions when ``enabled`` and built (the default); whether
    they are now in use. Both paths give the same bytes (tests/unit/test_exact_native.py)."""
    _NATIVE["active"] = _NATIVE["built"] if enabled else None
    return _NATIVE["active"] is not None


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
    r = _runs(values, sizes)
    zig_v = r.zig[r.run] if r.zig.any() else None
    decimal = r.scale <= MAX_SCALE
    if decimal.all():
        return r.codes.tobytes() + _varints(r.delta, r.first, zig_v)
    if not decimal.any():
        return r.codes.tobytes() + _fixed(r.delta, r.first, zig_v)
    dec = decimal[r.run]
    bits = ~dec
    zig_d, zig_b = (None, None) if zig_v is None else (zig_v[dec], zig_v[bits])
    varints = _varints(r.delta[dec], r.first[dec], zig_d)
    return r.codes.tobytes() + varints + _fixed(r.delta[bits], r.first[bits], zig_b)


@dataclass(frozen=True, slots=True)
class _Runs:
    """What encoding the runs needs, whatever the sections they go to: per run (``live``:
    the non-empty ones) its mode and zigzag flag, per value its delta and run."""

    live: IntArray
    run: IntArray  # per value: index into ``live``
    scale: IntArray  # per live run: decimal scale, or BITS
    zig: npt.NDArray[np.bool_]  # per live run
    codes: npt.NDArray[np.uint8]  # per run (empty runs: 0)
    delta: IntArray
    first: npt.NDArray[np.bool_]


def _runs(values: FloatArray, sizes: IntArray) -> _Runs:
    live = np.flatnonzero(sizes)
    starts = (np.cumsum(sizes) - sizes)[live]
    run = np.repeat(np.arange(len(live)), sizes[live])
    scale, ints = _decimal_ints(values, starts, sizes[live], run)
    delta = np.empty_like(ints)
    delta[0] = ints[0]
    np.subtract(ints[1:].view(np.uint64), ints[:-1].view(np.uint64), out=delta[1:].view(np.uint64))
    delta[starts] = 0
    zig = np.zeros(len(starts), dtype=bool)
    if int(delta.min()) < 0:  # some run is not sorted
        zig = np.logical_or.reduceat(delta < 0, starts)
    delta[starts] = ints[starts]
    codes = np.zeros(len(sizes), dtype=np.uint8)
    codes[live] = scale | np.where(zig, ZIGZAG, 0)
    first = np.zeros(len(values), dtype=bool)
    first[starts] = True
    return _Runs(live, run, scale, zig, codes, delta, first)


def pack_groups(
    values: FloatArray, lengths: list[int] | IntArray, runs_per_group: list[int] | IntArray
) -> list[bytes]:
    """``pack_runs`` of each group of consecutive runs (``runs_per_group`` runs each), in one
    pass over all of them: the same bytes as one ``pack_runs`` call per group, without its
    fixed cost per call (many small windows flushed at once, streaming/exact_groups.py). A
    run's encoding depends only on its own values; groups with a float-bits run are packed
    one call each. With the native extension (``native()``) the decimal groups are packed
    there (native/src/exact.rs, the same bytes), else by ``_pack_groups_numpy``."""
    values = np.ascontiguousarray(values, dtype=np.float64)
    sizes = np.asarray(lengths, dtype=np.int64).reshape(-1)
    per = np.asarray(runs_per_group, dtype=np.int64).reshape(-1)
    if int(sizes.sum()) != len(values) or (sizes < 0).any() or int(per.sum()) != len(sizes):
        raise ValueError("run lengths must add up to the values, runs per group to the runs")
    module = native()
    if module is None:
        return _pack_groups_numpy(values, sizes, per)
    got: list[bytes | None] = module.exact_pack_groups(
        values, np.ascontiguousarray(sizes), np.ascontiguousarray(per)
    )
    if all(b is not None for b in got):
        return got  # type: ignore[return-value]
    run_edges = np.concatenate(([0], np.cumsum(per)))
    value_edges = np.concatenate(([0], np.cumsum(sizes)))[run_edges]
    return [
        b if b is not None else pack_runs(
            values[value_edges[g] : value_edges[g + 1]], sizes[run_edges[g] : run_edges[g + 1]]
        )
        for g, b in enumerate(got)
    ]  # fmt: skip


def _pack_groups_numpy(values: FloatArray, sizes: IntArray, per: IntArray) -> list[bytes]:
    """``pack_groups`` with numpy (the reference of the native ``exact_pack_groups``)."""
    group_of_run = np.repeat(np.arange(len(per)), per)
    run_edges = np.concatenate(([0], np.cumsum(per)))
    value_edges = np.concatenate(([0], np.cumsum(sizes)))[run_edges]
    if not len(values):
        return [bytes(int(n)) for n in per]
    r = _runs(values, sizes)
    bits_group = np.zeros(len(per), dtype=bool)
    bits_group[group_of_run[r.live[r.scale > MAX_SCALE]]] = True
    group_of_value = np.repeat(group_of_run, sizes)
    dec = ~bits_group[group_of_value]
    planes = _varint_planes(r.delta[dec], r.first[dec], r.zig[r.run][dec], group_of_value[dec])
    edges = [np.searchsorted(owner, np.arange(len(per) + 1)) for _, owner in planes]
    code_bytes = r.codes.tobytes()
    out = []
    for g in range(len(per)):
        if bits_group[g]:
            a, b = value_edges[g], value_edges[g + 1]
            out.append(pack_runs(values[a:b], sizes[run_edges[g] : run_edges[g + 1]]))
            continue
        parts = [code_bytes[run_edges[g] : run_edges[g + 1]]]
        parts += [plane[e[g] : e[g + 1]] for (plane, _), e in zip(planes, edges, strict=True)]
        out.append(b"".join(parts))
    return out


def _varint_planes(
    delta: IntArray,
    first: npt.NDArray[np.bool_],
    zig: npt.NDArray[np.bool_] | None,
    owner: IntArray,
) -> list[tuple[bytes, IntArray]]:
    """``_varints``' planes, each with the owner (group) of every byte in it."""
    value = _coded(delta, first, zig)
    planes = []
    while len(value):
        more = value >= _GROUP
        plane = (value & _LOW7).astype(np.uint8) | (more.view(np.uint8) << 7)
        planes.append((plane.tobytes(), owner))
        value, owner = value[more] >> _SEVEN, owner[more]
    return planes


def _coded(delta: IntArray, first: npt.NDArray[np.bool_], zig: npt.NDArray[np.bool_] | None
           ) -> UintArray:  # fmt: skip
    """Deltas as unsigned integers: zigzag-coded in unsorted runs and at each run's start."""
    if zig is None:
        coded = delta.view(np.uint64).copy()
        coded[first] = _zigzag(delta[first])
        return coded
    out: UintArray = np.where(zig | first, _zigzag(delta), delta.view(np.uint64))
    return out


def _varints(delta: IntArray, first: npt.NDArray[np.bool_], zig: npt.NDArray[np.bool_] | None
             ) -> bytes:  # fmt: skip
    """The decimal runs' section: each value's LEB128 varint (7-bit groups, low first, the
    high bit set when another group follows), stored plane by plane: every value's first
    group, then the second group of the values that have one, and so on. The same bytes as
    LEB128, transposed: a plane is a few whole-array operations, and it delimits itself."""
    owner = np.zeros(len(delta), dtype=np.int64)
    return b"".join(plane for plane, _ in _varint_planes(delta, first, zig, owner))


def _fixed(delta: IntArray, first: npt.NDArray[np.bool_], zig: npt.NDArray[np.bool_] | None
           ) -> bytes:  # fmt: skip
    """The float-bits runs' section: u8 width W, u32 number of exceptions E; E u32 positions
    and E u64 values that do not fit in W bytes (e.g. each run's first, zigzag-coded whole);
    every value in W bytes (an exception's slot holds its low bytes). W is the width that
    makes the section smallest, judged on a sample of at most ~2,048 values."""
    coded = _coded(delta, first, zig)
    sample = coded[:: max(1, len(coded) // 2048)]
    _, exponent = np.frexp(sample.astype(np.float64))
    need = np.bincount(np.maximum(1, (exponent + 7) // 8), minlength=9)
    above = np.cumsum(need[::-1])[::-1]  # above[w]: values needing w bytes or more
    cost = [w * len(sample) + 12 * int(above[w + 1] if w < 8 else 0) for w in range(1, 9)]
    width = 1 + int(np.argmin(cost))
    wide = np.flatnonzero(coded >= np.uint64(1 << (8 * width))) if width < 8 else _NONE
    main = coded.astype("<u8", copy=False).view(np.uint8).reshape(-1, 8)[:, :width]
    return b"".join((
        _FIXED_HEAD.pack(width, len(wide)), wide.astype("<u4").tobytes(),
        coded[wide].astype("<u8").tobytes(), main.tobytes(),
    ))  # fmt: skip


def _decimal_ints(
    values: FloatArray, starts: IntArray, sizes: IntArray, run: IntArray
) -> tuple[IntArray, IntArray]:
    """Per run, its mode (the smallest decimal scale every value round-trips at, else BITS)
    and each value as its run's integer (m for a decimal run, ordered float bits otherwise).
    Long runs are searched on a sample of their values, then checked whole."""
    sampled = len(values) > 16 * len(starts) and len(values) > 256
    grid = None
    if sampled:
        picks = (starts[:, None] + (sizes - 1)[:, None] * np.arange(8)[None, :] // 7).ravel()
        scale = _search(values[picks], np.arange(0, len(picks), 8))
    else:
        scale, grid = _search_grid(values, starts)
    if (scale > MAX_SCALE).all():
        return scale, _ordered(values)
    row = np.minimum(scale, MAX_SCALE)
    if grid is not None:  # searched whole: the matrix holds every run's rounded values
        m = grid[row[0]] if (row == row[0]).all() else grid[row[run], np.arange(len(values))]
    else:
        m, ok = _round(values, _per_value(_POW10[row], run))
    if sampled:
        bad = ~np.logical_and.reduceat(ok, starts) & (scale <= MAX_SCALE)
        if bad.any():  # the sample misjudged a run: search it whole
            scale = np.where(bad, _search(values, starts, bad), scale)
            m, ok = _round(values, _per_value(_POW10[np.minimum(scale, MAX_SCALE)], run))
    decimal = scale <= MAX_SCALE
    if decimal.all():
        return scale, m.astype(np.int64)
    m[~decimal[run]] = 0.0  # NaN, inf or out of range there: not cast
    out: IntArray = np.where(decimal[run], m.astype(np.int64), _ordered(values))
    return scale, out


def _ordered(values: FloatArray) -> IntArray:
    """The values' bit patterns as integers in the floats' order (negative: all bits but the
    sign flipped), so sorted values give non-decreasing integers."""
    bits = values.view(np.int64)
    out: IntArray = np.where(bits < 0, bits ^ _SIGN_FLIP, bits)
    return out


def _per_value(per_run: FloatArray, run: IntArray) -> float | FloatArray:
    """A run's number for each of its values (one number when the runs agree)."""
    if (per_run == per_run[0]).all():
        return float(per_run[0])
    spread: FloatArray = per_run[run]
    return spread


def _search(
    values: FloatArray, starts: IntArray, todo: npt.NDArray[np.bool_] | None = None
) -> IntArray:
    """Per run (where ``todo``): the smallest scale 0-9 all its values round-trip at, else
    BITS."""
    return _search_grid(values, starts, todo)[0]


def _search_grid(
    values: FloatArray, starts: IntArray, todo: npt.NDArray[np.bool_] | None = None
) -> tuple[IntArray, FloatArray | None]:
    """``_search``, every scale at once on a (scales x values) matrix while that is small;
    the matrix of rounded values comes along (None for a large array)."""
    if len(values) > _MATRIX:
        return _search_by_scale(values, starts, todo), None
    with np.errstate(over="ignore", invalid="ignore"):
        m = values[None, :] * _POW10[:, None]
        m += _MAGIC
        m -= _MAGIC
        back = m / _POW10[:, None]
    ok = back.view(np.int64) == values.view(np.int64)[None, :]
    ok &= np.abs(m) < _LIMIT
    per_run = np.logical_and.reduceat(ok, starts, axis=1)
    found = np.where(per_run.any(axis=0), per_run.argmax(axis=0), BITS)
    if todo is not None:
        found[~todo] = BITS
    return found, m


def _search_by_scale(
    values: FloatArray, starts: IntArray, todo: npt.NDArray[np.bool_] | None
) -> IntArray:
    """``_search`` one scale at a time (large arrays)."""
    found = np.full(len(starts), BITS, dtype=np.int64)
    todo = np.ones(len(starts), dtype=bool) if todo is None else todo.copy()
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
    if (codes > (ZIGZAG | BITS)).any() or (modes > BITS).any():
        raise CorruptBlobError("packed floats: unknown run code")
    if not total:
        if len(buf) != len(sizes):
            raise CorruptBlobError("packed floats: length does not match the values")
        return np.empty(0, dtype=np.float64)
    run = np.repeat(np.arange(len(sizes)), sizes)
    first = np.zeros(total, dtype=bool)
    first[(np.cumsum(sizes) - sizes)[sizes > 0]] = True
    zig_v = zig[run] if zig.any() else None
    n_bits = int(sizes[modes == BITS].sum())
    coded, end = _unvarints(buf, len(sizes), total - n_bits)
    if not n_bits:  # every run decimal
        delta = _uncoded(coded, first, zig_v)
    elif n_bits == total:  # every run float bits
        coded, end = _unfixed(buf, end, total)
        delta = _uncoded(coded, first, zig_v)
    else:
        bits = modes[run] == BITS
        delta = np.empty(total, dtype=np.uint64)
        dec = ~bits
        delta[dec] = _uncoded(coded, first[dec], None if zig_v is None else zig_v[dec])
        coded, end = _unfixed(buf, end, n_bits)
        delta[bits] = _uncoded(coded, first[bits], None if zig_v is None else zig_v[bits])
    if end != len(buf):
        raise CorruptBlobError("packed floats: length does not match the values")
    return _values(delta, first, run, modes)


def _uncoded(coded: UintArray, first: npt.NDArray[np.bool_], zig: npt.NDArray[np.bool_] | None
             ) -> UintArray:  # fmt: skip
    if zig is None:
        delta = coded.copy()
        delta[first] = _unzigzag(coded[first])
        return delta
    out: UintArray = np.where(zig | first, _unzigzag(coded), coded)
    return out


def _unfixed(buf: npt.NDArray[np.uint8], offset: int, count: int) -> tuple[UintArray, int]:
    """``count`` coded values from the float-bits section ``_fixed`` wrote at ``offset``."""
    if len(buf) < offset + _FIXED_HEAD.size:
        raise CorruptBlobError("packed floats: the float-bits section is cut short")
    width, n_wide = _FIXED_HEAD.unpack(buf[offset : offset + _FIXED_HEAD.size].tobytes())
    pos = offset + _FIXED_HEAD.size
    if not 1 <= width <= 8 or n_wide > count:
        raise CorruptBlobError("packed floats: bad float-bits header")
    end = pos + 12 * n_wide + width * count
    if end != len(buf):
        raise CorruptBlobError("packed floats: length does not match the values")
    wide = np.frombuffer(buf, dtype="<u4", count=n_wide, offset=pos).astype(np.int64)
    pos += 4 * n_wide
    wide_values = np.frombuffer(buf, dtype="<u8", count=n_wide, offset=pos)
    pos += 8 * n_wide
    if n_wide and int(wide.max()) >= count:
        raise CorruptBlobError("packed floats: an exception outside the values")
    cells = np.zeros((count, 8), dtype=np.uint8)
    cells[:, :width] = buf[pos:end].reshape(count, width)
    coded = cells.view("<u8").reshape(count).astype(np.uint64, copy=False)
    coded[wide] = wide_values
    return coded, end


def _values(delta: UintArray, first: npt.NDArray[np.bool_], run: IntArray, modes: IntArray
            ) -> FloatArray:  # fmt: skip
    """Each run's running sums of its deltas, as floats of the run's mode."""
    sums = np.cumsum(delta)  # wraps modulo 2**64, as the deltas did
    starts = np.flatnonzero(first)
    if len(starts) > 1:
        base = np.zeros(len(modes), dtype=np.uint64)
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
    if (modes[present] == BITS).all():  # every run float bits
        unordered: FloatArray = np.where(ints < 0, ints ^ _SIGN_FLIP, ints).view(np.float64)
        return unordered
    mode = modes[run]
    decimal = mode <= MAX_SCALE
    if (decimal & ((ints >= 2**53) | (ints <= -(2**53)))).any():
        raise CorruptBlobError("packed floats: a decimal value is out of range")
    bits = np.where(ints < 0, ints ^ _SIGN_FLIP, ints).view(np.float64)
    if not decimal.any():
        return bits
    scaled = np.where(decimal, ints, 0).astype(np.float64)
    scaled /= _POW10[np.minimum(mode, MAX_SCALE)]
    out: FloatArray = np.where(decimal, scaled, bits)
    return out


def _unvarints(buf: npt.NDArray[np.uint8], offset: int, count: int) -> tuple[UintArray, int]:
    """``count`` values from the planes ``_varints`` wrote at ``offset``, and where they end."""
    if not count:
        return np.empty(0, dtype=np.uint64), offset
    end = offset + count
    if end > len(buf):
        raise CorruptBlobError("packed floats: the varints end early")
    plane = buf[offset:end]
    value = (plane & 0x7F).astype(np.uint64)
    more = np.flatnonzero(plane >= 0x80)
    for group in range(1, 10):
        if not len(more):
            return value, end
        plane = buf[end : end + len(more)]
        end += len(more)
        if len(plane) < len(more) or (group == 9 and (plane > 1).any()):
            raise CorruptBlobError("packed floats: a varint is cut short or overflows 64 bits")
        value[more] |= (plane & 0x7F).astype(np.uint64) << np.uint64(7 * group)
        more = more[plane >= 0x80]
    if len(more):
        raise CorruptBlobError("packed floats: a varint overflows 64 bits")
    return value, end
