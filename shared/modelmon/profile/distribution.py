"""A weighted, sorted sample: the exact step CDF a KLL sketch (or a SageMaker sketch dump) encodes.

Every numeric drift distance is computed on these views with numpy, so comparing two profiles
costs microseconds, not a Python loop over sketch items.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from modelmon.profile.columns import FloatArray


@dataclass(frozen=True, slots=True)
class Bucket:
    """One equal-width histogram bucket: [lower, upper) (the last one is closed)."""

    lower_bound: float
    upper_bound: float
    count: float


@dataclass(frozen=True, slots=True)
class SortedView:
    """Items in ascending order with their cumulative (inclusive) weights."""

    items: FloatArray
    weights: FloatArray
    cum_weights: FloatArray
    total: float

    @staticmethod
    def of(items: FloatArray, weights: FloatArray) -> SortedView:
        order = np.argsort(items, kind="stable")
        w = weights[order].astype(np.float64)
        cum = np.cumsum(w)
        return SortedView(items[order], w, cum, float(cum[-1]) if len(cum) else 0.0)

    def cdf(self, points: FloatArray) -> FloatArray:
        """Share of weight at or below each point (inclusive rank, like DataSketches)."""
        return self._rank(points, "right")

    def cdf_exclusive(self, points: FloatArray) -> FloatArray:
        """Share of weight strictly below each point."""
        return self._rank(points, "left")

    def _rank(self, points: FloatArray, side: Literal["left", "right"]) -> FloatArray:
        if self.total == 0:
            return np.full(len(points), np.nan)
        idx = np.searchsorted(self.items, points, side=side)
        padded = np.concatenate(([0.0], self.cum_weights))
        return padded[idx] / self.total

    def quantiles(self, qs: FloatArray) -> FloatArray:
        """Smallest item whose inclusive rank reaches each q (numpy's 'inverted_cdf')."""
        if self.total == 0:
            return np.full(len(qs), np.nan)
        idx = np.searchsorted(self.cum_weights, np.asarray(qs) * self.total, side="left")
        return self.items[np.clip(idx, 0, len(self.items) - 1)]

    def histogram(self, low: float, high: float, n_buckets: int) -> list[Bucket]:
        """Deequ's KLL buckets: equal width, [lo, hi) by exclusive ranks, the last one closed."""
        edges = np.linspace(low, high, n_buckets + 1)
        below = self.cdf_exclusive(edges) * self.total
        counts = np.diff(below)
        counts[-1] = self.total - below[-2]
        return [
            Bucket(float(lo), float(hi), float(c))
            for lo, hi, c in zip(edges[:-1], edges[1:], counts, strict=True)
        ]

    def levels(self) -> list[list[float]]:
        """Items grouped by weight 2**i (KLL compactor levels, SageMaker's sketch.data)."""
        if self.total == 0:
            return []
        exponents = np.rint(np.log2(self.weights)).astype(int)
        return [self.items[exponents == i].tolist() for i in range(int(exponents.max()) + 1)]


@dataclass(frozen=True, slots=True)
class AlignedCdfs:
    """Two step CDFs evaluated at every distinct item of either side (where they can jump)."""

    points: FloatArray
    first: FloatArray
    second: FloatArray


def align(a: SortedView, b: SortedView) -> AlignedCdfs:
    """Both inclusive CDFs at the union of the items: one merge of two sorted runs and two
    cumulative sums, instead of a set union and two binary searches."""
    items = np.concatenate((a.items, b.items))
    order = np.argsort(items, kind="stable")  # two sorted runs: a linear merge
    shares = np.concatenate((a.weights / a.total, np.zeros(len(b.items))))[order]
    other = np.concatenate((np.zeros(len(a.items)), b.weights / b.total))[order]
    points = items[order]
    last = np.append(points[1:] != points[:-1], True)  # the last of each run of equal items
    return AlignedCdfs(points[last], np.cumsum(shares)[last], np.cumsum(other)[last])


_SINGLE_ITEM_FLAG = 4
_EMPTY_FLAG = 1


def parse_datasketches_kll(blob: bytes) -> list[FloatArray]:
    """The levels (level i items weigh 2**i) of a DataSketches ``kll_doubles_sketch``'s compact
    bytes: how profile blobs of format version 1 stored a numeric distribution. ValueError
    when the bytes do not follow DataSketches' documented layout."""
    if len(blob) < 8:
        raise ValueError("KLL bytes too short")
    preamble_ints, _serial, family, flags = struct.unpack_from("<BBBB", blob, 0)
    if family != 15:
        raise ValueError(f"not a KLL sketch (family {family})")
    if flags & _EMPTY_FLAG:
        return []
    if flags & _SINGLE_ITEM_FLAG:
        (item,) = struct.unpack_from("<d", blob, 8)
        return [np.array([item])]
    if preamble_ints != 5 or len(blob) < 20:
        raise ValueError("KLL bytes: unexpected preamble")
    (n,) = struct.unpack_from("<Q", blob, 8)
    num_levels = blob[18]
    levels = np.frombuffer(blob, dtype="<u4", count=num_levels, offset=20).astype(np.int64)
    offset = 20 + 4 * num_levels + 16  # levels, then min and max
    items = np.frombuffer(blob, dtype="<f8", offset=offset).astype(np.float64)
    bounds = np.append(levels, levels[0] + len(items)) - levels[0]
    sizes = np.diff(bounds)
    if (sizes < 0).any() or sizes.sum() != len(items) or not np.isfinite(items).all():
        raise ValueError("KLL bytes: malformed levels")
    out = [items[bounds[i] : bounds[i + 1]] for i in range(num_levels)]
    if sum(len(lv) * 2**i for i, lv in enumerate(out)) != n:
        raise ValueError("KLL bytes: retained weight does not match n")
    return out


def view_of_levels(levels: Sequence[Sequence[float]]) -> SortedView:
    """A view from KLL levels where level i items weigh 2**i (SageMaker/Deequ sketch.data)."""
    items = np.concatenate([np.asarray(lv, dtype=np.float64) for lv in levels]) if levels else None
    if items is None or not len(items):
        return SortedView.of(np.empty(0), np.empty(0))
    weights = np.concatenate(
        [np.full(len(lv), 2.0**i, dtype=np.float64) for i, lv in enumerate(levels)]
    )
    keep = np.isfinite(items)
    return SortedView.of(items[keep], weights[keep])
