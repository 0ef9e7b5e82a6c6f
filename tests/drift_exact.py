"""The exact value of every numeric drift distance on the raw data (PSI and JS on the
sketch's own bins): the oracle the bound tests (tests/unit/test_drift_bounds.py) and the
accuracy benchmark (bench/bench_statistics.py) hold the sketch-derived values against."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats
from scipy.special import chdtri

from modelmon.drift.numeric import JS_ALPHA, bin_edges, js_divergence, psi_of


def exact_numeric(x: np.ndarray, y: np.ndarray, b: Any) -> dict[str, float]:
    """Each numeric method's value from the finite values of ``x`` (baseline) and ``y``
    (window), the bins taken from the baseline profile ``b`` as the methods do."""
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    edges = bin_edges(b, 10)
    sx, sy = np.sort(x), np.sort(y)

    def shares(s: np.ndarray) -> np.ndarray:
        cdf = np.searchsorted(s, edges, side="right") / len(s)
        return np.maximum(np.diff(np.concatenate(([0.0], cdf, [1.0]))), 1e-3)

    p, q = shares(sx), shares(sy)
    ks = float(stats.ks_2samp(x, y).statistic)
    margin = 1.8 * math.sqrt((len(x) + len(y)) / (len(x) * len(y)))
    jsd = max(js_divergence(p, q), 0.0)
    js_margin = float(chdtri(max(len(edges), 1), JS_ALPHA)) * (1 / len(x) + 1 / len(y))
    js_margin /= 8 * math.log(2)
    return {
        "linf_simple": ks,
        "linf_robust": max(0.0, ks - margin),
        "psi": psi_of(p, q),
        "jensen_shannon": math.sqrt(jsd),
        "jensen_shannon_robust": math.sqrt(max(0.0, jsd - js_margin)),
        "wasserstein": float(stats.wasserstein_distance(x, y) / x.std()),
        "mean_shift": float(abs(y.mean() - x.mean()) / x.std()),
    }
