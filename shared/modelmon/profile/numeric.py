"""Numeric feature profile: counts, mergeable moments, type counts and a KLL quantile sketch."""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, ClassVar, Literal

import numpy as np

from modelmon.errors import CorruptBlobError
from modelmon.events import InferredType
from modelmon.profile import codec, floatpack
from modelmon.profile.columns import FloatArray, NumericColumn
from modelmon.profile.constants import KLL_K, KLL_RANK_ERROR
from modelmon.profile.distribution import Bucket, SortedView, parse_datasketches_kll
from modelmon.profile.kll import Kll, levels_are_sorted
from modelmon.profile.moments import Moments


def numeric_type(integral: int, fractional: int) -> InferredType:
    """SageMaker's rule for numbers: any Fractional value makes the feature Fractional."""
    if fractional:
        return "Fractional"
    return "Integral" if integral else "Unknown"


@dataclass(frozen=True, eq=False)
class NumericProfile:
    """Immutable profile of a numeric feature. Never mutate ``sketch``: it may be shared.

    Each row of the feature falls in exactly one of: ``count`` (finite numbers, in the moments
    and the sketch), ``non_finite`` (+/-inf), ``type_mismatches`` (not a number), ``missing``.
    """

    missing: int = 0
    type_mismatches: int = 0
    non_finite: int = 0
    integral: int = 0  # present numbers that were integers (ints, bools, integer text)
    fractional: int = 0  # present numbers that were floats / decimal text (inf included)
    moments: Moments = field(default_factory=Moments)
    sketch: Kll = field(default_factory=lambda: Kll(KLL_K))

    kind: ClassVar[Literal["numeric"]] = "numeric"

    # ----- counts and moments -------------------------------------------------------------
    @property
    def count(self) -> int:
        return self.moments.count

    @property
    def present(self) -> int:
        """Non-missing values (SageMaker's num_present): numbers, infinities and mismatches."""
        return self.count + self.non_finite + self.type_mismatches

    @property
    def rows(self) -> int:
        return self.present + self.missing

    @property
    def completeness(self) -> float:
        """Share of rows with a value (SageMaker's completeness); NaN when there are no rows."""
        return self.present / self.rows if self.rows else math.nan

    @property
    def sum(self) -> float:
        return self.moments.sum

    @property
    def min(self) -> float:
        return self.moments.min if self.count else math.nan

    @property
    def max(self) -> float:
        return self.moments.max if self.count else math.nan

    @property
    def mean(self) -> float:
        return self.moments.mean if self.count else math.nan

    @property
    def variance(self) -> float:
        return self.moments.variance

    @property
    def std(self) -> float:
        return self.moments.std

    @property
    def inferred_type(self) -> InferredType:
        return numeric_type(self.integral, self.fractional)

    def type_counts(self) -> dict[str, int]:
        """Present values by SageMaker type; a data_type_check compares these with a baseline."""
        return {
            "Integral": self.integral,
            "Fractional": self.fractional,
            "String": self.type_mismatches,
        }

    # ----- distribution -------------------------------------------------------------------
    @cached_property
    def rank_error(self) -> float:
        """Bound on the error of any CDF value: 0 while the sketch still holds every value."""
        return KLL_RANK_ERROR if self.sketch.is_estimation_mode() else 0.0

    @cached_property
    def view(self) -> SortedView:
        """The sketch's items and weights, sorted (computed once per profile)."""
        return SortedView.of(*self.sketch.items_and_weights())

    def quantiles(self, qs: Sequence[float] | FloatArray) -> FloatArray:
        """Inclusive quantiles (NaN when empty); within ``rank_error`` in rank."""
        return self.view.quantiles(np.asarray(qs, dtype=np.float64))

    def cdf(self, points: Sequence[float] | FloatArray) -> FloatArray:
        """Share of values <= each point; within ``rank_error`` of the exact share."""
        return self.view.cdf(np.asarray(points, dtype=np.float64))

    def histogram(self, n_buckets: int = 10) -> list[Bucket]:
        """SageMaker's KLL buckets: equal width between min and max, counts from the sketch."""
        if not self.count:
            return []
        return self.view.histogram(self.min, self.max, n_buckets)

    def sketch_items(self) -> list[list[float]]:
        """Retained items by KLL level (level i items weigh 2**i), for statistics.json."""
        return self.sketch.level_items()

    # ----- monoid -------------------------------------------------------------------------
    @staticmethod
    def zero() -> NumericProfile:
        return NumericProfile()

    def merge(self, other: NumericProfile) -> NumericProfile:
        """A new profile of both operands' rows; neither operand changes."""
        if not isinstance(other, NumericProfile):
            raise TypeError(f"cannot merge a numeric profile with {type(other).__name__}")
        sketch = self.sketch.copy()
        sketch.merge(other.sketch)
        return NumericProfile(
            missing=self.missing + other.missing,
            type_mismatches=self.type_mismatches + other.type_mismatches,
            non_finite=self.non_finite + other.non_finite,
            integral=self.integral + other.integral,
            fractional=self.fractional + other.fractional,
            moments=self.moments.merge(other.moments),
            sketch=sketch,
        )

    def with_extra(self, missing: int = 0, type_mismatches: int = 0) -> NumericProfile:
        """The same profile with more missing / mismatched rows (a merge with an absent side)."""
        return replace(
            self,
            missing=self.missing + missing,
            type_mismatches=self.type_mismatches + type_mismatches,
        )

    def serialize(self) -> bytes:
        return codec.pack(codec.TAG_NUMERIC, self.to_body())

    @staticmethod
    def deserialize(blob: bytes) -> NumericProfile:
        _, body = codec.unpack(blob, codec.TAG_NUMERIC)
        return NumericProfile.from_body(body)

    def to_body(self) -> list[Any]:
        """The format-3 body with its values inline (a numeric profile blob of its own)."""
        sizes = [len(lv) for lv in self.sketch.levels]
        return [*self.to_body3(), floatpack.pack_runs(np.concatenate(self.sketch.levels), sizes)]

    def to_body3(self) -> list[Any]:
        """The format-3 body without the sketch's values: a dataset blob packs every numeric
        feature's levels together (``sketch_levels`` order: level 0 first).

        [counts: missing, mismatches, non-finite, integral, fractional; k; level sizes; level
        compaction counts; moments]. The count is the sketch's n. The moments are None when
        there are none, [sum, mean, m2] when the sketch is exact (holds every value) and its
        first and last values are min and max bit for bit, else all five.
        """
        sketch = self.sketch
        return [
            [self.missing, self.type_mismatches, self.non_finite, self.integral, self.fractional],
            sketch.k,
            [len(lv) for lv in sketch.levels],
            list(sketch.compactions),
            _moments_body(self.moments, sketch),
        ]

    @staticmethod
    def from_body(body: dict[str, Any] | list[Any]) -> NumericProfile:
        """A profile from ``to_body()`` (format 3) or a format-1/2 body (a map)."""
        if isinstance(body, dict):
            return _from_body2(body)
        if not (isinstance(body, list) and len(body) == 6 and isinstance(body[5], bytes)):
            raise CorruptBlobError("numeric profile blob has a malformed body")
        sizes = level_sizes(body)
        try:
            values = floatpack.unpack_runs(body[5], sizes)
        except CorruptBlobError as exc:
            raise CorruptBlobError(f"the KLL sketch in the profile blob is corrupt: {exc}") from exc
        if not levels_are_sorted(values, sizes):
            raise CorruptBlobError("the KLL sketch in the profile blob is not sorted and finite")
        return NumericProfile.from_body3(body[:5], split_levels(values, sizes))

    @staticmethod
    def from_body3(body: list[Any], levels: list[FloatArray]) -> NumericProfile:
        """From ``to_body3()`` and the sketch's levels (finite and sorted: checked by the
        caller)."""
        missing, mismatches, non_finite, integral, fractional = codec.counters(body, 0, 5)
        k, compactions = body[1], body[3]
        if not (isinstance(k, int) and isinstance(compactions, list)):
            raise CorruptBlobError("numeric profile blob has a malformed sketch")
        sketch = codec.load_sketch(
            lambda parts: Kll.from_parts(k, parts, compactions, checked=True), levels, "KLL"
        )
        moments = _moments_of(body[4], sketch)
        return NumericProfile(
            missing, mismatches, non_finite, integral, fractional, moments, sketch
        )


