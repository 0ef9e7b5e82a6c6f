"""Dataset profiles: the immutable, mergeable view and the tracker that builds it per batch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from modelmon.errors import CorruptBlobError
from modelmon.events import FeatureKind
from modelmon.profile import codec, exact, floatpack
from modelmon.profile.categorical import CategoricalAccumulator, CategoricalProfile
from modelmon.profile.columns import (
    FloatArray,
    as_array,
    categorical_column,
    infer_kind,
    numeric_column,
)
from modelmon.profile.encoded import EncodedText
from modelmon.profile.kll import levels_are_sorted
from modelmon.profile.numbers import Numbers
from modelmon.profile.numeric import (
    NumericAccumulator,
    NumericProfile,
    level_sizes,
    split_levels,
)

FeatureProfile = NumericProfile | CategoricalProfile
Column = npt.NDArray[Any] | Sequence[Any] | Numbers | EncodedText
_Accumulator = NumericAccumulator | CategoricalAccumulator


def _merge_features(a: FeatureProfile, b: FeatureProfile) -> FeatureProfile:
    """Merge two profiles of one feature. Kinds normally agree (they come from the baseline or
    config); if they do not, the side with more values wins and the other side's values count
    as type mismatches, so a merge never fails."""
    if isinstance(a, NumericProfile) and isinstance(b, NumericProfile):
        return a.merge(b)
    if isinstance(a, CategoricalProfile) and isinstance(b, CategoricalProfile):
        return a.merge(b)
    numeric, other = (a, b) if isinstance(a, NumericProfile) else (b, a)
    winner, loser = (numeric, other) if numeric.present >= other.present else (other, numeric)
    return winner.with_extra(missing=loser.missing, type_mismatches=loser.present)


@dataclass(frozen=True, eq=False)
class DatasetProfile:
    """Immutable profile of a set of rows: the row count and one profile per feature.

    Invariant: for every feature, present + missing == row_count.
    """

    row_count: int = 0
    features: Mapping[str, FeatureProfile] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        if not isinstance(self.features, MappingProxyType):
            object.__setattr__(self, "features", MappingProxyType(dict(self.features)))

    @staticmethod
    def zero() -> DatasetProfile:
        return DatasetProfile()

    def merge(self, other: DatasetProfile) -> DatasetProfile:
        """A profile of both operands' rows (neither changes). A feature on one side only is kept,
        with the other side's rows counted as missing."""
        merged: dict[str, FeatureProfile] = {}
        for name in sorted(self.features.keys() | other.features.keys()):
            mine, theirs = self.features.get(name), other.features.get(name)
            if mine is None:
                assert theirs is not None
                merged[name] = theirs.with_extra(missing=self.row_count)
            elif theirs is None:
                merged[name] = mine.with_extra(missing=other.row_count)
            else:
                merged[name] = _merge_features(mine, theirs)
        return DatasetProfile(self.row_count + other.row_count, merged)

    def serialize(self) -> bytes:
        return codec.pack(codec.TAG_DATASET, _body3(self))

    @staticmethod
    def deserialize(blob: bytes) -> DatasetProfile:
        """Rebuild a profile from ``serialize()`` or an exact small window's blob
        (``profile/exact.py``); a bad blob raises CorruptBlobError."""
        tag, body = codec.unpack(blob, codec.TAG_DATASET, codec.TAG_EXACT)
        if tag == codec.TAG_EXACT:
            parts = exact.parts_of_body(body)
            return DatasetProfile(parts.rows, exact.profile_features(parts))
        if "f" in body:  # format 3
            return _from_body3(body)
        rows = codec.field(body, "rows", int)
        entries = codec.field(body, "features", list)
        features: dict[str, FeatureProfile] = {}
        for entry in entries:
            if not (isinstance(entry, list) and len(entry) == 3 and isinstance(entry[2], dict)):
                raise CorruptBlobError("dataset profile blob has a malformed feature entry")
            name, kind, fbody = entry
            if kind == "numeric":
                features[str(name)] = NumericProfile.from_body(fbody)
            elif kind == "categorical":
                features[str(name)] = CategoricalProfile.from_body(fbody)
            else:
                raise CorruptBlobError(f"dataset profile blob has unknown kind {kind!r}")
        for name, p in features.items():
            if p.rows != rows:
                raise CorruptBlobError(f"dataset profile blob: feature {name!r} row count")
        return DatasetProfile(rows, features)


