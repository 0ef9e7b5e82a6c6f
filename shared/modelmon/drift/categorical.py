"""Categorical drift: L-infinity of category shares, Deequ's chi-square, new-category rate."""

from __future__ import annotations

import heapq
import math
from typing import Any

import numpy as np

from modelmon.drift.new_categories import estimate_new_share
from modelmon.drift.numeric import c_alpha_of, robust_correction
from modelmon.drift.results import CategoricalDistribution, DriftResult, undefined_if_empty

# Deequ's regrouping thresholds for the chi-square test (SPEC.md section 3.1).
COCHRAN_MIN_EXPECTED = 10  # two categories: every expected count >= 10
YATES_MIN_EXPECTED = 5  # more: at most 20% of expected counts below 5
YATES_MAX_SHARE_BELOW = 0.2


def linf_categorical(
    b: CategoricalDistribution, c: CategoricalDistribution, **_: Any
) -> DriftResult:
    """max over categories of |share_baseline - share_current| (shares of non-missing values)."""
    if (undefined := undefined_if_empty(b, c)) is not None:
        return undefined
    tb, tc = b.table, c.table
    hashes = np.union1d(tb.hashes, tc.hashes)
    diff = np.abs(tb.lookup_hashes(hashes) / b.count - tc.lookup_hashes(hashes) / c.count)
    i = int(np.argmax(diff)) if len(hashes) else 0
    worst = float(diff[i]) if len(hashes) else 0.0
    category = (tb.key_of(hashes[i]) or tc.key_of(hashes[i])) if len(hashes) else None
    details = {"n": b.count, "m": c.count, "category": category}
    return DriftResult(worst, b.frequency_error + c.frequency_error, details)


def linf_categorical_robust(
    b: CategoricalDistribution,
    c: CategoricalDistribution,
    *,
    alpha: float | None = None,
    c_alpha: float | None = None,
    linf: DriftResult | None = None,
    **_: Any,
) -> DriftResult:
    """SageMaker's LInfinity for categoricals (Deequ): max(0, linf - c(alpha) sqrt((n+m)/(nm))).
    ``linf``: linf_categorical's result on the same pair, when the caller has it."""
    simple = linf if linf is not None else linf_categorical(b, c)
    return robust_correction(simple, b.count, c.count, c_alpha_of(alpha, c_alpha))


def regroup(
    observed: dict[str, float], expected: dict[str, float]
) -> tuple[list[float], list[float]]:
    """Deequ's regrouping: while too many expected counts are small, fold the smallest category
    into the next smallest (ties broken by name, so the result is deterministic). A heap keeps
    it O(k log k) for thousands of categories."""
    obs = dict(observed)
    heap = [(v, k) for k, v in expected.items()]
    heapq.heapify(heap)
    small = sum(1 for v, _ in heap if v < YATES_MIN_EXPECTED)
    while len(heap) >= 2:
        if len(heap) == 2:
            if all(v >= COCHRAN_MIN_EXPECTED for v, _ in heap):
                break
        elif small <= int(YATES_MAX_SHARE_BELOW * len(heap)):
            break
        exp_a, key_a = heapq.heappop(heap)
        exp_b, key_b = heapq.heappop(heap)
        merged = exp_a + exp_b
        small -= (exp_a < YATES_MIN_EXPECTED) + (exp_b < YATES_MIN_EXPECTED)
        small += merged < YATES_MIN_EXPECTED
        obs[key_b] = obs.get(key_b, 0.0) + obs.pop(key_a, 0.0)
        heapq.heappush(heap, (merged, key_b))
    keys = sorted(k for _, k in heap)
    exp = {k: v for v, k in heap}
    return [obs.get(k, 0.0) for k in keys], [exp[k] for k in keys]


def chi_square(b: CategoricalDistribution, c: CategoricalDistribution, **_: Any) -> DriftResult:
    """p-value of Pearson's goodness-of-fit test of the current counts against the baseline
    shares (Deequ/SageMaker "ChiSquared"): current categories outside the baseline are left out,
    expected counts are the baseline shares times the current total, small categories regrouped.
    A small p-value means drift. NaN when fewer than two categories remain."""
    if (undefined := undefined_if_empty(b, c)) is not None:
        return undefined
    tb, tc = b.table, c.table
    keep = tb.counts > 0
    keys, base = tb.keys[keep], tb.counts[keep]
    sample = tc.lookup_hashes(tb.hashes[keep])  # current categories outside the baseline: out
    sample_sum, base_sum = float(sample.sum()), float(base.sum())
    if sample_sum == 0 or base_sum == 0:
        return DriftResult.undefined("no current value falls in a baseline category")
    exp_arr = base / base_sum * sample_sum
    few_small = (exp_arr < YATES_MIN_EXPECTED).sum() <= int(YATES_MAX_SHARE_BELOW * len(keys))
    if len(keys) > 2 and few_small:
        obs, exp = sample.tolist(), exp_arr.tolist()  # nothing to regroup
    else:
        names = keys.tolist()
        observed = dict(zip(names, sample.tolist(), strict=True))
        expected = dict(zip(names, exp_arr.tolist(), strict=True))
        obs, exp = regroup(observed, expected)
    if len(exp) < 2:
        return DriftResult.undefined("fewer than two categories remain after regrouping")
    o, e = np.asarray(obs), np.asarray(exp)
    statistic = float(np.sum((o - e) ** 2 / e))
    dof = len(e) - 1
    from scipy.special import chdtrc  # here: importing scipy.special costs ~0.6 s at start

    p_value = float(chdtrc(dof, statistic))
    details = {"statistic": statistic, "dof": dof, "exact_counts": b.is_exact and c.is_exact}
    return DriftResult(p_value, None, details)


def new_category_rate(
    b: CategoricalDistribution, c: CategoricalDistribution, **_: Any
) -> DriftResult:
    """Share of current values whose category the baseline never saw (see new_categories.py
    for the estimate and its bound at any number of categories)."""
    if (undefined := undefined_if_empty(b, c)) is not None:
        return undefined
    estimate = estimate_new_share(b, c)
    if estimate is None:
        return DriftResult.undefined("the baseline profile has no category sample (format 1)")
    details = {
        "new_categories": estimate.categories,
        "examples": estimate.examples,
        "sampled_share": estimate.sample_rate,
        "expected_unseen": estimate.expected_unseen,
    }
    return DriftResult(estimate.share, estimate.bound, details)


def new_category_excess(
    b: CategoricalDistribution,
    c: CategoricalDistribution,
    *,
    new_rate: DriftResult | None = None,
    **_: Any,
) -> DriftResult:
    """new_category_rate less what an unchanged distribution would show, floored at 0:
    rate - g - 3 sqrt(rate (1 - rate) / m + g (1 - g) / n), g the baseline's unseen mass
    (Good-Turing: its share of values in categories seen once), n and m the two counts. A long
    tail that did not change reads 0; 5% of values in new categories reads about 0.04 at 10k.
    ``new_rate``: new_category_rate's result on the same pair, when the caller has it."""
    rate = new_rate if new_rate is not None else new_category_rate(b, c)
    unseen = rate.details.get("expected_unseen")
    if math.isnan(rate.value) or unseen is None:
        return rate
    g, r = float(unseen), rate.value
    margin = 3 * math.sqrt(r * (1 - r) / c.count + g * (1 - g) / b.count)
    value = max(0.0, r - g - margin)
    return DriftResult(value, rate.error_bound, {**rate.details, "rate": r, "margin": margin})
