"""Reads a model's background (baseline) data: the configured features as a float matrix."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import orjson

from modelmon.explain.shapley import ExplainerSetupError

#: Rows read at most (a background is a sample: k-means or a seeded sample picks from these).
MAX_ROWS = 100_000


def read_background(path: Path, features: Sequence[str]) -> np.ndarray:
    """``features`` of ``path`` (.csv with a header, .parquet, .jsonl) as float64 rows; rows with
    a missing or non-numeric value are dropped. ExplainerSetupError when it cannot be used."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".jsonl":
            columns = _jsonl_columns(path, features)
        elif suffix in (".csv", ".parquet"):
            columns = _arrow_columns(path, features, suffix)
        else:
            raise ExplainerSetupError(
                f"{path.name}: background data must be .csv, .parquet or .jsonl"
            )
    except OSError as exc:
        raise ExplainerSetupError(f"{path.name}: cannot read the background data: {exc}") from exc
    matrix = np.column_stack(columns) if columns else np.empty((0, 0))
    keep = np.all(np.isfinite(matrix), axis=1)
    matrix = matrix[keep][:MAX_ROWS]
    if matrix.shape[0] == 0:
        raise ExplainerSetupError(f"{path.name}: no complete numeric rows of {list(features)}")
    return matrix


def _arrow_columns(path: Path, features: Sequence[str], suffix: str) -> list[np.ndarray]:
    import pyarrow as pa
    import pyarrow.compute as pc

    if suffix == ".csv":
        from pyarrow import csv

        table = csv.read_csv(path, convert_options=csv.ConvertOptions(include_columns=features))
    else:
        from pyarrow import parquet

        table = parquet.read_table(path, columns=list(features))
    missing = [f for f in features if f not in table.column_names]
    if missing:
        raise ExplainerSetupError(f"{path.name}: no column(s) {missing}")
    out = []
    for name in features:
        column = table.column(name)
        try:
            column = pc.cast(column, pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise ExplainerSetupError(f"{path.name}: column {name!r} is not numeric") from exc
        out.append(column.to_numpy(zero_copy_only=False).astype(np.float64))
    return out


def _jsonl_columns(path: Path, features: Sequence[str]) -> list[np.ndarray]:
    rows: list[list[float]] = []
    with path.open("rb") as handle:
        for line in handle:
            if len(rows) >= MAX_ROWS:
                break
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            values = record.get("inputs", record) if isinstance(record, dict) else None
            if isinstance(values, dict):
                rows.append([_number(values.get(f)) for f in features])
    array = np.array(rows, dtype=np.float64).reshape(len(rows), len(features))
    return [array[:, i] for i in range(len(features))]


def _number(value: object) -> float:
    if isinstance(value, bool | int | float) and not isinstance(value, str):
        return float(value)
    return float("nan")