def _body3(profile: DatasetProfile) -> dict[str, Any]:
    """Format 3: {"r": rows, "f": [[name, 0 numeric / 1 categorical, body]], "v": every numeric
    feature's KLL levels, in feature and level order, packed by ``floatpack`` at once}."""
    features: list[list[Any]] = []
    levels: list[FloatArray] = []
    sizes: list[int] = []
    for name, p in sorted(profile.features.items()):
        if isinstance(p, NumericProfile):
            features.append([name, 0, p.to_body3()])
            levels.extend(p.sketch.levels)
            sizes.extend(len(lv) for lv in p.sketch.levels)
        else:
            features.append([name, 1, p.to_body()])
    values = np.concatenate(levels) if levels else np.empty(0)
    return {"r": profile.row_count, "f": features, "v": floatpack.pack_runs(values, sizes)}


def _from_body3(body: dict[str, Any]) -> DatasetProfile:
    rows = codec.field(body, "r", int)
    entries = codec.field(body, "f", list)
    if not all(
        isinstance(e, list) and len(e) == 3 and isinstance(e[0], str) and e[1] in (0, 1)
        for e in entries
    ):
        raise CorruptBlobError("dataset profile blob has a malformed feature entry")
    numeric = [e[2] for e in entries if e[1] == 0]
    if not all(isinstance(b, list) and len(b) == 5 for b in numeric):
        raise CorruptBlobError("numeric profile blob has a malformed body")
    per_feature = [level_sizes(b) for b in numeric]
    sizes = [s for feature in per_feature for s in feature]
    try:
        values = floatpack.unpack_runs(codec.field(body, "v", bytes), sizes)
    except CorruptBlobError as exc:
        raise CorruptBlobError(f"the KLL sketches in the profile blob are corrupt: {exc}") from exc
    if not levels_are_sorted(values, sizes):
        raise CorruptBlobError("the KLL sketches in the profile blob are not sorted and finite")
    levels, counts = iter(split_levels(values, sizes)), iter(map(len, per_feature))
    features: dict[str, FeatureProfile] = {}
    for name, kind, fbody in entries:
        if kind == 0:
            parts = [next(levels) for _ in range(next(counts))]
            features[name] = NumericProfile.from_body3(fbody, parts)
        else:
            features[name] = CategoricalProfile.from_body(fbody)
    if len(features) != len(entries):
        raise CorruptBlobError("dataset profile blob names a feature twice")
    for name, p in features.items():
        if p.rows != rows:
            raise CorruptBlobError(f"dataset profile blob: feature {name!r} row count")
    return DatasetProfile(rows, features)


def _infer_kind(arr: npt.NDArray[Any] | Numbers | EncodedText) -> FeatureKind | None:
    if isinstance(arr, EncodedText):
        kind: FeatureKind | None = arr.infer_kind()
        return kind
    if isinstance(arr, Numbers):
        return "numeric" if not np.isnan(arr.values).all() else None
    return infer_kind(arr)


