"""CSV, Parquet and plain JSON Lines into column batches.

CSV and Parquet go through pyarrow: no Python work per field. CSV cells are read as text and
each column is converted as a whole: all-integer text becomes an int64 array (Integral),
numeric text a float64 array (Fractional, NaN = missing), anything else stays text (the
profile then counts numbers, strings and type mismatches itself).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from modelmon.readers.sources import Source
from modelmon.readers.stats import Columns, ReadStats, columns_from_rows

BLOCK_SIZE = 1 << 22  # 4 MiB of CSV text per batch
PARQUET_BATCH_ROWS = 65_536
JSON_BATCH_ROWS = 10_000


def arrow_to_numpy(arr: pa.Array | pa.ChunkedArray) -> npt.NDArray[Any]:
    """One Arrow column as the array the profile wants (see module docstring)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    kind = arr.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return _text_to_numpy(arr)
    if pa.types.is_integer(kind) or pa.types.is_boolean(kind):
        return _exact_to_numpy(arr)
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return _writable(pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False))
    if pa.types.is_temporal(kind):
        return _exact_to_numpy(pc.cast(arr, pa.string()))
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=object)


def _writable(arr: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Arrow's zero-copy arrays are read-only; DataSketches' update needs a writable one."""
    return arr if arr.flags.writeable else arr.copy()


def _exact_to_numpy(arr: pa.Array) -> npt.NDArray[Any]:
    """Integers and booleans keep their type; with nulls they become an object array."""
    if arr.null_count == 0:
        return _writable(arr.to_numpy(zero_copy_only=False))
    filler = False if pa.types.is_boolean(arr.type) else 0
    out = np.asarray(arr.fill_null(filler).to_numpy(zero_copy_only=False)).astype(object)
    out[np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)] = None
    return out


def _text_to_numpy(arr: pa.Array) -> npt.NDArray[Any]:
    for target in (pa.int64(), pa.float64()):
        try:
            converted = pc.cast(arr, target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        if target == pa.float64():
            return _writable(converted.to_numpy(zero_copy_only=False))
        return _exact_to_numpy(converted)
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=object)


def _looks_numeric(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return field.strip() == ""
    return True


def csv_column_names(
    first_line: str, header: bool | None, names: Sequence[str] | None
) -> tuple[list[str], bool]:
    """Column names and whether the first line is a header.

    ``header=None`` guesses: a first line of numbers (or blanks) is data, not names.
    Without a header, columns take ``names`` in order (e.g. the baseline's features), then
    SageMaker's ``_c<i>`` names for any column beyond them.
    """
    fields = next(csv.reader([first_line]), [])
    has_header = header if header is not None else not all(_looks_numeric(f) for f in fields)
    if has_header:
        return [f.strip() for f in fields], True
    given = list(names or [])
    return [given[i] if i < len(given) else f"_c{i}" for i in range(len(fields))], False


def read_csv(
    source: Source, stats: ReadStats, header: bool | None, names: Sequence[str] | None
) -> Iterator[Columns]:
    data = source.read_bytes()
    first_line = data.split(b"\n", 1)[0].decode("utf-8", errors="replace").rstrip("\r")
    if not first_line.strip():
        stats.empty_files += 1
        stats.note("empty file", source.name)
        return
    columns, has_header = csv_column_names(first_line, header, names)

    def bad_row(row: Any) -> str:
        stats.bad_rows += 1
        stats.note(
            f"CSV row with {row.actual_columns} field(s), expected {row.expected_columns}",
            f"{source.name}:{row.number}" if row.number is not None else source.name,
        )
        return "skip"

    reader = pacsv.open_csv(
        pa.BufferReader(data),
        read_options=pacsv.ReadOptions(
            column_names=columns, skip_rows=1 if has_header else 0, block_size=BLOCK_SIZE
        ),
        parse_options=pacsv.ParseOptions(invalid_row_handler=bad_row, newlines_in_values=False),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(columns, pa.string()), strings_can_be_null=True
        ),
    )
    for batch in reader:
        if batch.num_rows:
            yield {name: arrow_to_numpy(batch.column(i)) for i, name in enumerate(columns)}


def read_parquet(source: Source, stats: ReadStats) -> Iterator[Columns]:
    file = pq.ParquetFile(pa.BufferReader(source.read_bytes()))
    if file.metadata.num_rows == 0:
        stats.empty_files += 1
        stats.note("empty file", source.name)
        return
    for batch in file.iter_batches(batch_size=PARQUET_BATCH_ROWS):
        yield {name: arrow_to_numpy(batch.column(i)) for i, name in enumerate(batch.schema.names)}


def iter_json_lines(source: Source, stats: ReadStats) -> Iterator[tuple[int, Any]]:
    """(line number, decoded value) for each non-blank line; bad JSON is counted. A file that
    is one JSON array yields its items (numbered from 1)."""
    text = source.read_bytes()
    if not text.strip():
        stats.empty_files += 1
        stats.note("empty file", source.name)
        return
    if text.lstrip().startswith(b"["):  # a JSON array of records (e.g. a .json export)
        try:
            records = orjson.loads(text)
        except orjson.JSONDecodeError:
            stats.bad_rows += 1
            stats.note("file is not valid JSON", source.name)
            return
        yield from enumerate(records, start=1)
        return
    for number, line in enumerate(io.BytesIO(text), start=1):
        if not line.strip():
            continue
        try:
            yield number, orjson.loads(line)
        except orjson.JSONDecodeError:
            stats.bad_rows += 1
            stats.note("line is not valid JSON", f"{source.name}:{number}")


def read_json_lines(source: Source, stats: ReadStats) -> Iterator[Columns]:
    """Plain JSON Lines: one flat object per line, keys are feature names."""
    rows: list[dict[str, Any]] = []
    for number, value in iter_json_lines(source, stats):
        if not isinstance(value, dict):
            stats.bad_rows += 1
            stats.note("JSON line is not an object", f"{source.name}:{number}")
            continue
        rows.append(value)
        if len(rows) >= JSON_BATCH_ROWS:
            yield columns_from_rows(rows)
            rows = []
    if rows:
        yield columns_from_rows(rows)
