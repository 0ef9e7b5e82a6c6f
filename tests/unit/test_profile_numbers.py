"""Numbers: a column known to hold only numbers and missing values (pure)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from modelmon.profile.columns import numeric_column
from modelmon.profile.numbers import Numbers


def _mixed(n: int, seed: int) -> list[object]:
    rng = np.random.default_rng(seed)
    out: list[object] = []
    kinds, values = rng.integers(0, 5, n).tolist(), rng.normal(0, 5, n).tolist()
    for kind, value in zip(kinds, values, strict=True):
        if kind == 0:
            out.append(int(value))
        elif kind == 1:
            out.append(round(value, 1))  # sometimes whole: still a float
        elif kind == 2:
            out.append(float(int(value)))  # always whole, always a float
        elif kind == 3:
            out.append(None)
        else:
            out.append(math.inf if value > 0 else -math.inf)
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_classify_counts_every_value_as_the_object_path_does(seed: int) -> None:
    items = _mixed(500, seed)
    numbers = Numbers.of(items)
    assert numbers is not None
    got, want = numbers.classify(), numeric_column(np.array(items, dtype=object))
    assert (got.missing, got.non_finite, got.type_mismatches) == (
        want.missing,
        want.non_finite,
        want.type_mismatches,
    )
    assert (got.integral, got.fractional) == (want.integral, want.fractional)
    assert sorted(got.values.tolist()) == sorted(want.values.tolist())
    assert got.integral == sum(type(v) is int for v in items)


def test_floats_only_carry_no_integral_mask_and_a_bool_is_refused() -> None:
    only_floats = Numbers.of([1.0, 2.5, None])
    assert only_floats is not None and only_floats.integral is None
    assert only_floats.classify().fractional == 2
    assert Numbers.of([1.5, True]) is None  # bools go the object path (they stay bools)


def test_take_concat_and_objects_keep_each_value_and_its_type() -> None:
    a = Numbers.of([1, 2.5, None])
    b = Numbers.of([4.0, 5])
    assert a is not None and b is not None
    both = Numbers.concat([a, b])
    assert both.objects().tolist() == [1, 2.5, None, 4.0, 5]
    assert [type(v) for v in both.objects().tolist()] == [int, float, type(None), float, int]
    picked = both.take(np.array([1, 3]))
    assert picked.integral is None and picked.values.tolist() == [2.5, 4.0]
    assert both.take(np.array([4])).classify().integral == 1
    assert len(Numbers.concat([Numbers.of([0.5]) or a, b])) == 3


def test_numpy_bools_are_refused_and_exact_ints_are_told_apart() -> None:
    assert Numbers.of([np.True_, 1.5]) is None
    small = Numbers.of([2**53 - 1, 0.5])
    big = Numbers.of([2**53 + 1, 0.5])
    assert small is not None and small.exact_ints()
    assert big is not None and not big.exact_ints()
