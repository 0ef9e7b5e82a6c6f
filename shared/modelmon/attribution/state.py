"""The mergeable attribution state of one (model, window[, partition]) (pure).

Per label (Clarify's ``label0``, ... or the model's output name) and feature it keeps the
count of attributions, their sum and the sum of their absolute values (so windows and
partitions merge exactly: mean |SHAP| = sum_abs / count is Clarify's ``mean_abs`` global SHAP
value) and a deterministic KLL sketch of the signed attribution for the report's quantiles.
Sketch quantiles are off by at most ``RANK_ERROR`` in rank (KLL, 99% confidence, k=200);
counts, sums and means are exact up to float rounding.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec
import numpy as np
from datasketches import kll_doubles_sketch

from modelmon.errors import CorruptBlobError
from modelmon.profile.kll import Kll

#: Sketch width: ~600 retained values (~5 KB) per feature at any count.
SKETCH_K: Final = 200
#: Rank error of one quantile read from a feature's sketch (99% confidence).
RANK_ERROR: Final[float] = kll_doubles_sketch.get_normalized_rank_error(SKETCH_K, False)
#: The label of a model's single output (Clarify's name for the first label).
DEFAULT_LABEL: Final = "label0"
_VERSION: Final = 1


@dataclass(slots=True)
class FeatureAttribution:
    """One feature's attributions under one label: exact sums and a sketch."""

    count: int = 0
    total: float = 0.0
    total_abs: float = 0.0
    #: the sketch, kept as its parts (sketches or their bytes) until someone reads it: the
    #: NDCG needs only the sums, so a window's partials merge without touching sketches
    parts: list[Kll | bytes] = field(default_factory=list)

    @property
    def sketch(self) -> Kll:
        """The merged sketch of every part (deserialized and merged on first read)."""
        if len(self.parts) == 1 and isinstance(self.parts[0], Kll):
            return self.parts[0]
        out = Kll(SKETCH_K)
        for part in self.parts:
            out.merge(Kll.deserialize(part) if isinstance(part, bytes) else part)
        self.parts = [out]
        return out

    def sketch_bytes(self) -> bytes:
        if len(self.parts) == 1 and isinstance(self.parts[0], bytes):
            return self.parts[0]
        return self.sketch.serialize()

    @property
    def mean_abs(self) -> float:
        return self.total_abs / self.count if self.count else 0.0

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0

    def add(self, values: np.ndarray[Any, np.dtype[np.float64]]) -> None:
        self.count += len(values)
        self.total += float(values.sum())
        self.total_abs += float(np.abs(values).sum())
        self.sketch.update(values)

    def merge(self, other: FeatureAttribution) -> None:
        self.count += other.count
        self.total += other.total
        self.total_abs += other.total_abs
        self.parts += [p.copy() if isinstance(p, Kll) else p for p in other.parts]

    def quantiles(self, ranks: Iterable[float]) -> list[float]:
        """Signed-attribution quantiles from the sketch (rank error <= ``RANK_ERROR``); NaN
        when the stored sketch is unreadable (the sums, and so the NDCG, do not need it)."""
        ranks = list(ranks)
        try:
            items, weights = self.sketch.items_and_weights()
        except (CorruptBlobError, ValueError):
            return [math.nan for _ in ranks]
        if not len(items):
            return [math.nan for _ in ranks]
        order = np.argsort(items, kind="stable")
        items, cum = items[order], np.cumsum(weights[order])
        total = cum[-1]
        return [
            float(items[min(int(np.searchsorted(cum, r * total)), len(items) - 1)]) for r in ranks
        ]


class AttributionState:
    """label -> feature -> ``FeatureAttribution``; merges exactly (sums) and by sketch."""

    __slots__ = ("labels", "skipped")

    def __init__(self) -> None:
        self.labels: dict[str, dict[str, FeatureAttribution]] = {}
        self.skipped = 0  # non-finite attribution values left out

    def __len__(self) -> int:
        """Attributions folded in (the largest feature count of any label)."""
        return max(
            (max((f.count for f in fs.values()), default=0) for fs in self.labels.values()),
            default=0,
        )

    def add(self, label: str, attributions: Mapping[str, float]) -> None:
        """One event's attributions (feature -> value); non-finite values are skipped."""
        self.add_columns(label, {k: [v] for k, v in attributions.items()})

    def add_rows(self, label: str, rows: Sequence[Mapping[str, float]]) -> None:
        """Many events' attributions (one mapping each), folded in per feature at once."""
        columns: dict[str, list[float]] = {}
        for row in rows:
            for name, value in row.items():
                columns.setdefault(name, []).append(value)
        self.add_columns(label, columns)

    def add_columns(self, label: str, columns: Mapping[str, Iterable[float]]) -> None:
        """Many events' attributions at once: feature -> values."""
        features = self.labels.setdefault(label, {})
        for name, values in columns.items():
            array = np.fromiter(values, dtype=np.float64)
            finite = array[np.isfinite(array)]
            self.skipped += len(array) - len(finite)
            if len(finite):
                features.setdefault(name, FeatureAttribution()).add(finite)

    def merge(self, other: AttributionState) -> None:
        """Fold ``other`` in (it does not change)."""
        self.skipped += other.skipped
        for label, features in other.labels.items():
            mine = self.labels.setdefault(label, {})
            for name, fa in features.items():
                target = mine.setdefault(name, FeatureAttribution())
                target.merge(fa)

    def global_shap(self, label: str) -> dict[str, float]:
        """Clarify's global SHAP values (mean |SHAP| per feature) of one label."""
        return {name: fa.mean_abs for name, fa in sorted(self.labels.get(label, {}).items())}

    # -- bytes ----------------------------------------------------------------------------
    def serialize(self) -> bytes:
        body = {
            "v": _VERSION,
            "skipped": self.skipped,
            "labels": {
                label: {
                    n: [fa.count, fa.total, fa.total_abs, fa.sketch_bytes()]
                    for n, fa in sorted(features.items())
                }
                for label, features in sorted(self.labels.items())
            },
        }
        return msgspec.msgpack.encode(body)

    @staticmethod
    def deserialize(blob: bytes) -> AttributionState:
        try:
            body = msgspec.msgpack.decode(blob)
            if body.get("v") != _VERSION:
                raise ValueError(f"attribution state version {body.get('v')!r}")
            state = AttributionState()
            state.skipped = int(body["skipped"])
            for label, features in body["labels"].items():
                state.labels[label] = {
                    name: FeatureAttribution(int(c), float(t), float(a), [bytes(s)])
                    for name, (c, t, a, s) in features.items()
                }
            return state
        except (msgspec.DecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CorruptBlobError(f"unreadable attribution state: {exc}") from exc


def merged(states: Iterable[AttributionState]) -> AttributionState:
    """One state of many (e.g. a window's partitions, or the last K windows)."""
    out = AttributionState()
    for s in states:
        out.merge(s)
    return out


def state_of_events(events: Iterable[Any], label: str = DEFAULT_LABEL) -> AttributionState:
    """The state of capture events (``CaptureEvent`` or dicts) that carry ``attributions``."""
    state, rows = AttributionState(), []
    for event in events:
        attributions = (
            event.get("attributions") if isinstance(event, Mapping) else event.attributions
        )
        if attributions:
            rows.append(attributions)
    state.add_rows(label, rows)
    return state
