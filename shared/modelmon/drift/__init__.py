"""Drift distances between a baseline and a current feature profile, from sketches only.

Every method is a pure function ``(baseline, current, **params) -> DriftResult`` listed in an
explicit registry with the feature kinds it accepts, its default threshold and whether a larger
value means more drift (a distance) or less (a p-value). Either side may be a modelmon profile or
a baseline read from SageMaker's statistics.json (``WeightedSample`` / ``CategoricalCounts``).
"""

from __future__ import annotations

from modelmon.drift.registry import (
    METHODS,
    DriftMethod,
    available_methods,
    evaluate,
    get_method,
    sagemaker_method,
)
from modelmon.drift.results import DriftResult

__all__ = [
    "METHODS",
    "DriftMethod",
    "DriftResult",
    "available_methods",
    "evaluate",
    "get_method",
    "sagemaker_method",
]
