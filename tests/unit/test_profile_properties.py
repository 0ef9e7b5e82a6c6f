"""Monoid laws of profiles: merge is associative and commutative, K partials equal one pass,
serialization round-trips, merge never mutates its operands."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelmon.profile import (
    KLL_RANK_ERROR,
    CategoricalProfile,
    DatasetProfile,
    NumericProfile,
    ProfileTracker,
)

numbers = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
raw_values = st.one_of(
    numbers,
    st.integers(min_value=-1000, max_value=1000),
    st.none(),
    st.just(float("nan")),
    st.sampled_from(["", "x", "3.5", "7", "inf"]),
)
categories = st.one_of(st.sampled_from(["a", "b", "c", "dd", ""]), st.none(), st.integers(0, 3))


@st.composite
def batches(draw: Any, values: Any = raw_values) -> list[dict[str, list[Any]]]:
    """2-4 batches of rows; some batches leave a feature out (its rows count as missing)."""
    out = []
    for _ in range(draw(st.integers(2, 4))):
        n = draw(st.integers(0, 30))
        batch = {
            "num": draw(st.lists(values, min_size=n, max_size=n)),
            "cat": draw(st.lists(categories, min_size=n, max_size=n)),
        }
        if draw(st.booleans()):
            del batch[draw(st.sampled_from(["num", "cat"]))]
        out.append(batch)
    return out


KINDS = {"num": "numeric", "cat": "categorical"}


def profile_of(parts: list[dict[str, list[Any]]]) -> DatasetProfile:
    tracker = ProfileTracker(KINDS)  # type: ignore[arg-type]
    for batch in parts:
        tracker.update(batch)
    return tracker.snapshot()


def fingerprint(p: DatasetProfile) -> dict[str, Any]:
    """Everything that must agree exactly (counts, categories) or to float precision (moments)."""
    out: dict[str, Any] = {"rows": p.row_count}
    for name, f in sorted(p.features.items()):
        if isinstance(f, NumericProfile):
            out[name] = (f.count, f.missing, f.type_mismatches, f.non_finite, f.integral,
                         f.fractional, f.sketch.n)  # fmt: skip
            out[name + ".moments"] = (f.sum, f.min, f.max, f.mean, f.variance)
        else:
            assert isinstance(f, CategoricalProfile)
            out[name] = (f.count, f.missing, f.type_mismatches, f.integral, f.fractional,
                         tuple(sorted(f.counts().items())))  # fmt: skip
    return out


def assert_same(a: DatasetProfile, b: DatasetProfile) -> None:
    fa, fb = fingerprint(a), fingerprint(b)
    assert fa.keys() == fb.keys()
    for key in fa:
        if key.endswith(".moments"):
            for x, y in zip(fa[key], fb[key], strict=True):
                assert (math.isnan(x) and math.isnan(y)) or x == pytest.approx(
                    y, rel=1e-9, abs=1e-6
                )
        else:
            assert fa[key] == fb[key], key


@settings(max_examples=60, deadline=None)
@given(batches())
def test_k_partials_merge_to_one_pass(parts: list[dict[str, list[Any]]]) -> None:
    one_pass = profile_of(parts)
    merged = DatasetProfile.zero()
    for batch in parts:
        merged = merged.merge(profile_of([batch]))
    assert_same(one_pass, merged)
    for name, f in one_pass.features.items():
        assert f.rows == one_pass.row_count, name  # every row is counted once per feature


@settings(max_examples=40, deadline=None)
@given(batches(), batches(), batches())
def test_merge_associative_and_commutative(x: Any, y: Any, z: Any) -> None:
    a, b, c = profile_of(x), profile_of(y), profile_of(z)
    assert_same(a.merge(b), b.merge(a))
    assert_same(a.merge(b).merge(c), a.merge(b.merge(c)))
    # moments merge is commutative bit for bit
    for name in a.features.keys() & b.features.keys():
        fa, fb = a.features[name], b.features[name]
        if isinstance(fa, NumericProfile) and isinstance(fb, NumericProfile):
            assert fa.merge(fb).moments == fb.merge(fa).moments


@settings(max_examples=40, deadline=None)
@given(batches())
def test_serialize_round_trips(parts: list[dict[str, list[Any]]]) -> None:
    p = profile_of(parts)
    q = DatasetProfile.deserialize(p.serialize())
    assert_same(p, q)
    assert_same(p, DatasetProfile.deserialize(q.serialize()))  # bytes may differ: map order
    for name, f in p.features.items():
        g = q.features[name]
        assert type(g) is type(f)
        if isinstance(f, NumericProfile) and isinstance(g, NumericProfile) and f.count:
            assert f.moments == g.moments
            assert g.quantiles([0.0, 0.5, 1.0]).tolist() == f.quantiles([0.0, 0.5, 1.0]).tolist()
        again = type(f).deserialize(f.serialize())  # type: ignore[attr-defined]
        assert again.rows == f.rows and again.to_body()[0] == f.to_body()[0]


@settings(max_examples=30, deadline=None)
@given(batches(), batches())
def test_merge_never_mutates_operands(x: Any, y: Any) -> None:
    a, b = profile_of(x), profile_of(y)
    before = (a.serialize(), b.serialize())
    a.merge(b)
    b.merge(a)
    assert (a.serialize(), b.serialize()) == before


def test_merged_quantiles_within_bound_of_one_pass() -> None:
    rng = np.random.default_rng(9)
    data = rng.lognormal(0, 1, 120_000)
    parts = np.array_split(data, 7)
    merged = DatasetProfile.zero()
    for part in parts:
        t = ProfileTracker({"x": "numeric"})
        t.update({"x": part})
        merged = merged.merge(t.snapshot())
    f = merged.features["x"]
    assert isinstance(f, NumericProfile)
    assert f.count == len(data) and f.min == data.min() and f.max == data.max()
    assert f.mean == pytest.approx(data.mean(), rel=1e-12)
    assert f.variance == pytest.approx(data.var(), rel=1e-10)
    s = np.sort(data)
    qs = np.linspace(0.01, 0.99, 99)
    ranks = np.searchsorted(s, f.quantiles(qs), side="right") / len(s)
    assert np.max(np.abs(ranks - qs)) <= KLL_RANK_ERROR + 1 / len(s)


def test_snapshot_is_independent_of_later_updates() -> None:
    t = ProfileTracker()
    t.update({"x": np.arange(10.0), "c": ["a"] * 10})
    snap = t.snapshot()
    blob = snap.serialize()
    t.update({"x": np.arange(100.0), "c": ["b"] * 100})
    assert snap.serialize() == blob
    assert snap.row_count == 10 and t.snapshot().row_count == 110


def test_from_profile_continues_without_sharing() -> None:
    t = ProfileTracker()
    t.update({"x": np.arange(10.0), "c": ["a"] * 10})
    p = t.snapshot()
    blob = p.serialize()
    u = ProfileTracker.from_profile(p)
    u.update({"x": np.arange(5.0), "c": ["b"] * 5})
    assert p.serialize() == blob
    both = u.snapshot()
    assert both.row_count == 15
    x = both.features["x"]
    assert isinstance(x, NumericProfile) and x.count == 15 and x.sum == 45 + 10
    c = both.features["c"]
    assert isinstance(c, CategoricalProfile) and c.counts() == {"a": 10, "b": 5}
