"""statistics.json from a DatasetProfile, and constraints.json suggested from statistics.

Suggestion rules (SageMaker's, SPEC.md §2.2, with the cut-offs SageMaker leaves undocumented
taken from Deequ, the library SageMaker's container is built on):
- ``completeness``: the observed share of rows with a value.
- ``num_constraints.is_non_negative``: ``min >= 0`` (numeric features).
- ``string_constraints.domains``: every observed value, for a String feature with at most
  ``DOMAIN_MAX_DISTINCT`` (120, Deequ's low-cardinality limit) distinct values of which at most
  10% were seen only once (Deequ's CategoricalRangeRule), and whose counts are exact.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from modelmon.profile import KLL_K, CategoricalProfile, DatasetProfile, NumericProfile
from modelmon.sagemaker.constraints import (
    Constraints,
    FeatureConstraints,
    MonitoringConfig,
    NumConstraints,
    StringConstraints,
)
from modelmon.sagemaker.statistics import (
    Categorical,
    CategoricalBucket,
    Common,
    Dataset,
    FeatureStatistics,
    Kll,
    KllBucket,
    KllParameters,
    KllSketch,
    NumericalStatistics,
    NumericDistribution,
    Statistics,
    StringDistribution,
    StringStatistics,
)

#: Deequ's shrinking factor, written as the KLL ``c`` parameter (SageMaker writes 0.64 too).
KLL_C = 0.64
HISTOGRAM_BUCKETS = 10
#: Categorical buckets written per String feature (the most frequent values).
MAX_CATEGORICAL_BUCKETS = 1000
DOMAIN_MAX_DISTINCT = 120
DOMAIN_MAX_UNIQUE_RATIO = 0.1


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def numeric_statistics(profile: NumericProfile) -> NumericalStatistics:
    common = Common(num_present=profile.present, num_missing=profile.missing)
    if not profile.count:
        return NumericalStatistics(common=common)
    buckets = [
        # KLL weights are whole numbers: round away float noise from cumulative sums
        KllBucket(lower_bound=b.lower_bound, upper_bound=b.upper_bound, count=float(round(b.count)))
        for b in profile.histogram(HISTOGRAM_BUCKETS)
    ]
    sketch = KllSketch(
        parameters=KllParameters(c=KLL_C, k=float(KLL_K)), data=profile.sketch_items()
    )
    return NumericalStatistics(
        common=common,
        mean=_finite(profile.mean),
        sum=_finite(profile.sum),
        std_dev=_finite(profile.std),
        min=_finite(profile.min),
        max=_finite(profile.max),
        distribution=NumericDistribution(kll=Kll(buckets=buckets, sketch=sketch)),
    )


def string_statistics(profile: CategoricalProfile) -> StringStatistics:
    buckets = [
        CategoricalBucket(value=value, count=count)
        for value, count in profile.top(MAX_CATEGORICAL_BUCKETS)
    ]
    return StringStatistics(
        common=Common(num_present=profile.present, num_missing=profile.missing),
        distinct_count=float(profile.distinct_estimate),
        distribution=StringDistribution(categorical=Categorical(buckets=buckets)),
    )


def feature_statistics(
    name: str, profile: NumericProfile | CategoricalProfile
) -> FeatureStatistics:
    if isinstance(profile, NumericProfile):
        return FeatureStatistics(
            name=name,
            inferred_type=profile.inferred_type,
            numerical_statistics=numeric_statistics(profile),
        )
    return FeatureStatistics(
        name=name,
        inferred_type=profile.inferred_type,
        string_statistics=string_statistics(profile),
    )


def ordered_names(profile: DatasetProfile, order: Sequence[str] | None) -> list[str]:
    """Features in ``order`` first (e.g. the data's column order), then any others sorted."""
    given = [n for n in (order or ()) if n in profile.features]
    return given + sorted(set(profile.features) - set(given))


def build_statistics(profile: DatasetProfile, order: Sequence[str] | None = None) -> Statistics:
    """SageMaker's statistics.json for a profile."""
    return Statistics(
        version=0.0,
        dataset=Dataset(item_count=profile.row_count),
        features=[
            feature_statistics(name, profile.features[name])
            for name in ordered_names(profile, order)
        ],
    )


def _completeness(stats: FeatureStatistics, item_count: int) -> float:
    common = stats.common
    rows = common.num_present + common.num_missing or item_count
    return common.num_present / rows if rows else 1.0


def suggest_domain(stats: StringStatistics) -> list[str] | None:
    """The values to allow for a low-cardinality String feature (None: too many to list)."""
    buckets = stats.buckets()
    if not buckets or len(buckets) > DOMAIN_MAX_DISTINCT:
        return None
    if sum(b.count for b in buckets) != stats.common.num_present:
        return None  # counts are not exact: some values are missing from the buckets
    if (stats.distinct_count or len(buckets)) > len(buckets):
        return None
    unique = sum(1 for b in buckets if b.count == 1)
    if unique > DOMAIN_MAX_UNIQUE_RATIO * len(buckets):
        return None
    return sorted(b.value for b in buckets)


def suggest_feature(stats: FeatureStatistics, item_count: int) -> FeatureConstraints:
    feature = FeatureConstraints(
        name=stats.name,
        inferred_type=stats.inferred_type,
        completeness=_completeness(stats, item_count),
    )
    num = stats.numerical_statistics
    if num is not None:
        minimum = num.min
        feature.num_constraints = NumConstraints(is_non_negative=minimum is None or minimum >= 0)
    elif stats.string_statistics is not None:
        domain = suggest_domain(stats.string_statistics)
        if domain is not None:
            feature.string_constraints = StringConstraints(domains=domain)
    return feature


def suggest_constraints(statistics: Statistics) -> Constraints:
    """SageMaker's suggested constraints.json for baseline statistics, with its defaults."""
    item_count = statistics.dataset.item_count
    return Constraints(
        version=0.0,
        features=[suggest_feature(f, item_count) for f in statistics.features],
        monitoring_config=MonitoringConfig(),
    )
