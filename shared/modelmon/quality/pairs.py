"""Joined (label, prediction) pairs as columns, and the helpers every metric shares."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modelmon.errors import InvalidEventError
from modelmon.quality.replicates import FloatArray, IntArray, layer_weights, spread


@dataclass(frozen=True)
class Pairs:
    """A batch of joined pairs. ``keys`` seed the replicates (inference ids, or row numbers)."""

    keys: Sequence[str]
    labels: Sequence[object]
    predictions: Sequence[object]
    probabilities: FloatArray = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self) -> None:
        n = len(self.keys)
        if len(self.labels) != n or len(self.predictions) != n:
            raise ValueError("keys, labels and predictions must have the same length")
        probs = np.asarray(self.probabilities, dtype=np.float64)
        if probs.size == 0:
            probs = np.full(n, np.nan)
        if probs.shape != (n,):
            raise ValueError("probabilities must have one entry per pair (NaN when absent)")
        object.__setattr__(self, "probabilities", probs)

    def __len__(self) -> int:
        return len(self.keys)

    def weights(self) -> IntArray:
        return layer_weights(self.keys)


def split_output(prediction: object, probability: float | None) -> tuple[object, float | None]:
    """A lone score in the prediction slot (a CSV endpoint answering ``0.3027``) is a score.

    Returns (predicted label, probability): a non-integral number within [0, 1] with no separate
    probability moves to the probability; regression reads it back from there.
    """
    if (
        probability is None
        and isinstance(prediction, float)
        and 0.0 <= prediction <= 1.0
        and prediction != int(prediction)
    ):
        return None, prediction
    return prediction, probability


def number(value: object, what: str) -> float:
    """A regression label or prediction as a finite float, else InvalidEventError."""
    if isinstance(value, bool) or value is None:
        raise InvalidEventError(f"{what} {value!r} is not a number")
    try:
        result = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise InvalidEventError(f"{what} {value!r} is not a number") from exc
    if not math.isfinite(result):
        raise InvalidEventError(f"{what} {value!r} is not finite")
    return result


def ratio(num: FloatArray | IntArray, den: FloatArray | IntArray) -> FloatArray:
    """num / den per layer, 0 where den is 0 (Spark's and scikit-learn's zero_division=0)."""
    n = np.asarray(num, dtype=np.float64)
    d = np.asarray(den, dtype=np.float64)
    return np.divide(n, d, out=np.zeros_like(n), where=d != 0)


def f_beta(precision: FloatArray, recall: FloatArray, beta: float) -> FloatArray:
    b2 = beta * beta
    return ratio((1 + b2) * precision * recall, b2 * precision + recall)


def metric(per_layer: FloatArray, samples: int) -> dict[str, Any]:
    """SageMaker's ``{"value", "standard_deviation"}`` from a per-layer array."""
    value = float(per_layer[0])
    return {"value": value, "standard_deviation": spread(per_layer, samples)}


#: F-scores SageMaker reports: its key suffix and beta.
F_SCORES: tuple[tuple[str, float], ...] = (("f0_5", 0.5), ("f1", 1.0), ("f2", 2.0))
