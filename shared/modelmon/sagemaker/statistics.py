"""``statistics.json``: SageMaker Model Monitor's per-feature statistics (SPEC.md §2.1).

The models read real SageMaker files (unknown keys are kept, so a file round-trips) and
write files with the same keys and types: counts in KLL buckets are floats, ``num_present``
and ``num_missing`` are integers, ``version`` is ``0.0``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

#: SageMaker writes the first four; "Boolean" (a Deequ type) is accepted when reading.
InferredType = Literal["Integral", "Fractional", "String", "Unknown", "Boolean"]


class _SmModel(BaseModel):
    """A SageMaker JSON object: extra keys are kept so files round-trip unchanged."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def to_dict(self) -> dict[str, Any]:
        """The object as SageMaker writes it: JSON types, unset optional keys left out."""
        return self.model_dump(mode="json", exclude_none=True)


class Common(_SmModel):
    num_present: int = 0
    num_missing: int = 0


class KllBucket(_SmModel):
    lower_bound: float
    upper_bound: float
    count: float


class KllParameters(_SmModel):
    c: float = 0.64
    k: float = 2048.0


class KllSketch(_SmModel):
    parameters: KllParameters = Field(default_factory=KllParameters)
    data: list[list[float]] = Field(default_factory=list)


class Kll(_SmModel):
    buckets: list[KllBucket] = Field(default_factory=list)
    sketch: KllSketch | None = None


class NumericDistribution(_SmModel):
    kll: Kll | None = None


class NumericalStatistics(_SmModel):
    common: Common = Field(default_factory=Common)
    mean: float | None = None
    sum: float | None = None
    std_dev: float | None = None
    min: float | None = None
    max: float | None = None
    distribution: NumericDistribution | None = None

    def buckets(self) -> list[KllBucket]:
        kll = self.distribution.kll if self.distribution else None
        return kll.buckets if kll else []


class CategoricalBucket(_SmModel):
    value: str
    count: int


class Categorical(_SmModel):
    buckets: list[CategoricalBucket] = Field(default_factory=list)


class StringDistribution(_SmModel):
    categorical: Categorical | None = None


class StringStatistics(_SmModel):
    common: Common = Field(default_factory=Common)
    distinct_count: float | None = None
    distribution: StringDistribution | None = None

    def buckets(self) -> list[CategoricalBucket]:
        cat = self.distribution.categorical if self.distribution else None
        return cat.buckets if cat else []


class FeatureStatistics(_SmModel):
    name: str
    inferred_type: InferredType
    numerical_statistics: NumericalStatistics | None = None
    string_statistics: StringStatistics | None = None

    @property
    def common(self) -> Common:
        stats = self.numerical_statistics or self.string_statistics
        return stats.common if stats else Common()

    @property
    def is_numeric(self) -> bool:
        return self.numerical_statistics is not None


class Dataset(_SmModel):
    item_count: int = 0


class Statistics(_SmModel):
    """The whole ``statistics.json``."""

    version: float = 0.0
    dataset: Dataset = Field(default_factory=Dataset)
    features: list[FeatureStatistics] = Field(default_factory=list)

    def feature(self, name: str) -> FeatureStatistics | None:
        return next((f for f in self.features if f.name == name), None)
