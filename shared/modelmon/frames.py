"""DataFrames (pandas, polars, pyarrow) as the column batches a profile takes.

Numeric columns without missing values are handed over as numpy views of the frame's own
memory (no copy); text and nullable columns go through Arrow and are converted exactly as
the file readers convert them (:func:`modelmon.readers.tabular.arrow_to_numpy`), so a frame
and the same data in a CSV or Parquet file give the same profile.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa

from modelmon.readers.stats import Columns
from modelmon.readers.tabular import arrow_to_numpy

#: Rows per batch (as many as a Parquet batch, so sketches see the data in the same steps).
BATCH_ROWS = 65_536


def frame_kind(frame: Any) -> str:
    """``"pandas"``, ``"polars"`` or ``"arrow"``; anything else is a TypeError."""
    module = type(frame).__module__.split(".")[0]
    if module == "pandas" and hasattr(frame, "columns"):
        return "pandas"
    if module == "polars" and hasattr(frame, "to_arrow"):
        return "polars"
    if isinstance(frame, pa.Table | pa.RecordBatch):
        return "arrow"
    raise TypeError(
        f"expected a pandas or polars DataFrame or a pyarrow Table, got {type(frame).__name__}"
    )


def column_names(frame: Any) -> list[str]:
    kind = frame_kind(frame)
    if kind == "arrow":
        return [str(n) for n in frame.schema.names]
    return [str(n) for n in frame.columns]


def frame_batches(frame: Any, batch_rows: int = BATCH_ROWS) -> Iterator[Columns]:
    """The frame's rows in batches of at most ``batch_rows``, column-wise."""
    kind = frame_kind(frame)
    columns = {name: _column(frame, kind, name) for name in column_names(frame)}
    rows = len(frame) if kind != "arrow" else frame.num_rows
    for start in range(0, rows, batch_rows):
        yield {name: _slice(col, start, batch_rows) for name, col in columns.items()}


def _column(frame: Any, kind: str, name: str) -> Any:
    """A numpy array (a view where the frame's memory allows) or an Arrow array."""
    if kind == "arrow":
        return frame.column(frame.schema.names.index(name))
    series = frame[name]
    if kind == "pandas":
        dtype = series.dtype
        if isinstance(dtype, np.dtype) and dtype.kind in "fiub":
            return series.to_numpy(copy=False)
        return pa.array(series, from_pandas=True)
    if series.dtype.is_numeric() and series.null_count() == 0:
        return series.to_numpy()  # zero-copy for numeric columns without nulls
    return series.to_arrow()


def _slice(column: Any, start: int, length: int) -> Any:
    if isinstance(column, np.ndarray):
        return column[start : start + length]
    return arrow_to_numpy(column.slice(start, length))
