"""The result of one drift computation, and the protocols both sides of a comparison satisfy."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from modelmon.profile.categorical import CountTable
from modelmon.profile.distribution import SortedView


@dataclass(frozen=True, slots=True)
class DriftResult:
    """``value`` of the method; ``error_bound`` bounds |value - value on the exact data| (None
    when no bound is known, e.g. p-values); ``details`` holds what a report may show."""

    value: float
    error_bound: float | None
    details: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def undefined(reason: str) -> DriftResult:
        """No value can be computed (an empty side): NaN, never a violation by itself."""
        return DriftResult(math.nan, None, {"undefined": reason})


class NumericDistribution(Protocol):
    """What numeric drift needs: NumericProfile and WeightedSample both provide it."""

    @property
    def kind(self) -> Literal["numeric"]: ...
    @property
    def count(self) -> int: ...
    @property
    def mean(self) -> float: ...
    @property
    def std(self) -> float: ...
    @property
    def min(self) -> float: ...
    @property
    def max(self) -> float: ...
    @property
    def rank_error(self) -> float: ...
    @property
    def view(self) -> SortedView: ...
    def quantiles(self, qs: Sequence[float]) -> Any: ...


class CategoricalDistribution(Protocol):
    """What categorical drift needs: CategoricalProfile and CategoricalCounts both provide it."""

    @property
    def kind(self) -> Literal["categorical"]: ...
    @property
    def count(self) -> int: ...
    @property
    def frequency_error(self) -> float: ...
    @property
    def is_exact(self) -> bool: ...
    def counts(self) -> dict[str, int]: ...
    @property
    def table(self) -> CountTable: ...


def undefined_if_empty(
    b: NumericDistribution | CategoricalDistribution,
    c: NumericDistribution | CategoricalDistribution,
) -> DriftResult | None:
    """``DriftResult.undefined`` when either side has no values of its kind, else None."""
    for side, d in (("the baseline", b), ("the current data", c)):
        if d.count == 0:
            return DriftResult.undefined(f"{side} has no {d.kind} values")
    return None