def level_sizes(body: list[Any]) -> list[int]:
    """The level sizes of a format-3 numeric body (CorruptBlobError when malformed)."""
    sizes = body[2] if len(body) > 2 else None
    if not (isinstance(sizes, list) and 0 < len(sizes) <= 64 and set(map(type, sizes)) <= {int}):
        raise CorruptBlobError("numeric profile blob has malformed KLL level sizes")
    if min(sizes) < 0 or max(sizes) >= 2**32:
        raise CorruptBlobError("numeric profile blob has malformed KLL level sizes")
    return sizes


def split_levels(values: FloatArray, sizes: list[int]) -> list[FloatArray]:
    """``values`` cut into levels of ``sizes`` (views: no copy)."""
    if len(sizes) == 1:
        return [values]
    return np.split(values, np.cumsum(sizes[:-1]).tolist())


def _bits(*xs: float) -> bytes:
    return struct.pack(f"<{len(xs)}d", *xs)


def _same(a: float, b: float) -> bool:
    """Bit for bit, for non-NaN floats (-0.0 is not 0.0)."""
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def _moments_body(m: Moments, sketch: Kll) -> list[float] | None:
    """The moments as stored: None when empty, [sum, mean, m2] when the sketch is exact and
    its first and last values are min and max bit for bit, else all five."""
    if not m.count:
        full = [m.sum, m.min, m.max, m.mean, m.m2]
        return None if _bits(*full) == _EMPTY_MOMENTS else full
    values = sketch.levels[0]
    if (
        sketch.n == m.count == len(values)
        and _same(m.min, float(values[0]))
        and _same(m.max, float(values[-1]))
    ):
        return [m.sum, m.mean, m.m2]
    return [m.sum, m.min, m.max, m.mean, m.m2]


