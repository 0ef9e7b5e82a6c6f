"""Problem types and the state each one keeps: the one place that maps a type to its state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol, get_args

from modelmon.errors import ConfigurationError, CorruptBlobError
from modelmon.profile import codec
from modelmon.quality import binary, multiclass, regression
from modelmon.quality.binary import BinaryState
from modelmon.quality.multiclass import MulticlassState
from modelmon.quality.pairs import Pairs
from modelmon.quality.regression import RegressionState

ProblemType = Literal["BinaryClassification", "MulticlassClassification", "Regression"]
PROBLEM_TYPES: Final[tuple[str, ...]] = get_args(ProblemType)

#: statistics.json / constraints.json key of each problem type's metrics
METRICS_KEY: Final[dict[str, str]] = {
    "BinaryClassification": "binary_classification_metrics",
    "MulticlassClassification": "multiclass_classification_metrics",
    "Regression": "regression_metrics",
}
CONSTRAINTS_KEY: Final[dict[str, str]] = {
    "BinaryClassification": "binary_classification_constraints",
    "MulticlassClassification": "multiclass_classification_constraints",
    "Regression": "regression_constraints",
}


class QualityState(Protocol):
    """What every per-window quality state offers (a monoid with metrics and bytes)."""

    @property
    def count(self) -> int: ...

    def add(self, pairs: Pairs) -> QualityState: ...

    def metrics(self) -> dict[str, Any]: ...

    def serialize(self) -> bytes: ...


@dataclass(frozen=True)
class QualitySpec:
    """How one model's pairs are scored: its problem type, positive class and threshold."""

    problem_type: ProblemType
    positive_label: str = "1"
    negative_label: str = "0"
    threshold: float = 0.5

    def __post_init__(self) -> None:
        if self.problem_type not in PROBLEM_TYPES:
            raise ConfigurationError(
                f"unknown problem type {self.problem_type!r}; use one of {', '.join(PROBLEM_TYPES)}"
            )
        if not 0.0 <= self.threshold <= 1.0:
            raise ConfigurationError(f"threshold {self.threshold} must be within [0, 1]")

    def empty(self) -> QualityState:
        if self.problem_type == "BinaryClassification":
            return BinaryState(self.positive_label, self.negative_label, self.threshold)
        if self.problem_type == "MulticlassClassification":
            return MulticlassState()
        return RegressionState()

    def merge(self, a: QualityState, b: QualityState) -> QualityState:
        return a.merge(b)  # type: ignore[attr-defined, no-any-return]

    def deserialize(self, blob: bytes) -> QualityState:
        tag, _ = codec.unpack(blob, *_LOADERS)
        loader = _LOADERS[tag]
        state: QualityState = loader(blob)
        if _problem_of(state) != self.problem_type:
            raise CorruptBlobError(
                f"quality blob holds {_problem_of(state)} state, expected {self.problem_type}"
            )
        return state


_LOADERS: Final[dict[int, Any]] = {
    binary.TAG: BinaryState.deserialize,
    multiclass.TAG: MulticlassState.deserialize,
    regression.TAG: RegressionState.deserialize,
}


def _problem_of(state: QualityState) -> str:
    if isinstance(state, BinaryState):
        return "BinaryClassification"
    if isinstance(state, MulticlassState):
        return "MulticlassClassification"
    return "Regression"
