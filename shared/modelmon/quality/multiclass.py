"""Multiclass quality: the confusion matrix over every class seen, per replicate layer.

Weighted metrics are Spark's ``MulticlassMetrics`` (what SageMaker's analyzer runs) and equal
scikit-learn's ``average="weighted", zero_division=0``: per-class precision/recall/F weighted by
the class's share of the actual labels. The best constant classifier always predicts the most
frequent actual class (the first in sorted order on a tie) — inferred from SageMaker's metric
names, not confirmed by AWS text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np

from modelmon.errors import CorruptBlobError, InvalidEventError
from modelmon.profile import codec
from modelmon.quality.labels import class_name
from modelmon.quality.pairs import F_SCORES, Pairs, f_beta, metric, ratio
from modelmon.quality.replicates import LAYERS, FloatArray, IntArray

TAG: Final = 22
#: Classes a window may hold; beyond this a model is not "multiclass" but free text.
MAX_CLASSES: Final = 1_000


@dataclass(frozen=True, eq=False)
class MulticlassState:
    """Mergeable multiclass state: ``confusion[layer, actual, predicted]`` over ``classes``."""

    classes: tuple[str, ...] = ()
    confusion: IntArray = field(default_factory=lambda: np.zeros((LAYERS, 0, 0), np.int64))

    @property
    def count(self) -> int:
        return int(self.confusion[0].sum())

    def empty(self) -> MulticlassState:
        return MulticlassState()

    def add(self, pairs: Pairs) -> MulticlassState:
        return self.merge(self._of(pairs))

    @staticmethod
    def _of(pairs: Pairs) -> MulticlassState:
        if any(p is None for p in pairs.predictions):
            raise InvalidEventError("a multiclass prediction needs a predicted label")
        actual = [class_name(v) for v in pairs.labels]
        predicted = [class_name(v) for v in pairs.predictions]
        classes = tuple(sorted(set(actual) | set(predicted)))
        index = {c: i for i, c in enumerate(classes)}
        a = np.array([index[c] for c in actual], dtype=np.int64)
        p = np.array([index[c] for c in predicted], dtype=np.int64)
        w = pairs.weights()
        confusion = np.zeros((LAYERS, len(classes), len(classes)), dtype=np.int64)
        for layer in range(LAYERS):
            np.add.at(confusion[layer], (a, p), w[layer])
        return MulticlassState(classes, confusion)

    def merge(self, other: MulticlassState) -> MulticlassState:
        classes = tuple(sorted(set(self.classes) | set(other.classes)))
        if len(classes) > MAX_CLASSES:
            raise InvalidEventError(f"more than {MAX_CLASSES} classes in one window")
        confusion = np.zeros((LAYERS, len(classes), len(classes)), dtype=np.int64)
        for state in (self, other):
            at = np.searchsorted(classes, state.classes)
            confusion[:, at[:, None], at[None, :]] += state.confusion
        return MulticlassState(classes, confusion)

    def metrics(self) -> dict[str, Any]:
        """SageMaker's ``multiclass_classification_metrics``."""
        c = self.confusion.astype(np.float64)
        n = self.count
        total = c.sum(axis=(1, 2))
        tp = np.diagonal(c, axis1=1, axis2=2)
        support, predicted = c.sum(axis=2), c.sum(axis=1)
        share = ratio(support, total[:, None])
        recall, precision = ratio(tp, support), ratio(tp, predicted)
        top = share.max(axis=1) if len(self.classes) else np.zeros(LAYERS)
        out: dict[str, Any] = {
            "confusion_matrix": {
                a: {p: int(self.confusion[0, i, j]) for j, p in enumerate(self.classes)}
                for i, a in enumerate(self.classes)
            },
            "accuracy": metric(ratio(tp.sum(axis=1), total), n),
            "weighted_recall": metric(_weighted(share, recall), n),
            "weighted_precision": metric(_weighted(share, precision), n),
        }
        for name, beta in F_SCORES:
            out[f"weighted_{name}"] = metric(_weighted(share, f_beta(precision, recall, beta)), n)
        out["accuracy_best_constant_classifier"] = metric(top, n)
        out["weighted_recall_best_constant_classifier"] = metric(top, n)
        out["weighted_precision_best_constant_classifier"] = metric(top * top, n)
        for name, beta in F_SCORES:
            bcc = top * f_beta(top, np.ones(LAYERS), beta)
            out[f"weighted_{name}_best_constant_classifier"] = metric(bcc, n)
        return out

    def serialize(self) -> bytes:
        body = {"classes": list(self.classes), "confusion": self.confusion.astype("<i8").tobytes()}
        return codec.pack(TAG, body)

    @staticmethod
    def deserialize(blob: bytes) -> MulticlassState:
        _, body = codec.unpack(blob, TAG)
        try:
            classes = tuple(str(c) for c in body["classes"])
            k = len(classes)
            confusion = np.frombuffer(body["confusion"], dtype="<i8").reshape(LAYERS, k, k)
            return MulticlassState(classes, confusion.astype(np.int64))
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptBlobError(f"multiclass quality blob is malformed: {exc}") from exc


def _weighted(share: FloatArray, per_class: FloatArray) -> FloatArray:
    return np.asarray((share * per_class).sum(axis=1), dtype=np.float64)
