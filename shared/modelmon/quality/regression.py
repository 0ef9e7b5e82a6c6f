"""Regression quality: mergeable error moments per replicate layer and an error-quantile sketch.

SageMaker's ``r2`` is not scikit-learn's ``r2_score(label, prediction)``: on SageMaker's own
reference pair (model_quality_baseline_dataset.csv -> model_quality_statistics.json, r2 =
-3.2088) it equals ``1 - SS_err / SS_prediction`` — Spark's RegressionMetrics with the prediction
and the label swapped, i.e. ``r2_score(prediction, label)``. SageMaker's definition wins here;
``textbook_r2`` is the usual one. The error-quantile sketch (KLL, k=1024) holds
``label - prediction`` of layer 0 with rank error ``KLL_RANK_ERROR`` (about 0.35%, 99%).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
from datasketches import kll_doubles_sketch

from modelmon.errors import CorruptBlobError
from modelmon.profile import codec
from modelmon.profile.constants import KLL_K
from modelmon.quality.pairs import Pairs, metric, number, ratio
from modelmon.quality.replicates import LAYERS, FloatArray

TAG: Final = 23
#: Columns of ``moments``: count, sum|e|, sum e^2, mean/M2 of predictions, mean/M2 of labels.
N, ABS, SQ, MEAN_P, M2_P, MEAN_Y, M2_Y = range(7)


def _zero() -> FloatArray:
    return np.zeros((LAYERS, 7), dtype=np.float64)


@dataclass(frozen=True, eq=False)
class RegressionState:
    """Mergeable regression state: ``moments[layer, column]`` and a KLL sketch of the errors."""

    moments: FloatArray = field(default_factory=_zero)
    errors: kll_doubles_sketch = field(default_factory=lambda: kll_doubles_sketch(KLL_K))

    @property
    def count(self) -> int:
        return int(self.moments[0, N])

    def empty(self) -> RegressionState:
        return RegressionState()

    def add(self, pairs: Pairs) -> RegressionState:
        return self.merge(self._of(pairs))

    @staticmethod
    def _of(pairs: Pairs) -> RegressionState:
        y = np.array([number(v, "label") for v in pairs.labels], dtype=np.float64)
        p = np.array(
            [
                number(v if v is not None else s, "prediction")
                for v, s in zip(pairs.predictions, pairs.probabilities.tolist(), strict=True)
            ],
            dtype=np.float64,
        )
        w = pairs.weights().astype(np.float64)
        e = y - p
        m = _zero()
        m[:, N] = w.sum(axis=1)
        m[:, ABS] = (w * np.abs(e)).sum(axis=1)
        m[:, SQ] = (w * e * e).sum(axis=1)
        for mean, m2, x in ((MEAN_P, M2_P, p), (MEAN_Y, M2_Y, y)):
            m[:, mean] = ratio((w * x).sum(axis=1), m[:, N])
            m[:, m2] = (w * (x[None, :] - m[:, mean][:, None]) ** 2).sum(axis=1)
        sketch = kll_doubles_sketch(KLL_K)
        if len(e):
            sketch.update(np.sort(e))
        return RegressionState(m, sketch)

    def merge(self, other: RegressionState) -> RegressionState:
        a, b = self.moments, other.moments
        m = a + b  # count and error sums add; means and M2s merge by Chan's formula
        n = m[:, N]
        for mean, m2 in ((MEAN_P, M2_P), (MEAN_Y, M2_Y)):
            delta = b[:, mean] - a[:, mean]
            m[:, mean] = a[:, mean] + ratio(delta * b[:, N], n)
            m[:, m2] = a[:, m2] + b[:, m2] + ratio(delta * delta * a[:, N] * b[:, N], n)
        sketch = kll_doubles_sketch.deserialize(self.errors.serialize())
        sketch.merge(other.errors)
        return RegressionState(m, sketch)

    def layers(self) -> dict[str, FloatArray]:
        m = self.moments
        mse = ratio(m[:, SQ], m[:, N])
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = np.where(m[:, M2_P] > 0, 1 - m[:, SQ] / m[:, M2_P], np.nan)
            textbook = np.where(m[:, M2_Y] > 0, 1 - m[:, SQ] / m[:, M2_Y], np.nan)
        return {
            "mae": ratio(m[:, ABS], m[:, N]),
            "mse": mse,
            "rmse": np.sqrt(mse),
            "r2": r2,
            "textbook_r2": textbook,
        }

    def metrics(self) -> dict[str, Any]:
        """SageMaker's ``regression_metrics`` (mae, mse, rmse, r2 — SageMaker's r2)."""
        layers = self.layers()
        return {name: metric(layers[name], self.count) for name in ("mae", "mse", "rmse", "r2")}

    def error_quantiles(self, qs: list[float]) -> list[float]:
        """Quantiles of label - prediction, each within the KLL rank error."""
        return [float(v) for v in self.errors.get_quantiles(qs)] if self.count else []

    def serialize(self) -> bytes:
        body = {"moments": self.moments.astype("<f8").tobytes(), "kll": self.errors.serialize()}
        return codec.pack(TAG, body)

    @staticmethod
    def deserialize(blob: bytes) -> RegressionState:
        _, body = codec.unpack(blob, TAG)
        try:
            moments = np.frombuffer(body["moments"], dtype="<f8").reshape(LAYERS, 7)
            sketch = codec.load_sketch(kll_doubles_sketch.deserialize, body["kll"], "KLL")
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptBlobError(f"regression quality blob is malformed: {exc}") from exc
        return RegressionState(moments.astype(np.float64), sketch)
