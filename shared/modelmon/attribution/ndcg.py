"""Clarify's NDCG of a live feature ranking against the baseline ranking (pure).

SageMaker Developer Guide ``clarify-model-monitor-feature-attribution-drift.md``: F is the
features sorted by baseline attribution, F' sorted by live attribution, a(f) the baseline
attribution of f; DCG = sum_i a(F'_i) / log2(i + 1), iDCG = sum_i a(F_i) / log2(i + 1) and
NDCG = DCG / iDCG. Only the live *order* matters, never its scale.

Ties in the live attributions are handled as scikit-learn's ``ndcg_score`` does (each tied
position gets the mean gain of its tie group): the result does not depend on an arbitrary
tie-break, and it equals ``ndcg_score([a], [live])`` for every input. A feature missing from
one side counts as attribution 0 there. Baseline attributions are magnitudes (Clarify's
global SHAP values are mean |SHAP|); a negative one counts by its absolute value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def _discounts(n: int) -> FloatArray:
    return 1.0 / np.log2(np.arange(n, dtype=np.float64) + 2.0)


def tie_averaged_dcg(gains: FloatArray, scores: FloatArray) -> float:
    """DCG of ``gains`` ranked by ``scores`` (descending), tied scores sharing their mean gain."""
    if not len(gains):
        return 0.0
    order = np.argsort(-scores, kind="stable")
    ranked_scores, ranked_gains = scores[order], gains[order]
    _, starts, counts = np.unique(-ranked_scores, return_index=True, return_counts=True)
    discounts = _discounts(len(gains))
    group_gain = np.add.reduceat(ranked_gains, starts) / counts
    group_discount = np.add.reduceat(discounts, starts)
    return float(np.dot(group_gain, group_discount))


def ideal_dcg(gains: FloatArray) -> float:
    """DCG of the gains in their own (ideal) order."""
    return float(np.dot(np.sort(gains)[::-1], _discounts(len(gains))))


def ndcg(baseline: Mapping[str, float], live: Mapping[str, float]) -> float:
    """Clarify's NDCG of ``live``'s ranking against ``baseline``'s; NaN when every baseline
    attribution is 0 (no ranking to compare against) or a value is not finite."""
    features = sorted(set(baseline) | set(live))
    gains = np.array([abs(float(baseline.get(f, 0.0))) for f in features], dtype=np.float64)
    scores = np.array([float(live.get(f, 0.0)) for f in features], dtype=np.float64)
    if not (np.isfinite(gains).all() and np.isfinite(scores).all()):
        return math.nan
    best = ideal_dcg(gains)
    if best <= 0.0:
        return math.nan
    return min(1.0, tie_averaged_dcg(gains, scores) / best)
