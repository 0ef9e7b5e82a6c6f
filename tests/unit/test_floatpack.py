"""floatpack: sorted float64 arrays round-trip bit for bit in few bytes; bad bytes are a
CorruptBlobError, never another exception or a huge allocation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelmon.errors import CorruptBlobError
from modelmon.profile import floatpack
from modelmon.profile.floatpack import pack_runs, pack_sorted, unpack_runs, unpack_sorted

SPECIAL = [-1.7e308, -1e-310, -5e-324, -0.0, 0.0, 5e-324, 2.2250738585072014e-308, 1.7e308]


def _bits(values: np.ndarray) -> list[int]:  # type: ignore[type-arg]
    return np.asarray(values, dtype=np.float64).view(np.int64).tolist()  # type: ignore[no-any-return]


def _decimal(digits: int) -> st.SearchStrategy[float]:
    """Values with up to ``digits`` significant digits at some decimal scale."""
    return st.builds(
        lambda m, e: float(f"{m}e{e}"),
        st.integers(-(10**digits) + 1, 10**digits - 1),
        st.integers(-12, 12),
    )


any_floats = st.floats(allow_nan=False, allow_infinity=False)
values = st.lists(
    st.one_of(any_floats, _decimal(3), _decimal(9), _decimal(17), st.sampled_from(SPECIAL)),
    max_size=300,
)


@settings(max_examples=300, deadline=None)
@given(values)
def test_sorted_arrays_round_trip_bit_for_bit(xs: list[float]) -> None:
    arr = np.sort(np.array(xs, dtype=np.float64))
    blob = pack_sorted(arr)
    assert _bits(unpack_sorted(blob, len(arr))) == _bits(arr)
    assert len(blob) <= 8 * len(arr) + 6  # never more than raw plus the code and a header


@settings(max_examples=200, deadline=None)
@given(st.lists(values, max_size=6), st.booleans())
def test_runs_round_trip_sorted_or_not(runs: list[list[float]], sort: bool) -> None:
    arrays = [np.sort(np.array(r, dtype=np.float64)) if sort else np.array(r) for r in runs]
    flat = np.concatenate(arrays) if arrays else np.empty(0)
    sizes = [len(a) for a in arrays]
    blob = pack_runs(flat, sizes)
    assert _bits(unpack_runs(blob, sizes)) == _bits(flat)
    assert len(blob) <= 8 * len(flat) + len(sizes) + 5


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 17), st.integers(1, 400), st.integers(0, 2**32))
def test_any_number_of_significant_digits(digits: int, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    mant = rng.integers(-(10**digits) if digits else 0, 10**digits if digits else 1, n)
    arr = np.sort(mant.astype(np.float64) * 10.0 ** rng.integers(-9, 9))
    assert _bits(unpack_sorted(pack_sorted(arr), n)) == _bits(arr)


@pytest.mark.parametrize(
    "arr",
    [
        np.empty(0),
        np.array([0.0]),
        np.array([-0.0]),
        np.array([7.0] * 50),
        np.array([-0.0, 0.0, -0.0, 0.0]),  # sorted as floats compare (-0.0 == 0.0)
        np.array(SPECIAL),
        np.array([np.nan, np.inf, -np.inf]),  # lossless for any bits, though not for sketches
        np.array([1.7e12, 1.7e12 + 1]),  # timestamps in ms: integers
    ],
)
def test_edge_arrays(arr: np.ndarray) -> None:  # type: ignore[type-arg]
    assert _bits(unpack_sorted(pack_sorted(arr), len(arr))) == _bits(arr)


def test_decimals_and_integers_are_small() -> None:
    rng = np.random.default_rng(1)
    assert len(pack_sorted(np.sort(rng.normal(50, 10, 1000).round(3)))) < 1.3 * 1000
    assert len(pack_sorted(np.sort(rng.integers(0, 500, 1000).astype(float)))) <= 1001
    assert len(pack_sorted(np.sort(rng.normal(0, 1, 1000)))) < 7.2 * 1000  # full precision


def test_bad_run_lengths_are_a_value_error_when_packing() -> None:
    with pytest.raises(ValueError, match="add up"):
        pack_runs(np.zeros(3), [1, 1])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64), st.lists(st.integers(-5, 80), max_size=4))
def test_garbage_is_a_corrupt_blob_error(data: bytes, sizes: list[int]) -> None:
    try:
        out = unpack_runs(data, sizes)
    except CorruptBlobError:
        return
    assert len(out) == sum(sizes)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_flipped_or_cut_bytes_never_escape_as_other_errors(data: st.DataObject) -> None:
    arr = np.sort(np.random.default_rng(data.draw(st.integers(0, 99))).normal(0, 1, 40))
    if data.draw(st.booleans()):
        arr = arr.round(2)
    blob = bytearray(pack_sorted(arr))
    if data.draw(st.booleans()):
        i = data.draw(st.integers(0, len(blob) - 1))
        blob[i] ^= data.draw(st.integers(1, 255))
    else:
        blob = blob[: data.draw(st.integers(0, len(blob) - 1))]
    try:
        out = unpack_sorted(bytes(blob), 40)
    except CorruptBlobError:
        return
    assert len(out) == 40


@pytest.mark.parametrize("count", [2**40, 2**63 - 1, 2**64 + 5, -1])
def test_huge_or_negative_counts_do_not_allocate(count: int) -> None:
    with pytest.raises(CorruptBlobError):
        unpack_sorted(b"\x03" + b"\x01" * 100, count)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.lists(
            st.lists(
                st.one_of(
                    st.integers(-(10**6), 10**6).map(lambda i: i / 1000),
                    st.floats(allow_nan=False, allow_infinity=False),
                ),
                max_size=12,
            ).map(sorted),
            max_size=4,
        ),
        max_size=6,
    )
)
def test_packing_groups_at_once_gives_each_groups_own_bytes(
    groups: list[list[list[float]]],
) -> None:
    runs = [run for group in groups for run in group]
    values = np.array([v for run in runs for v in run], dtype=np.float64)
    got = floatpack.pack_groups(values, [len(r) for r in runs], [len(g) for g in groups])
    want = [
        floatpack.pack_runs(np.array([v for r in g for v in r], dtype=np.float64),
                            [len(r) for r in g])
        for g in groups
    ]  # fmt: skip
    assert got == want
