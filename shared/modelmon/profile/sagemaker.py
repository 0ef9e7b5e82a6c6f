"""Baselines that came from SageMaker (no modelmon blob): distributions read from statistics.json.

A SageMaker ``numerical_statistics`` entry carries exact moments and either a KLL sketch dump
(``distribution.kll.sketch.data``: compactor levels, level i items weigh 2**i, as Deequ stores
them: the churn example's levels of 283 and 1025 items weigh 283 + 2*1025 = 2333 rows) or only
10 equal-width buckets. ``WeightedSample`` turns either into the same sorted weighted view a
``NumericProfile`` has, so every drift function accepts it on either side.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
from datasketches import kll_doubles_sketch

from modelmon.errors import BaselineError
from modelmon.events import InferredType
from modelmon.profile.categorical import CategoryCountViews
from modelmon.profile.columns import FloatArray
from modelmon.profile.distribution import Bucket, SortedView, view_of_levels

#: Points per bucket when only SageMaker's 10 buckets are known (mass spread evenly inside).
_POINTS_PER_BUCKET = 32


def _number(d: Mapping[str, Any], key: str, default: float = math.nan) -> float:
    value = d.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise BaselineError(f"statistics.json: {key!r} must be a number, got {value!r}")
    try:
        return float(value)
    except ValueError as exc:
        raise BaselineError(f"statistics.json: {key!r} must be a number, got {value!r}") from exc


def _common(stats: Mapping[str, Any]) -> tuple[int, int]:
    common = stats.get("common", {})
    if not isinstance(common, Mapping):
        raise BaselineError("statistics.json: 'common' must be an object")
    return int(_number(common, "num_present", 0)), int(_number(common, "num_missing", 0))


@dataclass(frozen=True, eq=False)
class WeightedSample:
    """A numeric baseline distribution from SageMaker's statistics.json; read-only."""

    count: int
    missing: int
    sum: float
    mean: float
    std: float
    min: float
    max: float
    view: SortedView
    rank_error: float
    inferred_type: InferredType = "Fractional"

    kind: ClassVar[Literal["numeric"]] = "numeric"

    @staticmethod
    def from_sagemaker(
        numerical_statistics: Mapping[str, Any], inferred_type: InferredType = "Fractional"
    ) -> WeightedSample:
        """Build from one feature's ``numerical_statistics`` object."""
        s = numerical_statistics
        present, missing = _common(s)
        kll = (
            s.get("distribution", {}).get("kll", {})
            if isinstance(s.get("distribution"), Mapping)
            else {}
        )
        view, rank_error = _view_from_kll(kll, present)
        return WeightedSample(
            count=present,
            missing=missing,
            sum=_number(s, "sum"),
            mean=_number(s, "mean"),
            std=_number(s, "std_dev"),
            min=_number(s, "min"),
            max=_number(s, "max"),
            view=view,
            rank_error=rank_error,
            inferred_type=inferred_type,
        )

    @property
    def variance(self) -> float:
        return self.std * self.std

    @property
    def present(self) -> int:
        return self.count

    @property
    def completeness(self) -> float:
        rows = self.count + self.missing
        return self.count / rows if rows else math.nan

    def quantiles(self, qs: Sequence[float] | FloatArray) -> FloatArray:
        return self.view.quantiles(np.asarray(qs, dtype=np.float64))

    def cdf(self, points: Sequence[float] | FloatArray) -> FloatArray:
        return self.view.cdf(np.asarray(points, dtype=np.float64))

    def histogram(self, n_buckets: int = 10) -> list[Bucket]:
        if not self.count or self.view.total == 0:
            return []
        hist = self.view.histogram(self.min, self.max, n_buckets)
        scale = self.count / self.view.total
        return [Bucket(b.lower_bound, b.upper_bound, b.count * scale) for b in hist]

    def sketch_items(self) -> list[list[float]]:
        return self.view.levels()


