"""Sketch sizes and the error bounds they guarantee. Every drift figure's bound derives from these.

The numbers are DataSketches' published a-priori bounds (99% confidence for KLL, 3 standard
deviations for HLL, deterministic for the frequent-items sketch); ``docs/statistics.md``
explains them and the tests hold them against exact values computed from the raw data.
"""

from __future__ import annotations

from typing import Final

from datasketches import hll_sketch, kll_doubles_sketch

#: KLL sketch size for numeric features. k=1024 keeps ~3,000 items (~24 KB) at 1M values.
KLL_K: Final = 1024

#: Normalized rank error of one KLL sketch over *all* ranks at once (DataSketches'
#: "double-sided" PMF/CDF bound, 99% confidence): about 0.0035 for k=1024.
KLL_RANK_ERROR: Final[float] = kll_doubles_sketch.get_normalized_rank_error(KLL_K, True)

#: Bound on |CDF-distance(sketch, sketch) - CDF-distance(exact, exact)|: each side's CDF is off
#: by at most KLL_RANK_ERROR (0 while a sketch holds every value), so the KS/L-inf distance is
#: off by at most their sum: about 0.0071 for k=1024, inside the 0.01 target.
KS_ERROR_BOUND: Final[float] = 2 * KLL_RANK_ERROR

#: Frequent-items map size (log2) for categorical features: up to 0.75 * 2**12 = 3,072 tracked
#: categories. Counts are exact until the sketch first purges (more distinct values than that).
FREQUENT_LG_MAX_K: Final = 12

#: After a purge each count is off by at most this share of the feature's total count
#: (DataSketches: epsilon = 3.5 / 2**lg_max_k, about 0.00085).
FREQUENT_EPSILON: Final[float] = 3.5 / 2**FREQUENT_LG_MAX_K

#: HLL sketch size (log2 of the register count) for the distinct-count estimate.
HLL_LG_K: Final = 12

#: Relative error of the distinct-count estimate at 3 standard deviations (99.7%), merged
#: sketches included: about 4.9% for lg_k=12 (exact while fewer distinct values than ~lg_k allows).
DISTINCT_RELATIVE_ERROR: Final[float] = max(
    abs(hll_sketch.get_rel_err(upper, True, HLL_LG_K, 3)) for upper in (True, False)
)
