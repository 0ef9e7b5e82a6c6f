"""Every sketch-derived distance is within its stated error bound of the exact value on the raw
data, for many shapes and sizes; the verdict equals the exact verdict whenever the exact value
is farther than the bound from the threshold. Big-n sweeps: bench/bench_statistics.py."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from drift_exact import exact_numeric
from modelmon.drift import available_methods, get_method
from modelmon.profile import NumericProfile, ProfileTracker

Shape = Callable[[np.random.Generator, int], np.ndarray]


def _spikes(r: np.random.Generator, n: int) -> np.ndarray:
    x = r.normal(0, 1, n)
    x[r.random(n) < 0.3] = 0.0
    return x


def _with_nan(r: np.random.Generator, n: int) -> np.ndarray:
    x = r.normal(5, 2, n)
    x[r.random(n) < 0.1] = np.nan
    return x


SHAPES: dict[str, Shape] = {
    "normal": lambda r, n: r.normal(0, 1, n),
    "lognormal": lambda r, n: r.lognormal(0, 1.5, n),
    "pareto": lambda r, n: r.pareto(1.5, n),
    "cauchy": lambda r, n: r.standard_cauchy(n),
    "poisson": lambda r, n: r.poisson(3, n).astype(float),
    "small_ints": lambda r, n: r.integers(0, 5, n).astype(float),
    "ties": lambda r, n: np.round(r.normal(0, 1, n), 1),
    "spikes": _spikes,
    "nan_mixed": _with_nan,
}


def profile(x: np.ndarray) -> NumericProfile:
    tracker = ProfileTracker({"x": "numeric"})
    for start in range(0, len(x), 10_000):
        tracker.update({"x": x[start : start + 10_000]})
    p = tracker.snapshot().features["x"]
    assert isinstance(p, NumericProfile)
    return p


@settings(max_examples=25, deadline=None)
@given(
    shape=st.sampled_from(sorted(SHAPES)),
    n=st.sampled_from([1_000, 5_000, 40_000, 120_000]),
    m=st.sampled_from([1_000, 20_000, 60_000]),
    shift=st.sampled_from([0.0, 0.1, 0.5]),
    seed=st.integers(0, 2**32 - 1),
)
def test_each_numeric_method_is_within_its_bound_and_keeps_the_exact_verdict(
    shape: str, n: int, m: int, shift: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    x = SHAPES[shape](rng, n)
    y = SHAPES[shape](rng, m)
    y = y + shift * np.nanstd(x) if np.isfinite(np.nanstd(x)) else y
    b, c = profile(x), profile(y)
    truth = exact_numeric(x, y, b)
    for name in available_methods("numeric"):
        method = get_method(name)
        got = method(b, c)
        want = truth[name]
        if got.error_bound is None or math.isinf(got.error_bound):
            continue
        # float round-off on top of the bound
        slack = got.error_bound + 1e-9 * max(1.0, abs(want))
        assert abs(got.value - want) <= slack, (name, shape, n, m, got.value, want, got.error_bound)
        threshold = method.default_threshold
        if abs(want - threshold) > got.error_bound:
            assert method.drifted(got.value) == method.drifted(want), (name, got.value, want)