def _view_from_kll(kll: Mapping[str, Any], present: int) -> tuple[SortedView, float]:
    sketch = kll.get("sketch") if isinstance(kll, Mapping) else None
    data = sketch.get("data") if isinstance(sketch, Mapping) else None
    if isinstance(data, list) and data and all(isinstance(lv, list) for lv in data):
        view = view_of_levels(data)
        if view.total > 0:
            k = sketch.get("parameters", {}).get("k", 2048) if isinstance(sketch, Mapping) else 2048
            exact = len(data) == 1
            error = 0.0 if exact else kll_doubles_sketch.get_normalized_rank_error(int(k), True)
            return view, error
    buckets = kll.get("buckets") if isinstance(kll, Mapping) else None
    if isinstance(buckets, list) and buckets:
        return _view_from_buckets(buckets)
    if present:
        raise BaselineError(
            "statistics.json: a numeric feature has neither kll.sketch.data nor kll.buckets; "
            "regenerate the baseline (modelmon baseline create) to compare distributions"
        )
    return SortedView.of(np.empty(0), np.empty(0)), 0.0


def _view_from_buckets(buckets: list[Any]) -> tuple[SortedView, float]:
    """Spread each bucket's count evenly inside it; the CDF is then exact at bucket edges and off
    by at most one bucket's share in between (that share is the stated error)."""
    items, weights = [], []
    for b in buckets:
        if not isinstance(b, Mapping):
            raise BaselineError("statistics.json: kll.buckets entries must be objects")
        lo, hi, n = _number(b, "lower_bound"), _number(b, "upper_bound"), _number(b, "count")
        if n <= 0:
            continue
        offsets = (np.arange(_POINTS_PER_BUCKET) + 1) / _POINTS_PER_BUCKET
        items.append(lo + (hi - lo) * offsets)
        weights.append(np.full(_POINTS_PER_BUCKET, n / _POINTS_PER_BUCKET))
    if not items:
        return SortedView.of(np.empty(0), np.empty(0)), 0.0
    view = SortedView.of(np.concatenate(items), np.concatenate(weights))
    largest = max(float(w.sum()) for w in weights)
    return view, largest / view.total


@dataclass(frozen=True, eq=False)
class CategoricalCounts(CategoryCountViews):
    """A categorical baseline from SageMaker's ``string_statistics`` (exact bucket counts)."""

    count: int
    missing: int
    category_counts: Mapping[str, int]
    distinct_estimate: float
    inferred_type: InferredType = "String"

    kind: ClassVar[Literal["categorical"]] = "categorical"

    @staticmethod
    def from_sagemaker(
        string_statistics: Mapping[str, Any], inferred_type: InferredType = "String"
    ) -> CategoricalCounts:
        present, missing = _common(string_statistics)
        dist = string_statistics.get("distribution", {})
        cat = dist.get("categorical", {}) if isinstance(dist, Mapping) else {}
        buckets = cat.get("buckets", []) if isinstance(cat, Mapping) else []
        counts: dict[str, int] = {}
        for b in buckets if isinstance(buckets, list) else []:
            if not isinstance(b, Mapping) or "value" not in b:
                raise BaselineError("statistics.json: categorical buckets need 'value' and 'count'")
            value = b["value"]
            counts[value if isinstance(value, str) else str(value)] = int(_number(b, "count", 0))
        distinct = _number(string_statistics, "distinct_count", float(len(counts)))
        return CategoricalCounts(present, missing, counts, distinct, inferred_type)

    @property
    def present(self) -> int:
        return self.count

    @property
    def completeness(self) -> float:
        rows = self.count + self.missing
        return self.count / rows if rows else math.nan

    @property
    def maximum_error(self) -> int:
        """Rows SageMaker left out of the buckets (0 when they add up to num_present)."""
        return max(0, self.count - sum(self.category_counts.values()))

    @property
    def _counts(self) -> Mapping[str, int]:
        return self.category_counts
