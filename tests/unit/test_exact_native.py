"""The exact path's native sort and pack (native/src/exact.rs) give what the numpy reference
(profile/floatpack.py, streaming/exact_store.py) gives: the same bytes, the same values.

One liberty: -0.0 and 0.0 compare equal, and numpy's (unstable) argsort leaves them in either
order, so a (window, feature) holding both may list them in another order; equal as numbers.
The byte-for-byte tests draw no -0.0; the sort test with it compares numbers.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelmon.profile import codec, floatpack
from modelmon.profile.exact import NUMERIC, ExactParts, parts_of_body, serialize_many
from modelmon.streaming import exact_store

from .test_exact_windows import T0, _event, _plans, _run

pytestmark = pytest.mark.skipif(
    not floatpack.use_native(True), reason="the native extension is not built (no cargo)"
)


def _no_negative_zero(x: float) -> bool:
    return not (x == 0.0 and math.copysign(1.0, x) < 0)


_finite = st.floats(allow_nan=False, allow_infinity=False)
_value = st.one_of(
    st.integers(-(10**7), 10**7).map(lambda i: i / 1000),  # short decimals: the common case
    st.integers(-(2**53), 2**53).map(float),
    st.builds(lambda m, e: float(f"{m}e{e}"), st.integers(-(10**9), 10**9), st.integers(-12, 9)),
    st.sampled_from([0.0, 5e-324, 1e-310, 2.2250738585072014e-308, 1.7e308, -1.7e308, 2.0**51]),
    _finite,
)
_groups = st.lists(
    st.lists(st.tuples(st.lists(_value, max_size=20), st.booleans()), max_size=5), max_size=8
)


@settings(max_examples=300, deadline=None)
@given(_groups)
def test_native_packing_gives_the_reference_bytes(
    groups: list[list[tuple[list[float], bool]]],
) -> None:
    runs = [sorted(run) if keep_sorted else run for g in groups for run, keep_sorted in g]
    values = np.array([v for run in runs for v in run], dtype=np.float64)
    lengths, per = [len(r) for r in runs], [len(g) for g in groups]
    got = floatpack.pack_groups(values, lengths, per)
    want = floatpack._pack_groups_numpy(
        values, np.array(lengths, dtype=np.int64), np.array(per, dtype=np.int64)
    )
    assert got == want
    for blob, g in zip(got, groups, strict=True):  # and they read back bit for bit
        g_runs = [sorted(r) if s else r for r, s in g]
        back = floatpack.unpack_runs(blob, [len(r) for r in g_runs])
        flat = np.array([v for r in g_runs for v in r], dtype=np.float64)
        assert back.view(np.int64).tolist() == flat.view(np.int64).tolist()


def test_bad_run_lengths_are_a_value_error_natively() -> None:
    with pytest.raises(ValueError, match="add up"):
        floatpack.pack_groups(np.zeros(3), [1, 1], [2])
    with pytest.raises(ValueError, match="add up"):
        floatpack.pack_groups(np.zeros(2), [1, 1], [1])


@st.composite
def _matrix(draw: st.DrawFn, negative_zero: bool) -> tuple[Any, Any, int]:
    groups = draw(st.integers(1, 12))
    rows = draw(st.integers(0, 80))
    features = draw(st.integers(0, 4))
    value = st.one_of(_value, st.just(math.nan), st.just(-0.0) if negative_zero else _value)
    if not negative_zero:
        value = value.filter(_no_negative_zero)
    flat = draw(st.lists(value, min_size=rows * features, max_size=rows * features))
    values = np.array(flat, dtype=np.float64).reshape(features, rows)
    owner = st.integers(-1, groups - 1)  # -1: a row of no group written now
    local = np.array(draw(st.lists(owner, min_size=rows, max_size=rows)), dtype=np.int64)
    return values, local, groups


def _reference_sort(values: Any, local: Any, groups: int) -> tuple[Any, Any]:
    sel = np.flatnonzero(local >= 0)
    return exact_store._sorted_values_numpy(values[:, sel], local[sel], groups)


@settings(max_examples=200, deadline=None)
@given(_matrix(negative_zero=False))
def test_native_sorting_gives_the_reference_values(case: tuple[Any, Any, int]) -> None:
    values, local, groups = case
    got, got_bounds = exact_store._sorted_values(values, local, groups)
    want, want_bounds = _reference_sort(values, local, groups)
    assert got_bounds.tolist() == want_bounds.tolist()
    assert got.view(np.int64).tolist() == want.view(np.int64).tolist()


@settings(max_examples=100, deadline=None)
@given(_matrix(negative_zero=True))
def test_native_sorting_with_negative_zeros_gives_equal_numbers(
    case: tuple[Any, Any, int],
) -> None:
    values, local, groups = case
    got, got_bounds = exact_store._sorted_values(values, local, groups)
    want, want_bounds = _reference_sort(values, local, groups)
    assert got_bounds.tolist() == want_bounds.tolist()
    assert got.tolist() == want.tolist()


@settings(max_examples=100, deadline=None)
@given(st.data(), _matrix(negative_zero=False))
def test_native_class_counts_give_the_reference_counters(
    data: st.DataObject, case: tuple[Any, Any, int]
) -> None:
    _, local, groups = case
    nf = data.draw(st.integers(1, 5))
    kinds = np.array(data.draw(st.lists(st.integers(0, 1), min_size=nf, max_size=nf)), np.uint8)
    layout = exact_store.Layout(tuple(f"f{i}" for i in range(nf)), kinds)
    flat = data.draw(
        st.lists(st.integers(0, 6), min_size=nf * len(local), max_size=nf * len(local))
    )
    classes = np.array(flat, dtype=np.int8).reshape(nf, len(local))
    got = exact_store._counters(layout, classes, local, groups)
    floatpack.use_native(False)
    try:
        want = exact_store._counters(layout, classes, local, groups)
    finally:
        floatpack.use_native(True)
    assert got.tolist() == want.tolist()


def test_a_row_of_no_window_or_class_is_a_value_error() -> None:
    native = floatpack.native()
    with pytest.raises(ValueError, match="out of range"):
        native.exact_sort_values(np.zeros((1, 2)), np.array([0, 2], dtype=np.int64), 2)
    with pytest.raises(ValueError, match="out of range"):
        native.exact_sort_values(np.zeros((1, 2)), np.array([0, -2], dtype=np.int64), 2)
    with pytest.raises(ValueError, match="out of range"):
        native.exact_count_classes(np.full((1, 2), 7, np.int8), np.zeros(2, np.int64), 1, 7)


_input = st.one_of(
    st.none(),
    st.integers(-1000, 1000),
    _value.filter(_no_negative_zero),
    st.sampled_from(["x", "4.5"]),
)
_row = st.tuples(
    st.integers(0, 6), st.integers(0, 25_000), _input, _input,
    st.sampled_from(["CA", "NY", None, 3]),
)  # fmt: skip


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(_row, min_size=1, max_size=150),
    st.integers(1, 60),
    st.integers(1, 3),
)
def test_flushes_write_the_same_blobs_natively_and_with_numpy(
    native_decoder: None, rows: list[tuple[int, int, Any, Any, Any]], batch: int,
    flush_every: int,
) -> None:  # fmt: skip
    values = [
        _event(f"m{m}", T0 + ms, {"a": a, "b": b, "c": c, "d": "k"}) for m, ms, a, b, c in rows
    ]
    got = _run(values, _plans(7), batch, flush_every, exact=True)
    floatpack.use_native(False)
    try:
        want = _run(values, _plans(7), batch, flush_every, exact=True)
    finally:
        floatpack.use_native(True)
    assert got[0] == want[0]
    assert [p.partials for p in got[1]] == [p.partials for p in want[1]]


@st.composite
def _parts(draw: st.DrawFn) -> ExactParts:
    """An exact group's parts, consistent (as ``parts_of_body`` checks) with big and small
    integers so every width of ``_uints`` shows up."""
    kinds = np.array(draw(st.lists(st.integers(0, 1), max_size=5)), dtype=np.uint8)
    rows = draw(st.sampled_from([0, 3, 40, 300, 70_000, 2**33]))
    counts, values, clen, ccount, texts = [], [], [], [], []
    for kind in kinds.tolist():
        c0, c1 = draw(st.integers(0, rows)), 0
        n = rows - c0
        if kind == NUMERIC:
            k = min(n, draw(st.integers(0, 12)))
            integral = draw(st.integers(0, n))
            counts.append([c0, c1, n - k, integral, n - integral])
            values.extend(sorted(draw(st.lists(_value, min_size=k, max_size=k))))
            continue
        cats = sorted(draw(st.lists(st.text(max_size=4), min_size=1, max_size=4, unique=True)))
        cats = cats[: min(len(cats), n)]  # every category counted at least once
        split = [n // len(cats)] * len(cats) if cats else []
        if cats:
            split[0] += n - sum(split)
        keep = list(zip(cats, split, strict=True))
        counts.append([c0, c1, n, 0, 0])
        clen.append(len(keep))
        ccount.extend(c for _, c in keep)
        texts.extend(t for t, _ in keep)
    return ExactParts(
        rows, [f"f{i}" for i in range(len(kinds))], kinds,
        np.array(counts, dtype=np.int64).reshape(-1, 5), np.array(values, dtype=np.float64),
        np.array(clen, dtype=np.int64), np.array(ccount, dtype=np.int64), texts,
    )  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.lists(_parts(), min_size=1, max_size=8), st.booleans())
def test_serializing_many_at_once_gives_each_ones_blob(
    parts: list[ExactParts], native: bool
) -> None:
    floatpack.use_native(native)
    try:
        got = serialize_many(parts)
    finally:
        floatpack.use_native(True)
    assert got == [p.serialize() for p in parts]
    for blob, p in zip(got, parts, strict=True):
        back = parts_of_body(codec.unpack(blob, codec.TAG_EXACT)[1])
        assert back.counts.tolist() == p.counts.tolist() and back.texts == p.texts