_EMPTY_MOMENTS = _bits(0.0, math.inf, -math.inf, 0.0, 0.0)


def _moments_of(stored: Any, sketch: Kll) -> Moments:
    """The moments of a format-3 body (see ``to_body3``)."""
    exact = sketch.n == len(sketch.levels[0])
    if stored is None and not sketch.n:
        return Moments()
    if not (isinstance(stored, list) and set(map(type, stored)) <= {float}):
        raise CorruptBlobError("numeric profile blob has malformed moments")
    if len(stored) == 5:
        total, low, high, mean, m2 = stored
    elif len(stored) == 3 and exact and sketch.n:
        (total, mean, m2), values = stored, sketch.levels[0]
        low, high = float(values[0]), float(values[-1])
    else:
        raise CorruptBlobError("numeric profile blob has malformed moments")
    return Moments(sketch.n, total, low, high, mean, m2)


def _from_body2(body: dict[str, Any]) -> NumericProfile:
    """A profile from a format-1 or format-2 body (a map of named fields)."""
    missing, mismatches, non_finite = codec.counters(body, "counts", 3)
    integral, fractional = codec.counters(body, "types", 2)
    mom = codec.field(body, "moments", list)
    if (
        len(mom) != 6
        or not (isinstance(mom[0], int) and mom[0] >= 0)
        or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in mom[1:])
    ):
        raise CorruptBlobError("numeric profile blob has malformed moments")
    sketch = _load_kll(body)
    moments = Moments(mom[0], *(float(x) for x in mom[1:]))
    if sketch.n != moments.count:
        raise CorruptBlobError("numeric profile blob: sketch and moments disagree")
    return NumericProfile(missing, mismatches, non_finite, integral, fractional, moments, sketch)


def _load_kll(body: dict[str, Any]) -> Kll:
    """The body's KLL sketch: ours ("kll2"), or DataSketches' from a format-1 blob ("kll"),
    whose levels carry over as they are."""
    if "kll2" in body:
        return codec.load_sketch(Kll.deserialize, codec.field(body, "kll2", bytes), "KLL")
    old = codec.field(body, "kll", bytes)
    levels = codec.load_sketch(parse_datasketches_kll, old, "KLL")
    return Kll.from_levels(KLL_K, levels)


class NumericAccumulator:
    """The mutable side: folds batch columns into counters, moments and a KLL sketch."""

    __slots__ = (
        "fractional",
        "integral",
        "missing",
        "moments",
        "non_finite",
        "sketch",
        "type_mismatches",
    )

    def __init__(self, start: NumericProfile | None = None) -> None:
        p = start or NumericProfile()
        self.missing, self.type_mismatches = p.missing, p.type_mismatches
        self.non_finite = p.non_finite
        self.integral, self.fractional = p.integral, p.fractional
        self.moments = p.moments
        self.sketch = p.sketch.copy()

    def add(self, col: NumericColumn) -> None:
        self.missing += col.missing
        self.type_mismatches += col.type_mismatches
        self.non_finite += col.non_finite
        self.integral += col.integral
        self.fractional += col.fractional
        if len(col.values):
            # sorted first: the moments' float sums then do not depend on the values' order
            # (the typed and generic decoders order a batch differently), and KLL wants it
            values = np.sort(col.values)
            self.moments = self.moments.merge(Moments.of(values))
            self.sketch.update(values)

    def add_missing(self, rows: int) -> None:
        self.missing += rows

    def estimated_bytes(self) -> int:
        """At most about what ``snapshot().to_body()`` takes serialized: 8 bytes per retained
        item, floatpack's worst case (full-precision values take ~7; short decimals 1-2)."""
        return 8 * self.sketch.retained + 3 * len(self.sketch.levels) + 56

    def snapshot(self) -> NumericProfile:
        return NumericProfile(
            self.missing,
            self.type_mismatches,
            self.non_finite,
            self.integral,
            self.fractional,
            self.moments,
            self.sketch.copy(),
        )
