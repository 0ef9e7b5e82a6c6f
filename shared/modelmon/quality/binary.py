"""Binary classification quality: confusion counts at a threshold and per-class score histograms.

AUC comes from two histograms of the score, one per actual class. While a window holds at most
``EXACT_SCORES`` distinct scores the histogram keys are the scores themselves and the AUC is
exact (ties count 1/2, as in scikit-learn's ``roc_auc_score``). Past that, scores are rounded down
to ``SCORE_BINS`` equal bins of [0, 1] (width 1e-4): pairs in different bins are still ordered
exactly, a positive and a negative in one bin count as a tie, so the AUC is within
``auc_error_bound()`` = 1/2 * sum_b pos_b * neg_b / (P * N) of the exact AUC — a bound computed
from the state itself. Scores outside [0, 1] are clipped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np

from modelmon.errors import CorruptBlobError, InvalidEventError
from modelmon.profile import codec
from modelmon.quality.labels import class_name
from modelmon.quality.pairs import F_SCORES, Pairs, f_beta, metric, ratio
from modelmon.quality.replicates import LAYERS, FloatArray, IntArray

#: Equal-width score bins over [0, 1] (width 1e-4) once a window has too many distinct scores.
SCORE_BINS: Final = 10_000
#: Distinct scores kept exactly per window before rounding to bins.
EXACT_SCORES: Final = 4_096
#: Points at most in the ROC and precision-recall curves written to statistics.json.
CURVE_POINTS: Final = 101
TAG: Final = 21


@dataclass(frozen=True, eq=False)
class BinaryState:
    """Mergeable binary-classification state of one window (all arrays carry a layer axis)."""

    positive: str = "1"
    negative: str = "0"
    threshold: float = 0.5
    #: [layer, actual, predicted] with 0 = negative, 1 = positive
    confusion: IntArray = field(default_factory=lambda: np.zeros((LAYERS, 2, 2), np.int64))
    #: the sorted distinct scores (or bin lower edges), and their counts [layer, actual, key]
    bins: FloatArray = field(default_factory=lambda: np.zeros(0, np.float64))
    hist: IntArray = field(default_factory=lambda: np.zeros((LAYERS, 2, 0), np.int64))
    #: whether ``bins`` are the scores themselves (AUC exact) or rounded to SCORE_BINS
    exact: bool = True

    @property
    def count(self) -> int:
        return int(self.confusion[0].sum())

    def empty(self) -> BinaryState:
        return BinaryState(self.positive, self.negative, self.threshold)

    def add(self, pairs: Pairs) -> BinaryState:
        return self.merge(self._of(pairs))

    def _of(self, pairs: Pairs) -> BinaryState:
        actual = np.array([class_name(v) == self.positive for v in pairs.labels], dtype=np.int64)
        predicted = np.array(
            [
                self._predicted(p, s)
                for p, s in zip(pairs.predictions, pairs.probabilities, strict=True)
            ],
            dtype=np.int64,
        )
        w = pairs.weights()
        confusion = np.zeros((LAYERS, 2, 2), dtype=np.int64)
        for a in (0, 1):
            for p in (0, 1):
                confusion[:, a, p] = w[:, (actual == a) & (predicted == p)].sum(axis=1)
        scored = ~np.isnan(pairs.probabilities)
        raw = np.clip(pairs.probabilities[scored], 0.0, 1.0)
        bins, inverse = np.unique(raw, return_inverse=True)
        hist = np.zeros((LAYERS, 2, len(bins)), dtype=np.int64)
        for a in (0, 1):
            rows = actual[scored] == a
            for layer in range(LAYERS):
                np.add.at(hist[layer, a], inverse[rows], w[layer, scored][rows])
        state = BinaryState(self.positive, self.negative, self.threshold, confusion, bins, hist)
        return state if len(bins) <= EXACT_SCORES else state._rounded()

    def _rounded(self) -> BinaryState:
        """The same state with its scores rounded down to SCORE_BINS bins (AUC then bounded)."""
        if not self.exact:
            return self
        edges = np.minimum(np.floor(self.bins * SCORE_BINS), SCORE_BINS - 1) / SCORE_BINS
        bins, inverse = np.unique(edges, return_inverse=True)
        hist = np.zeros((LAYERS, 2, len(bins)), dtype=np.int64)
        np.add.at(hist.transpose(2, 0, 1), inverse, self.hist.transpose(2, 0, 1))
        return BinaryState(
            self.positive, self.negative, self.threshold, self.confusion, bins, hist, exact=False
        )

    def _predicted(self, prediction: object, probability: float) -> int:
        if prediction is not None:
            return int(class_name(prediction) == self.positive)
        if math.isnan(probability):
            raise InvalidEventError(
                "the prediction has neither a predicted label nor a probability"
            )
        return int(probability >= self.threshold)

    def merge(self, other: BinaryState) -> BinaryState:
        """A new state of both operands' pairs; neither operand changes."""
        if (other.positive, other.threshold) != (self.positive, self.threshold):
            raise ValueError("cannot merge binary states with different positive label/threshold")
        a, b = self, other
        exact = a.exact and b.exact
        if (exact and len(np.union1d(a.bins, b.bins)) > EXACT_SCORES) or not exact:
            a, b, exact = a._rounded(), b._rounded(), False
        bins = np.union1d(a.bins, b.bins)
        hist = np.zeros((LAYERS, 2, len(bins)), dtype=np.int64)
        hist[:, :, np.searchsorted(bins, a.bins)] += a.hist
        hist[:, :, np.searchsorted(bins, b.bins)] += b.hist
        confusion = a.confusion + b.confusion
        return BinaryState(
            self.positive, self.negative, self.threshold, confusion, bins, hist, exact
        )

    # ----- metrics ---------------------------------------------------------------------------
    def auc_layers(self) -> FloatArray:
        neg, pos = self.hist[:, 0, :].astype(np.float64), self.hist[:, 1, :].astype(np.float64)
        below = np.cumsum(neg, axis=1) - neg
        total = pos.sum(axis=1) * neg.sum(axis=1)
        wins = (pos * below).sum(axis=1) + 0.5 * (pos * neg).sum(axis=1)
        auc: FloatArray = np.divide(wins, total, out=np.full(LAYERS, np.nan), where=total > 0)
        return auc

    def auc_error_bound(self) -> float:
        """Largest possible |histogram AUC - exact AUC| for layer 0 (0 while scores are exact)."""
        if self.exact:
            return 0.0
        neg, pos = self.hist[0, 0].astype(np.float64), self.hist[0, 1].astype(np.float64)
        total = pos.sum() * neg.sum()
        return float(0.5 * (pos * neg).sum() / total) if total else 0.0

    def curves(self) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
        """ROC and precision-recall curves (layer 0), thresholds from high to low."""
        neg, pos = self.hist[0, 0][::-1], self.hist[0, 1][::-1]
        tp, fp = np.cumsum(pos).astype(np.float64), np.cumsum(neg).astype(np.float64)
        if len(tp) > CURVE_POINTS - 1:
            keep = np.unique(np.linspace(0, len(tp) - 1, CURVE_POINTS - 1).round().astype(int))
            tp, fp = tp[keep], fp[keep]
        p_total, n_total = tp[-1] if len(tp) else 0.0, fp[-1] if len(fp) else 0.0
        tpr = [0.0, *ratio(tp, np.full_like(tp, p_total)).tolist()]
        fpr = [0.0, *ratio(fp, np.full_like(fp, n_total)).tolist()]
        precision = ratio(tp, tp + fp).tolist()
        precisions = [precision[0] if precision else 1.0, *precision]
        roc = {"false_positive_rates": fpr, "true_positive_rates": tpr}
        return roc, {"precisions": precisions, "recalls": tpr}

    def pr_auc(self) -> float:
        """Area under the precision-recall curve (trapezoids, Spark's areaUnderPR)."""
        pr = self.curves()[1]
        return float(np.trapezoid(pr["precisions"], pr["recalls"]))

    def metrics(self) -> dict[str, Any]:
        """SageMaker's ``binary_classification_metrics``."""
        c = self.confusion.astype(np.float64)
        tn, fp, fn, tp = c[:, 0, 0], c[:, 0, 1], c[:, 1, 0], c[:, 1, 1]
        n = self.count
        total = tn + fp + fn + tp
        recall, precision = ratio(tp, tp + fn), ratio(tp, tp + fp)
        share = ratio(tp + fn, total)  # the always-positive classifier's precision/accuracy
        ones = np.ones(LAYERS)
        roc, pr = self.curves()
        out: dict[str, Any] = {
            "confusion_matrix": {
                self.negative: {self.negative: int(tn[0]), self.positive: int(fp[0])},
                self.positive: {self.negative: int(fn[0]), self.positive: int(tp[0])},
            },
            "recall": metric(recall, n),
            "precision": metric(precision, n),
            "accuracy": metric(ratio(tp + tn, total), n),
            "recall_best_constant_classifier": metric(np.where(tp + fn > 0, ones, 0.0), n),
            "precision_best_constant_classifier": metric(share, n),
            "accuracy_best_constant_classifier": metric(share, n),
            "true_positive_rate": metric(recall, n),
            "true_negative_rate": metric(ratio(tn, tn + fp), n),
            "false_positive_rate": metric(ratio(fp, tn + fp), n),
            "false_negative_rate": metric(ratio(fn, tp + fn), n),
            "receiver_operating_characteristic_curve": roc,
            "precision_recall_curve": pr,
            "auc": metric(self.auc_layers(), int(self.hist[0].sum())),
        }
        for name, beta in F_SCORES:
            out[name] = metric(f_beta(precision, recall, beta), n)
        for name, beta in F_SCORES:
            bcc = f_beta(share, np.where(tp + fn > 0, ones, 0.0), beta)
            out[f"{name}_best_constant_classifier"] = metric(bcc, n)
        return out

    # ----- bytes -----------------------------------------------------------------------------
    def serialize(self) -> bytes:
        body = {
            "labels": [self.positive, self.negative],
            "threshold": self.threshold,
            "confusion": self.confusion.astype("<i8").tobytes(),
            "bins": self.bins.astype("<f8").tobytes(),
            "exact": self.exact,
            "hist": self.hist.astype("<i8").tobytes(),
        }
        return codec.pack(TAG, body)

    @staticmethod
    def deserialize(blob: bytes) -> BinaryState:
        _, body = codec.unpack(blob, TAG)
        try:
            positive, negative = body["labels"]
            bins = np.frombuffer(body["bins"], dtype="<f8").astype(np.float64)
            confusion = np.frombuffer(body["confusion"], dtype="<i8").reshape(LAYERS, 2, 2)
            hist = np.frombuffer(body["hist"], dtype="<i8").reshape(LAYERS, 2, len(bins))
            return BinaryState(
                str(positive),
                str(negative),
                float(body["threshold"]),
                confusion.astype(np.int64),
                bins,
                hist.astype(np.int64),
                bool(body["exact"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptBlobError(f"binary quality blob is malformed: {exc}") from exc
