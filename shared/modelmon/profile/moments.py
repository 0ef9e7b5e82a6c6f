"""Mergeable moments: count, sum, min, max, mean and the sum of squared deviations (Chan et al.)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from modelmon.profile.columns import FloatArray


@dataclass(frozen=True, slots=True)
class Moments:
    """Exact-as-floats summary of a set of finite numbers; ``merge`` is Chan's parallel update.

    ``merge`` orders its operands canonically, so it is commutative bit for bit; associativity
    holds to float precision (about 1e-15 relative).
    """

    count: int = 0
    sum: float = 0.0
    min: float = math.inf
    max: float = -math.inf
    mean: float = 0.0
    m2: float = 0.0  # sum of squared deviations from the mean

    @staticmethod
    def of(values: FloatArray, total: float | None = None) -> Moments:
        """Moments of finite values; ``total`` is their sum when the caller has it already."""
        n = len(values)
        if n == 0:
            return Moments()
        with np.errstate(over="ignore", invalid="ignore"):  # values near 1e308: inf, no warning
            total = float(values.sum()) if total is None else total
            mean = total / n
            dev = values - mean
            # einsum, not ``dev @ dev``: BLAS would wake its thread pool for one dot product,
            # costing ~20x the CPU on a busy machine (issue 20)
            m2 = float(np.einsum("i,i", dev, dev))
        return Moments(n, total, float(values.min()), float(values.max()), mean, m2)

    def merge(self, other: Moments) -> Moments:
        if other.count == 0:
            return self
        if self.count == 0:
            return other
        a, b = sorted((self, other), key=_order_key)
        n = a.count + b.count
        delta = b.mean - a.mean
        mean = a.mean + delta * (b.count / n)
        m2 = a.m2 + b.m2 + delta * delta * (a.count * b.count / n)
        return Moments(n, a.sum + b.sum, min(a.min, b.min), max(a.max, b.max), mean, m2)

    @property
    def variance(self) -> float:
        """Population variance (SageMaker's std_dev is the population standard deviation)."""
        return self.m2 / self.count if self.count else math.nan

    @property
    def std(self) -> float:
        return math.sqrt(self.variance) if self.count else math.nan


def _order_key(m: Moments) -> tuple[int, float, float, float]:
    return (m.count, m.mean, m.m2, m.sum)