class ProfileTracker:
    """Mutable: folds batches of columns into per-feature accumulators; ``snapshot()`` is cheap.

    ``kinds`` fixes each feature's kind (from the baseline or config). A feature missing from
    ``kinds`` (or all, with ``kinds=None``) gets its kind from the first batch where it has a
    value: numeric when every value there is a number or numeric text, else categorical.
    """

    def __init__(self, kinds: Mapping[str, FeatureKind] | None = None) -> None:
        self._kinds: dict[str, FeatureKind] = dict(kinds or {})
        self._acc: dict[str, _Accumulator] = {}
        self._pending: dict[str, int] = {}  # features seen without a value yet: rows so far
        self.row_count = 0

    def feature_names(self) -> set[str]:
        """Every feature this tracker profiles (with values or only missing so far)."""
        return self._acc.keys() | self._pending.keys()

    @staticmethod
    def from_profile(
        profile: DatasetProfile, kinds: Mapping[str, FeatureKind] | None = None
    ) -> ProfileTracker:
        """A tracker that continues from ``profile`` (its sketches are copied, not shared)."""
        tracker = ProfileTracker(kinds)
        tracker.row_count = profile.row_count
        for name, p in profile.features.items():
            tracker._kinds.setdefault(name, p.kind)
            if isinstance(p, NumericProfile):
                tracker._acc[name] = NumericAccumulator(p)
            else:
                tracker._acc[name] = CategoricalAccumulator(p)
        return tracker

    def update(self, columns: Mapping[str, Column]) -> None:
        """Add one batch: whole columns of equal length, keyed by feature name."""
        arrays = {
            n: c if isinstance(c, Numbers | EncodedText) else as_array(c)
            for n, c in columns.items()
        }
        lengths = {len(a) for a in arrays.values()}
        if len(lengths) > 1:
            sizes = ", ".join(f"{n}={len(a)}" for n, a in arrays.items())
            raise ValueError(f"all columns of a batch must have the same length ({sizes})")
        rows = lengths.pop() if lengths else 0
        for name, arr in arrays.items():
            self._update_feature(name, arr)
        for name, acc in self._acc.items():
            if name not in arrays:
                acc.add_missing(rows)
        for name in self._pending:
            if name not in arrays:
                self._pending[name] += rows
        self.row_count += rows

    def _update_feature(self, name: str, arr: npt.NDArray[Any] | Numbers | EncodedText) -> None:
        acc = self._acc.get(name)
        if acc is None:
            kind = self._kinds.get(name) or _infer_kind(arr)
            if kind is None:  # nothing present yet: remember the rows as missing
                self._pending[name] = self._pending.get(name, self.row_count) + len(arr)
                return
            acc = NumericAccumulator() if kind == "numeric" else CategoricalAccumulator()
            acc.add_missing(self._pending.pop(name, self.row_count))
            self._kinds[name] = kind
            self._acc[name] = acc
        if isinstance(arr, EncodedText):  # Arrow text: counted by code when categorical
            if isinstance(acc, CategoricalAccumulator):
                acc.add(arr.categorical())
                return
            arr = arr.objects()
        if isinstance(arr, Numbers):
            if isinstance(acc, NumericAccumulator):
                acc.add(arr.classify())
                return
            arr = arr.objects()
        if isinstance(acc, NumericAccumulator):
            acc.add(numeric_column(arr))
        else:
            acc.add(categorical_column(arr))

    def estimated_bytes(self) -> int:
        """About the size of ``snapshot().serialize()``, without serializing (a flush's cost)."""
        return (
            24
            + sum(a.estimated_bytes() + 4 + len(n) for n, a in self._acc.items())
            + sum(48 + len(n) for n in self._pending)
        )

    def snapshot(self) -> DatasetProfile:
        """An immutable copy of everything seen so far."""
        features: dict[str, FeatureProfile] = {n: a.snapshot() for n, a in self._acc.items()}
        for name, rows in self._pending.items():  # only missing values so far
            kind = self._kinds.get(name)
            empty: FeatureProfile = (
                CategoricalProfile() if kind == "categorical" else NumericProfile()
            )
            features[name] = empty.with_extra(missing=rows)
        return DatasetProfile(self.row_count, features)

    @property
    def kinds(self) -> Mapping[str, FeatureKind]:
        return MappingProxyType(self._kinds)
