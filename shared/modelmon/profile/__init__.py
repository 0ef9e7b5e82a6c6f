"""Mergeable feature profiles built from Apache DataSketches (pure: numpy + datasketches only).

A ``ProfileTracker`` takes batches of whole columns; ``snapshot()`` gives an immutable
``DatasetProfile`` that merges with others (per partition, per window) and serializes to a
versioned blob. docs/statistics.md lists what each profile holds and the error bounds.
"""

from __future__ import annotations

from modelmon.events import FeatureKind, InferredType
from modelmon.profile.categorical import CategoricalProfile
from modelmon.profile.constants import (
    DISTINCT_RELATIVE_ERROR,
    FREQUENT_EPSILON,
    FREQUENT_LG_MAX_K,
    HLL_LG_K,
    KLL_K,
    KLL_RANK_ERROR,
    KS_ERROR_BOUND,
)
from modelmon.profile.dataset import DatasetProfile, FeatureProfile, ProfileTracker
from modelmon.profile.distribution import Bucket, SortedView
from modelmon.profile.moments import Moments
from modelmon.profile.numeric import NumericProfile
from modelmon.profile.sagemaker import CategoricalCounts, WeightedSample

__all__ = [
    "DISTINCT_RELATIVE_ERROR",
    "FREQUENT_EPSILON",
    "FREQUENT_LG_MAX_K",
    "HLL_LG_K",
    "KLL_K",
    "KLL_RANK_ERROR",
    "KS_ERROR_BOUND",
    "Bucket",
    "CategoricalCounts",
    "CategoricalProfile",
    "DatasetProfile",
    "FeatureKind",
    "FeatureProfile",
    "InferredType",
    "Moments",
    "NumericProfile",
    "ProfileTracker",
    "SortedView",
    "WeightedSample",
]
