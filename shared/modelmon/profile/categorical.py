"""Categorical feature profile: frequent items with counts, a distinct-count sketch, type counts."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt
from datasketches import (
    HLL_8,
    frequent_items_error_type,
    frequent_strings_sketch,
    hll_sketch,
    hll_union,
)

from modelmon.errors import CorruptBlobError
from modelmon.events import InferredType
from modelmon.profile import codec
from modelmon.profile.category_sample import FULL, CategorySample, hash_texts
from modelmon.profile.columns import CategoricalColumn
from modelmon.profile.constants import DISTINCT_RELATIVE_ERROR, FREQUENT_LG_MAX_K, HLL_LG_K
from modelmon.profile.numeric import numeric_type


@dataclass(frozen=True, slots=True)
class CountTable:
    """Categories ordered by their 64-bit hash (``category_sample.hash_texts``) with their
    counts, as numpy arrays: look-ups are integer binary searches, not string comparisons."""

    keys: npt.NDArray[np.str_]
    counts: npt.NDArray[np.float64]
    hashes: npt.NDArray[np.uint64]

    @staticmethod
    def of(counts: Mapping[str, int]) -> CountTable:
        keys = np.array(list(counts), dtype=str)
        values = np.array(list(counts.values()), dtype=np.float64)
        hashes = hash_texts(keys)
        order = np.argsort(hashes, kind="stable")
        return CountTable(keys[order], values[order], hashes[order])

    def lookup(self, keys: npt.NDArray[np.str_]) -> npt.NDArray[np.float64]:
        """Counts of ``keys`` (0 for a category this table does not hold)."""
        return self.lookup_hashes(hash_texts(keys))

    def lookup_hashes(self, hashes: npt.NDArray[np.uint64]) -> npt.NDArray[np.float64]:
        """Counts of the categories with these hashes (0 where the table has none)."""
        if not len(self.keys):
            return np.zeros(len(hashes))
        idx = np.clip(np.searchsorted(self.hashes, hashes), 0, len(self.keys) - 1)
        return np.where(self.hashes[idx] == hashes, self.counts[idx], 0.0)

    def key_of(self, h: np.uint64) -> str | None:
        i = int(np.searchsorted(self.hashes, h))
        return str(self.keys[i]) if i < len(self.keys) and self.hashes[i] == h else None


class CategoryCountViews:
    """What follows from per-category counts (shares, top categories, the count table), defined
    once for a profile and a SageMaker baseline, so both sides of a comparison read alike."""

    count: int

    @property
    def maximum_error(self) -> int:
        """Largest possible error of any category count."""
        raise NotImplementedError

    @property
    def _counts(self) -> Mapping[str, int]:
        raise NotImplementedError

    @property
    def is_exact(self) -> bool:
        return self.maximum_error == 0

    @property
    def frequency_error(self) -> float:
        """Bound on the error of any category's share of ``count``."""
        return self.maximum_error / self.count if self.count else 0.0

    def counts(self) -> dict[str, int]:
        """Estimated count per tracked category (exact while ``is_exact``)."""
        return dict(self._counts)

    @cached_property
    def table(self) -> CountTable:
        """The tracked categories, sorted, with their counts (for vectorised drift)."""
        return CountTable.of(self._counts)

    def frequencies(self) -> dict[str, float]:
        """Share of ``count`` per tracked category; within ``frequency_error`` of the truth."""
        n = self.count
        return {k: v / n for k, v in self._counts.items()} if n else {}

    def top(self, n: int = 10) -> list[tuple[str, int]]:
        """The n most frequent categories with their counts, most frequent first."""
        return sorted(self._counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


# An item no caller tracks: the frequent-items sketch's bounds for it expose its error offset.
_UNTRACKED = "\x00modelmon:untracked\x00"


def _new_frequent() -> frequent_strings_sketch:
    return frequent_strings_sketch(FREQUENT_LG_MAX_K)


def _new_hll() -> hll_sketch:
    return hll_sketch(HLL_LG_K, HLL_8)


@dataclass(frozen=True, eq=False)
class CategoricalProfile(CategoryCountViews):
    """Immutable profile of a categorical feature. Never mutate the sketches: they may be shared.

    Values are categories as text: numbers become canonical text ("3", "2.5", "true"), so a code
    read as 3, 3.0 or "3" is one category. Each row is in exactly one of ``count`` (a category),
    ``type_mismatches`` (a list, map, bytes or other non-scalar: not a category) or ``missing``.
    """

    missing: int = 0
    type_mismatches: int = 0
    count: int = 0
    integral: int = 0  # categories that were integers or integer text
    fractional: int = 0  # categories that were floats or other numeric text
    frequent: frequent_strings_sketch = field(default_factory=_new_frequent)
    distinct: hll_sketch = field(default_factory=_new_hll)
    #: coordinated category sample (None: a profile read from a format-1 blob)
    sample: CategorySample | None = field(default_factory=CategorySample.empty)

    kind: ClassVar[Literal["categorical"]] = "categorical"

    @property
    def present(self) -> int:
        return self.count + self.type_mismatches

    @property
    def rows(self) -> int:
        return self.present + self.missing

    @property
    def completeness(self) -> float:
        return self.present / self.rows if self.rows else math.nan

    @property
    def strings(self) -> int:
        """Categories that were not numbers."""
        return self.count - self.integral - self.fractional

    @property
    def inferred_type(self) -> InferredType:
        """String when any category is non-numeric text, else Integral/Fractional codes."""
        return "String" if self.strings else numeric_type(self.integral, self.fractional)

    def type_counts(self) -> dict[str, int]:
        return {"Integral": self.integral, "Fractional": self.fractional, "String": self.strings}

    @cached_property
    def maximum_error(self) -> int:
        """Largest possible error of any category count: 0 until the sketch first purges."""
        return int(self.frequent.get_upper_bound(_UNTRACKED))

    @cached_property
    def _counts(self) -> dict[str, int]:
        rows = self.frequent.get_frequent_items(frequent_items_error_type.NO_FALSE_NEGATIVES, 0)
        return {item: int(estimate) for item, estimate, _lo, _hi in rows}

    @property
    def distinct_estimate(self) -> float:
        """Distinct categories: exact while ``is_exact``, else HLL within ``distinct_error``."""
        if self.is_exact:
            return float(len(self._counts))
        return float(self.distinct.get_estimate())

    @property
    def distinct_error(self) -> float:
        """Relative error bound of ``distinct_estimate`` (3 standard deviations)."""
        return 0.0 if self.is_exact else DISTINCT_RELATIVE_ERROR

    @staticmethod
    def zero() -> CategoricalProfile:
        return CategoricalProfile()

    def merge(self, other: CategoricalProfile) -> CategoricalProfile:
        """A new profile of both operands' rows; neither operand changes."""
        if not isinstance(other, CategoricalProfile):
            raise TypeError(f"cannot merge a categorical profile with {type(other).__name__}")
        # canonical operand order: the frequent-items map's layout (and so its bytes and, after
        # a purge, its counts) depends on which side is folded into which
        first, second = sorted((self, other), key=_merge_key)
        frequent = frequent_strings_sketch.deserialize(first.frequent.serialize())
        frequent.merge(second.frequent)
        union = hll_union(HLL_LG_K)
        union.update(first.distinct)
        union.update(second.distinct)
        sample = None
        if first.sample is not None and second.sample is not None:
            sample = first.sample.merge(second.sample)
        return CategoricalProfile(
            missing=self.missing + other.missing,
            type_mismatches=self.type_mismatches + other.type_mismatches,
            count=self.count + other.count,
            integral=self.integral + other.integral,
            fractional=self.fractional + other.fractional,
            frequent=frequent,
            distinct=union.get_result(HLL_8),
            sample=sample,
        )

    def with_extra(self, missing: int = 0, type_mismatches: int = 0) -> CategoricalProfile:
        """The same profile with more missing / mismatched rows (a merge with an absent side)."""
        return replace(
            self,
            missing=self.missing + missing,
            type_mismatches=self.type_mismatches + type_mismatches,
        )

    def serialize(self) -> bytes:
        return codec.pack(codec.TAG_CATEGORICAL, self.to_body())

    @staticmethod
    def deserialize(blob: bytes) -> CategoricalProfile:
        _, body = codec.unpack(blob, codec.TAG_CATEGORICAL)
        return CategoricalProfile.from_body(body)

    def to_body(self) -> list[Any]:
        """The format-3 body: [counts: missing, mismatches, count, integral, fractional;
        frequent-items sketch; HLL sketch; category sample], the sample None when the profile
        has none (read from format 1) and 0 when the exact frequent-items sketch gives it."""
        counts = [self.missing, self.type_mismatches, self.count, self.integral, self.fractional]
        return [counts, self.frequent.serialize(), self.distinct.serialize_compact(),
                self._sample_body()]  # fmt: skip

    def _sample_body(self) -> list[Any] | int | None:
        sample = self.sample
        if sample is None:
            return None
        if (
            sample.threshold == FULL
            and self.is_exact
            and int(sample.counts.sum()) == self.count
            and len(sample) == self.frequent.num_active_items
        ):
            return 0  # the sample is every category with its exact count: the sketch's items
        return sample.to_body()

    @staticmethod
    def from_body(body: dict[str, Any] | list[Any]) -> CategoricalProfile:
        """A profile from ``to_body()`` (format 3) or a format-1/2 body (a map)."""
        if isinstance(body, dict):
            return _from_body2(body)
        if not (isinstance(body, list) and len(body) == 4):
            raise CorruptBlobError("categorical profile blob has a malformed body")
        missing, mismatches, count, integral, fractional = codec.counters(body, 0, 5)
        frequent, distinct = _sketches(body, 1, 2, count)
        stored, sample = body[3], None
        if stored == 0 and not isinstance(stored, bool):
            if frequent.get_upper_bound(_UNTRACKED):
                raise CorruptBlobError("categorical profile blob: no sample for a purged sketch")
            rows = frequent.get_frequent_items(frequent_items_error_type.NO_FALSE_NEGATIVES, 0)
            keys = np.array([item for item, *_ in rows], dtype=str)
            weights = np.array([int(w) for _, w, *_ in rows], dtype=np.int64)
            sample = CategorySample.empty().add(keys, weights)
        elif stored is not None:
            sample = _load_sample(stored, count)
        return CategoricalProfile(
            missing, mismatches, count, integral, fractional, frequent, distinct, sample
        )


def _sketches(
    body: dict[str, Any] | list[Any], freq: str | int, hll: str | int, count: int
) -> tuple[frequent_strings_sketch, hll_sketch]:
    frequent = codec.load_sketch(
        frequent_strings_sketch.deserialize, codec.field(body, freq, bytes), "frequent"
    )
    distinct = codec.load_sketch(hll_sketch.deserialize, codec.field(body, hll, bytes), "HLL")
    if int(frequent.total_weight) != count:
        raise CorruptBlobError("categorical profile blob: sketch and count disagree")
    return frequent, distinct


def _load_sample(stored: Any, count: int) -> CategorySample:
    sample = codec.load_sketch(CategorySample.from_body, stored, "category sample")
    if int(sample.counts.sum()) > count:
        raise CorruptBlobError("categorical profile blob: sample exceeds the count")
    return sample


def _from_body2(body: dict[str, Any]) -> CategoricalProfile:
    """A profile from a format-1 or format-2 body (a map of named fields)."""
    missing, mismatches, count = codec.counters(body, "counts", 3)
    integral, fractional = codec.counters(body, "types", 2)
    frequent, distinct = _sketches(body, "frequent", "hll", count)
    sample = _load_sample(body["sample"], count) if "sample" in body else None  # format 2
    return CategoricalProfile(
        missing, mismatches, count, integral, fractional, frequent, distinct, sample
    )


def _merge_key(p: CategoricalProfile) -> tuple[int, int, int, bytes]:
    return (p.count, p.missing, p.type_mismatches, p.frequent.serialize())


class CategoricalAccumulator:
    """The mutable side: folds batch columns (distinct values + counts) into the sketches."""

    __slots__ = (
        "count",
        "distinct",
        "fractional",
        "frequent",
        "integral",
        "missing",
        "sample",
        "type_mismatches",
    )

    def __init__(self, start: CategoricalProfile | None = None) -> None:
        p = start or CategoricalProfile()
        self.missing, self.type_mismatches, self.count = p.missing, p.type_mismatches, p.count
        self.integral, self.fractional = p.integral, p.fractional
        self.frequent = frequent_strings_sketch.deserialize(p.frequent.serialize())
        self.distinct = hll_sketch.deserialize(p.distinct.serialize_compact())
        self.sample = p.sample

    def add(self, col: CategoricalColumn) -> None:
        self.missing += col.missing
        self.type_mismatches += col.type_mismatches
        self.integral += col.integral
        self.fractional += col.fractional
        frequent, distinct = self.frequent, self.distinct
        for value, n in zip(col.values.tolist(), col.counts.tolist(), strict=True):
            frequent.update(value, n)
            distinct.update(value)
        self.count += int(col.counts.sum())
        if self.sample is not None and len(col.values):
            self.sample = self.sample.add(col.values, col.counts)

    def add_missing(self, rows: int) -> None:
        self.missing += rows

    def estimated_bytes(self) -> int:
        """About what ``snapshot().to_body()`` takes serialized: both sketches' sizes (exact,
        from DataSketches) and the category sample (none while the frequent-items sketch is
        exact and the sample holds every category: the sketch gives it)."""
        sample = 0
        if self.sample is not None and not (
            self.sample.threshold == FULL and not self.frequent.get_upper_bound(_UNTRACKED)
        ):
            keys = self.sample.keys  # texts and counts
            sample = len(keys) * (keys.dtype.itemsize // 4 + 6)
        sketches = self.frequent.get_serialized_size_bytes()
        return int(sketches + self.distinct.get_compact_serialization_bytes()) + sample + 24

    def snapshot(self) -> CategoricalProfile:
        return CategoricalProfile(
            self.missing,
            self.type_mismatches,
            self.count,
            self.integral,
            self.fractional,
            frequent_strings_sketch.deserialize(self.frequent.serialize()),
            hll_sketch.deserialize(self.distinct.serialize_compact()),
            self.sample,
        )
