"""Categorical drift: L-infinity of category shares, Deequ's chi-square, new-category rate."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.special import chdtrc

from modelmon.drift.numeric import c_alpha_of, robust_margin
from modelmon.drift.results import CategoricalDistribution, DriftResult

# Deequ's regrouping thresholds for the chi-square test (SPEC.md section 3.1).
COCHRAN_MIN_EXPECTED = 10  # two categories: every expected count >= 10
YATES_MIN_EXPECTED = 5  # more: at most 20% of expected counts below 5
YATES_MAX_SHARE_BELOW = 0.2


def _empty(b: CategoricalDistribution, c: CategoricalDistribution) -> DriftResult | None:
    if b.count == 0:
        return DriftResult.undefined("the baseline has no categorical values")
    if c.count == 0:
        return DriftResult.undefined("the current data has no categorical values")
    return None


def linf_categorical(
    b: CategoricalDistribution, c: CategoricalDistribution, **_: Any
) -> DriftResult:
    """max over categories of |share_baseline - share_current| (shares of non-missing values)."""
    if (undefined := _empty(b, c)) is not None:
        return undefined
    cb, cc = b.counts(), c.counts()
    worst, at = 0.0, None
    for key in cb.keys() | cc.keys():
        diff = abs(cb.get(key, 0) / b.count - cc.get(key, 0) / c.count)
        if diff > worst or (diff == worst and at is not None and key < at):
            worst, at = diff, key
    details = {"n": b.count, "m": c.count, "category": at}
    return DriftResult(worst, b.frequency_error + c.frequency_error, details)


def linf_categorical_robust(
    b: CategoricalDistribution,
    c: CategoricalDistribution,
    *,
    alpha: float | None = None,
    c_alpha: float | None = None,
    **_: Any,
) -> DriftResult:
    """SageMaker's LInfinity for categoricals (Deequ): max(0, linf - c(alpha) sqrt((n+m)/(nm)))."""
    simple = linf_categorical(b, c)
    if math.isnan(simple.value):
        return simple
    margin = robust_margin(b.count, c.count, c_alpha_of(alpha, c_alpha))
    value = max(0.0, simple.value - margin)
    return DriftResult(
        value, simple.error_bound, {**simple.details, "linf": simple.value, "margin": margin}
    )


def regroup(
    observed: dict[str, float], expected: dict[str, float]
) -> tuple[list[float], list[float]]:
    """Deequ's regrouping: while too many expected counts are small, fold the smallest category
    into the next smallest (ties broken by name, so the result is deterministic)."""
    obs, exp = dict(observed), dict(expected)
    while len(exp) >= 2:
        if len(exp) == 2:
            limit, allowed = COCHRAN_MIN_EXPECTED, 0
        else:
            limit, allowed = YATES_MIN_EXPECTED, int(YATES_MAX_SHARE_BELOW * len(exp))
        if sum(1 for v in exp.values() if v < limit) <= allowed:
            break
        smallest = min(exp, key=lambda k: (exp[k], k))
        moved_exp, moved_obs = exp.pop(smallest), obs.pop(smallest, 0.0)
        second = min(exp, key=lambda k: (exp[k], k))
        exp[second] += moved_exp
        obs[second] = obs.get(second, 0.0) + moved_obs
    keys = sorted(exp)
    return [obs.get(k, 0.0) for k in keys], [exp[k] for k in keys]


def chi_square(b: CategoricalDistribution, c: CategoricalDistribution, **_: Any) -> DriftResult:
    """p-value of Pearson's goodness-of-fit test of the current counts against the baseline
    shares (Deequ/SageMaker "ChiSquared"): current categories outside the baseline are left out,
    expected counts are the baseline shares times the current total, small categories regrouped.
    A small p-value means drift. NaN when fewer than two categories remain."""
    if (undefined := _empty(b, c)) is not None:
        return undefined
    cb, cc = b.counts(), c.counts()
    sample_sum = float(sum(v for k, v in cc.items() if k in cb))
    base_sum = float(sum(cb.values()))
    expected = {k: v / base_sum * sample_sum for k, v in cb.items() if v > 0}
    observed = {k: float(v) for k, v in cc.items() if k in expected}
    obs, exp = regroup(observed, expected)
    if len(exp) < 2 or sample_sum == 0:
        return DriftResult.undefined("fewer than two categories remain after regrouping")
    o, e = np.asarray(obs), np.asarray(exp)
    statistic = float(np.sum((o - e) ** 2 / e))
    dof = len(e) - 1
    p_value = float(chdtrc(dof, statistic))
    details = {"statistic": statistic, "dof": dof, "exact_counts": b.is_exact and c.is_exact}
    return DriftResult(p_value, None, details)


def new_category_rate(
    b: CategoricalDistribution, c: CategoricalDistribution, **_: Any
) -> DriftResult:
    """Share of current values whose category never appeared in the baseline."""
    if (undefined := _empty(b, c)) is not None:
        return undefined
    known = b.counts().keys()
    cc = c.counts()
    new = {k: v for k, v in cc.items() if k not in known}
    rate = sum(new.values()) / c.count
    if not b.is_exact:
        bound = None  # the baseline's domain is truncated: the rate is an upper bound
    else:
        untracked = max(0, c.count - sum(cc.values())) / c.count
        bound = untracked + len(new) * c.frequency_error
    examples = sorted(new, key=lambda k: (-new[k], k))[:10]
    return DriftResult(rate, bound, {"new_categories": len(new), "examples": examples})
