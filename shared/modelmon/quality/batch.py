"""Model quality over files: rows of (label, prediction[, probability]) into a quality state.

Rows come from CSV (header required), JSON Lines or a JSON array of flat objects, or from
SageMaker's merged records (``modelmon labels merge`` / SageMaker's merge job output:
``groundTruthData`` + ``captureData``), whose label and prediction are found by the capture
mapping (``modelmon.capture.sagemaker``). Pure over iterables: callers open the files.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from modelmon.capture.sagemaker import SageMakerPayload, parse_outputs
from modelmon.errors import ConfigurationError, InvalidEventError
from modelmon.quality.labels import ground_truth_value
from modelmon.quality.pairs import Pairs, split_output
from modelmon.quality.problem import QualitySpec, QualityState

BATCH_ROWS: Final = 50_000
#: Column names of a flattened merged record.
MERGED_COLUMNS: Final = ("label", "prediction", "probability")


class MissingColumnError(ConfigurationError):
    """A --label/--prediction/--probability column is not in the data."""


@dataclass(frozen=True)
class QualityColumns:
    """Which columns hold the ground truth, the predicted label and the score."""

    label: str
    prediction: str | None = None
    probability: str | None = None

    def __post_init__(self) -> None:
        if self.prediction is None and self.probability is None:
            raise ConfigurationError("give --prediction, --probability or both")

    def check(self, present: Iterable[str]) -> None:
        """Raise MissingColumnError naming what is missing and what the data has."""
        have = list(present)
        wanted = [c for c in (self.label, self.prediction, self.probability) if c is not None]
        missing = [c for c in wanted if c not in have]
        if missing:
            raise MissingColumnError(
                f"column(s) {', '.join(map(repr, missing))} not in the data; "
                f"columns present: {', '.join(have) or '(none)'}"
            )


def is_merged_record(doc: object) -> bool:
    return isinstance(doc, Mapping) and "groundTruthData" in doc and "captureData" in doc


def flatten_merged(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A merged record as a flat row: label, prediction, probability, inference_id."""
    truth = doc["groundTruthData"]
    label = ground_truth_value(str(truth.get("data", "")), str(truth.get("encoding", "CSV")))
    output = doc["captureData"].get("endpointOutput")
    try:
        outputs = parse_outputs(SageMakerPayload.model_validate(output)) if output else []
    except ValueError as exc:
        raise InvalidEventError(f"merged record's endpointOutput is unreadable: {exc}") from exc
    first = outputs[0] if outputs else None
    prediction, probability = split_output(
        first.prediction if first else None, first.probability if first else None
    )
    meta = doc.get("eventMetadata", {})
    return {
        "label": label,
        "prediction": prediction,
        "probability": probability,
        "inference_id": meta.get("inferenceId") or meta.get("eventId"),
    }


def rows_of_text(name: str, text: str) -> Iterator[dict[str, Any]]:
    """Rows of one file: CSV by suffix, else JSON Lines / a JSON array (merged records flat)."""
    lower = name.lower().removesuffix(".gz")
    if lower.endswith(".csv"):
        yield from csv.DictReader(io.StringIO(text))
        return
    stripped = text.lstrip()
    docs: Iterable[Any]
    if stripped.startswith("["):
        docs = json.loads(stripped)
    else:
        docs = (json.loads(line) for line in text.splitlines() if line.strip())
    for doc in docs:
        if is_merged_record(doc):
            yield flatten_merged(doc)
        elif isinstance(doc, Mapping):
            yield dict(doc)
        else:
            raise InvalidEventError(f"{name}: a row is not a JSON object")


def _probability(value: object) -> float:
    if value is None or value == "":
        return math.nan
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise InvalidEventError(f"probability {value!r} is not a number") from exc


def _value(value: object) -> object:
    """CSV cells are text: numbers become numbers (regression needs them), '' is absent."""
    if not isinstance(value, str):
        return value
    if value == "":
        return None
    try:
        return float(value)
    except ValueError:
        return value


def state_of_rows(
    spec: QualitySpec, rows: Iterable[Mapping[str, Any]], columns: QualityColumns
) -> QualityState:
    """Fold rows into one state; each row's replicate key is its inference id, else its number."""
    state = spec.empty()
    chunk: list[Mapping[str, Any]] = []
    seen = 0
    for row in rows:
        if seen == 0:
            columns.check(row.keys())
        chunk.append(row)
        seen += 1
        if len(chunk) == BATCH_ROWS:
            state = state.add(_pairs(chunk, columns, seen - len(chunk)))
            chunk = []
    if chunk:
        state = state.add(_pairs(chunk, columns, seen - len(chunk)))
    return state


def _pairs(rows: list[Mapping[str, Any]], columns: QualityColumns, first: int) -> Pairs:
    keys = [str(r.get("inference_id") or f"row-{first + i}") for i, r in enumerate(rows)]
    labels = [_value(r.get(columns.label)) for r in rows]
    if any(v is None for v in labels):
        raise InvalidEventError(f"a row has no value in the label column {columns.label!r}")
    preds = [_value(r.get(columns.prediction)) if columns.prediction else None for r in rows]
    probs = np.array(
        [
            _probability(r.get(columns.probability)) if columns.probability else math.nan
            for r in rows
        ]
    )
    return Pairs(keys, labels, preds, probs)
