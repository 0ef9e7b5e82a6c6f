"""Every sketch-derived figure against the exact value computed from the raw data."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from scipy import stats

from modelmon.drift import get_method
from modelmon.drift.numeric import bin_edges, js_divergence, psi_of
from modelmon.profile import (
    DISTINCT_RELATIVE_ERROR,
    KS_ERROR_BOUND,
    CategoricalProfile,
    NumericProfile,
    ProfileTracker,
)

Gen = Callable[[np.random.Generator, float, int], np.ndarray]
DISTRIBUTIONS: dict[str, Gen] = {
    "normal": lambda rng, shift, n: rng.normal(shift, 1.0, n),
    "lognormal": lambda rng, shift, n: rng.lognormal(shift, 1.0, n),
    "uniform": lambda rng, shift, n: rng.uniform(shift, 1.0 + shift, n),
}
# Stated tolerances for the binned distances (docs/statistics.md).
PSI_TOLERANCE = 0.02  # absolute, or relative when PSI > 1 (far past any threshold)
JS_TOLERANCE = 0.01
WASSERSTEIN_TOLERANCE = 0.02  # in baseline std units; heavy tails cost the most


def numeric_profile(values: np.ndarray, batch: int = 10_000) -> NumericProfile:
    tracker = ProfileTracker({"x": "numeric"})
    for i in range(0, len(values), batch):
        tracker.update({"x": values[i : i + batch]})
    feature = tracker.snapshot().features["x"]
    assert isinstance(feature, NumericProfile)
    return feature


def pair(dist: str, n: int, m: int, shift: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return DISTRIBUTIONS[dist](rng, 0.0, n), DISTRIBUTIONS[dist](rng, shift, m)


def test_stated_ks_bound_meets_the_target() -> None:
    assert KS_ERROR_BOUND <= 0.01


@pytest.mark.parametrize("dist", sorted(DISTRIBUTIONS))
@pytest.mark.parametrize(("n", "m"), [(1_000, 700), (200_000, 50_000)])
@pytest.mark.parametrize("shift", [0.0, 0.05, 0.5])
def test_linf_from_sketches_matches_scipy_ks(dist: str, n: int, m: int, shift: float) -> None:
    x, y = pair(dist, n, m, shift, seed=n + int(shift * 100))
    b, c = numeric_profile(x), numeric_profile(y)
    exact = stats.ks_2samp(x, y).statistic
    simple = get_method("linf_simple")(b, c)
    assert simple.error_bound is not None
    assert abs(simple.value - exact) <= simple.error_bound + 1e-12
    assert simple.error_bound <= KS_ERROR_BOUND
    if n <= 2_000:  # the sketch still holds every value: exact
        assert simple.error_bound == 0.0
        assert simple.value == pytest.approx(exact, abs=1e-12)
    robust = get_method("linf_robust")(b, c)
    margin = 1.8 * np.sqrt((n + m) / (n * m))
    assert abs(robust.value - max(0.0, exact - margin)) <= KS_ERROR_BOUND


@pytest.mark.parametrize("dist", sorted(DISTRIBUTIONS))
def test_counts_moments_min_max_exact(dist: str) -> None:
    x, _ = pair(dist, 123_457, 1, 0.0, seed=3)
    p = numeric_profile(x, batch=9_999)
    assert p.count == len(x) and p.missing == 0 and p.type_mismatches == 0
    assert p.min == x.min() and p.max == x.max()
    assert p.mean == pytest.approx(x.mean(), rel=1e-12)
    assert p.sum == pytest.approx(x.sum(), rel=1e-12)
    assert p.variance == pytest.approx(x.var(), rel=1e-10)  # population variance
    assert p.std == pytest.approx(x.std(), rel=1e-10)


@pytest.mark.parametrize("dist", sorted(DISTRIBUTIONS))
def test_quantiles_and_cdf_within_rank_error(dist: str) -> None:
    x, _ = pair(dist, 150_000, 1, 0.0, seed=11)
    p = numeric_profile(x)
    s = np.sort(x)
    qs = np.linspace(0.01, 0.99, 50)
    for q, v in zip(qs, p.quantiles(qs), strict=True):
        true_rank = np.searchsorted(s, v, side="right") / len(s)
        assert abs(true_rank - q) <= p.rank_error + 1 / len(s)
    points = np.quantile(x, qs)
    exact_cdf = np.searchsorted(s, points, side="right") / len(s)
    assert np.max(np.abs(p.cdf(points) - exact_cdf)) <= p.rank_error


def test_histogram_counts_match_numpy_when_exact_and_within_bound_otherwise() -> None:
    rng = np.random.default_rng(5)
    small = rng.integers(0, 50, 800).astype(float)
    p = numeric_profile(small)
    edges = np.linspace(small.min(), small.max(), 11)
    exact, _ = np.histogram(small, bins=edges)  # numpy: [lo, hi), last closed, like Deequ
    assert [b.count for b in p.histogram()] == exact.astype(float).tolist()
    assert [b.lower_bound for b in p.histogram()] == edges[:-1].tolist()
    big = rng.lognormal(0, 1, 150_000)
    q = numeric_profile(big)
    exact_big, _ = np.histogram(big, bins=np.linspace(big.min(), big.max(), 11))
    got = np.array([b.count for b in q.histogram()])
    assert got.sum() == len(big)
    assert np.max(np.abs(got - exact_big)) <= 2 * q.rank_error * len(big)


def exact_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    s = np.sort(values)
    cdf = np.searchsorted(s, edges, side="right") / len(s)
    return np.diff(np.concatenate(([0.0], cdf, [1.0])))


@pytest.mark.parametrize("dist", sorted(DISTRIBUTIONS))
@pytest.mark.parametrize("shift", [0.0, 0.1, 0.5])
def test_psi_and_js_within_tolerance_of_exact_binned(dist: str, shift: float) -> None:
    x, y = pair(dist, 200_000, 40_000, shift, seed=21)
    b, c = numeric_profile(x), numeric_profile(y)
    edges = bin_edges(b, 10)  # the same bins, filled from the raw data
    p = np.maximum(exact_shares(x, edges), 1e-3)
    q = np.maximum(exact_shares(y, edges), 1e-3)
    got_psi = get_method("psi")(b, c)
    assert got_psi.error_bound is not None
    exact_psi = psi_of(p, q)
    assert abs(got_psi.value - exact_psi) <= got_psi.error_bound + 1e-12
    assert abs(got_psi.value - exact_psi) <= max(PSI_TOLERANCE, PSI_TOLERANCE * exact_psi)
    got_js = get_method("jensen_shannon")(b, c)
    assert got_js.error_bound is not None
    exact_js = np.sqrt(js_divergence(p, q))
    assert abs(got_js.value - exact_js) <= got_js.error_bound + 1e-12
    assert abs(got_js.value - exact_js) <= JS_TOLERANCE


@pytest.mark.parametrize("dist", sorted(DISTRIBUTIONS))
def test_wasserstein_and_mean_shift_against_scipy(dist: str) -> None:
    x, y = pair(dist, 100_000, 30_000, 0.2, seed=31)
    b, c = numeric_profile(x), numeric_profile(y)
    w = get_method("wasserstein")(b, c)
    exact = stats.wasserstein_distance(x, y) / x.std()
    assert w.error_bound is not None and abs(w.value - exact) <= w.error_bound
    assert abs(w.value - exact) <= WASSERSTEIN_TOLERANCE
    shift = get_method("mean_shift")(b, c)
    assert shift.value == pytest.approx(abs(y.mean() - x.mean()) / x.std(), rel=1e-9)
    small_x, small_y = x[:1000], y[:900]
    exact_small = stats.wasserstein_distance(small_x, small_y) / small_x.std()
    w_small = get_method("wasserstein")(numeric_profile(small_x), numeric_profile(small_y))
    assert w_small.value == pytest.approx(exact_small, rel=1e-9)


def categorical_profile(values: np.ndarray, batch: int = 5_000) -> CategoricalProfile:
    tracker = ProfileTracker({"c": "categorical"})
    for i in range(0, len(values), batch):
        tracker.update({"c": values[i : i + batch]})
    feature = tracker.snapshot().features["c"]
    assert isinstance(feature, CategoricalProfile)
    return feature


def zipf_categories(rng: np.random.Generator, n: int, cardinality: int, a: float) -> np.ndarray:
    ranks = np.arange(1, cardinality + 1)
    weights = ranks ** (-a)
    return rng.choice([f"v{i}" for i in ranks], size=n, p=weights / weights.sum())


def test_categorical_counts_linf_and_chi_square_exact_for_low_cardinality() -> None:
    rng = np.random.default_rng(41)
    x = zipf_categories(rng, 60_000, 30, 1.1)
    y = zipf_categories(rng, 20_000, 32, 1.0)
    b, c = categorical_profile(x), categorical_profile(y)
    assert b.is_exact and c.is_exact and b.maximum_error == 0
    keys, counts = np.unique(x, return_counts=True)
    assert b.counts() == dict(zip(keys.tolist(), counts.tolist(), strict=True))
    assert b.distinct_estimate == len(keys)
    fx = dict(zip(keys.tolist(), (counts / len(x)).tolist(), strict=True))
    ky, cy = np.unique(y, return_counts=True)
    fy = dict(zip(ky.tolist(), (cy / len(y)).tolist(), strict=True))
    exact_linf = max(abs(fx.get(k, 0) - fy.get(k, 0)) for k in fx.keys() | fy.keys())
    assert get_method("linf_categorical")(b, c).value == pytest.approx(exact_linf, abs=1e-15)
    # chi-square: no small categories here, so Deequ's regrouping does nothing and scipy agrees.
    observed = np.array([fy.get(k, 0) * len(y) for k in keys.tolist()])
    expected = counts / counts.sum() * observed.sum()
    assert expected.min() >= 5
    want = stats.chisquare(observed, expected)
    got = get_method("chi_square")(b, c)
    assert got.value == pytest.approx(want.pvalue, rel=1e-9, abs=1e-300)
    assert got.details["statistic"] == pytest.approx(want.statistic, rel=1e-12)
    new = get_method("new_category_rate")(b, c)
    assert new.value == pytest.approx(sum(fy[k] for k in fy if k not in fx), abs=1e-15)
    assert new.error_bound == 0.0


def test_chi_square_matches_chi2_contingency_free_test_of_shares() -> None:
    base = {"a": 500, "b": 300, "c": 200}
    cur = {"a": 260, "b": 140, "c": 100}
    b = categorical_profile(np.repeat(list(base), list(base.values())))
    c = categorical_profile(np.repeat(list(cur), list(cur.values())))
    observed = np.array(list(cur.values()), dtype=float)
    expected = np.array(list(base.values())) / 1000 * observed.sum()
    want = stats.chisquare(observed, expected)
    assert get_method("chi_square")(b, c).value == pytest.approx(want.pvalue, rel=1e-12)


def test_high_cardinality_frequencies_and_distinct_within_bounds() -> None:
    rng = np.random.default_rng(43)
    x = zipf_categories(rng, 150_000, 50_000, 1.05)
    p = categorical_profile(x, batch=10_000)
    assert not p.is_exact
    keys, counts = np.unique(x, return_counts=True)
    truth = dict(zip(keys.tolist(), counts.tolist(), strict=True))
    estimates = p.counts()
    for key, est in list(estimates.items())[:2000]:
        assert abs(est - truth[key]) <= p.maximum_error
    assert p.maximum_error <= 3.5 / 2**12 * len(x)
    for key, _ in sorted(truth.items(), key=lambda kv: -kv[1])[:20]:  # heavy hitters tracked
        assert key in estimates
    assert abs(p.distinct_estimate - len(keys)) <= DISTINCT_RELATIVE_ERROR * len(keys)
    y = zipf_categories(rng, 60_000, 50_000, 1.05)
    c = categorical_profile(y, batch=10_000)
    ky, cy = np.unique(y, return_counts=True)
    fx = {k: v / len(x) for k, v in truth.items()}
    fy = dict(zip(ky.tolist(), (cy / len(y)).tolist(), strict=True))
    exact = max(abs(fx.get(k, 0) - fy.get(k, 0)) for k in fx.keys() | fy.keys())
    got = get_method("linf_categorical")(p, c)
    assert got.error_bound is not None and abs(got.value - exact) <= got.error_bound
