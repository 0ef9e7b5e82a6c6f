"""CSV, Parquet and plain JSON Lines into column batches.

CSV and Parquet go through pyarrow: no Python work per field. CSV cells are read as text and
each column is converted as a whole: all-integer text becomes an int64 array (Integral),
numeric text a float64 array (Fractional, NaN = missing), anything else stays text (the
profile then counts numbers, strings and type mismatches itself).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from modelmon.profile.encoded import EncodedText
from modelmon.profile.numbers import Numbers
from modelmon.readers.sources import Source
from modelmon.readers.stats import Columns, ProfileColumns, ReadStats, columns_from_rows

#: CSV cells that are missing values: empty and NaN text, as the profile treats Python values
#: (and SageMaker's Spark reader empty cells). "NA" or "null" are text like any other.
NULL_TEXT = ["", "nan", "NaN", "NAN", "-nan", "+nan", "-NaN", "+NaN"]
_BOM = b"\xef\xbb\xbf"
BLOCK_SIZE = 1 << 22  # 4 MiB of CSV text per batch
PARQUET_BATCH_ROWS = 65_536
JSON_BATCH_ROWS = 10_000


_NOT_INTEGER = r"[^0-9+\- ]"
_INTEGER = r"^ *[+-]?[0-9]+ *$"


def arrow_to_numpy(arr: pa.Array | pa.ChunkedArray) -> npt.NDArray[Any] | Numbers:
    """One Arrow column as the array the profile wants (see module docstring).

    Built from Arrow's buffers with numpy: pyarrow's own ``to_numpy`` imports pandas, which
    costs seconds at start-up.
    """
    column = _convert(arr, encoded=False)
    assert not isinstance(column, EncodedText)
    return column


def arrow_to_column(arr: pa.Array | pa.ChunkedArray) -> npt.NDArray[Any] | Numbers | EncodedText:
    """``arrow_to_numpy``, but a text column that is not numeric stays dictionary-encoded
    (``EncodedText``: no Python string per row; the profile's rules are unchanged)."""
    return _convert(arr, encoded=True)


def _convert(
    arr: pa.Array | pa.ChunkedArray, encoded: bool
) -> npt.NDArray[Any] | Numbers | EncodedText:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    kind = arr.type
    if encoded and pa.types.is_dictionary(kind) and _is_text(kind.value_type):
        return _encode(pc.cast(arr, kind.value_type))  # as _objects would: text, never numbers
    if _is_text(kind):
        return _text_to_numpy(arr, encoded)
    if pa.types.is_integer(kind):
        return _exact(pc.cast(arr, pa.int64()), np.dtype(np.int64))
    if pa.types.is_boolean(kind):
        return _exact(pc.cast(arr, pa.int8()), np.dtype(np.int8)).astype(
            bool if arr.null_count == 0 else object
        )
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return _floats(pc.cast(arr, pa.float64()))
    if pa.types.is_temporal(kind):
        return _objects(pc.cast(arr, pa.string()))
    return _objects(arr)


def _buffer(arr: pa.Array, dtype: np.dtype[Any]) -> npt.NDArray[Any]:
    """A null-free fixed-width array as a writable numpy copy."""
    data = arr.buffers()[1]
    view = np.frombuffer(data, dtype=dtype, count=len(arr) + arr.offset)[arr.offset :]
    return view.copy()


def _floats(arr: pa.Array) -> npt.NDArray[np.float64]:
    if arr.null_count:
        arr = pc.fill_null(arr, np.nan)
    return _buffer(arr, np.dtype(np.float64))


def _exact(arr: pa.Array, dtype: np.dtype[Any]) -> npt.NDArray[Any]:
    """Integers keep their type; with nulls they become an object array with None."""
    if arr.null_count == 0:
        return _buffer(arr, dtype)
    values = _buffer(pc.fill_null(arr, 0), dtype).astype(object)
    nulls = _buffer(pc.cast(pc.is_null(arr), pa.int8()), np.dtype(np.int8)).astype(bool)
    values[nulls] = None
    return values


def _objects(arr: pa.Array) -> npt.NDArray[Any]:
    out = np.empty(len(arr), dtype=object)
    out[:] = arr.to_pylist()
    return out


def _is_text(kind: pa.DataType) -> bool:
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def _encode(arr: pa.Array) -> EncodedText:
    """A string column dictionary-encoded: texts in order of first appearance, -1 for null."""
    enc = pc.dictionary_encode(arr)
    indices = pc.cast(enc.indices, pa.int64())
    codes = _buffer(indices, np.dtype(np.int64))  # null slots hold garbage: masked next
    if indices.null_count:
        nulls = _buffer(pc.cast(pc.is_null(indices), pa.int8()), np.dtype(np.int8))
        codes[nulls.astype(bool)] = -1
    return EncodedText(enc.dictionary.to_pylist(), codes)


def _first_value(arr: pa.Array) -> str | None:
    valid = pc.drop_null(arr.slice(0, 64))
    return str(valid[0].as_py()) if len(valid) else None


def _text_to_numpy(arr: pa.Array, encoded: bool) -> npt.NDArray[Any] | Numbers | EncodedText:
    """Integer text -> int64, decimal text -> float64, anything else -> str objects.

    The common cases cost one vectorised cast: a column whose first value is not a number is
    text; otherwise the float cast decides, and text without ``.``, ``e`` or letters is integer.
    """
    first = _first_value(arr)
    if first is None:
        return np.full(len(arr), np.nan)
    text = _encode if encoded else _objects
    # "5_1": Python's float() reads 51, Arrow's cast fails (text either way): skip the cast
    if "_" in first or not _looks_numeric(first):
        return text(arr)
    try:
        floats = pc.cast(arr, pa.float64())
    except pa.ArrowInvalid:
        return text(arr)
    if pc.any(pc.match_substring_regex(arr, _NOT_INTEGER)).as_py():
        return _typed_floats(arr, floats)
    try:
        return _exact(pc.cast(arr, pa.int64()), np.dtype(np.int64))
    except pa.ArrowInvalid:  # beyond int64
        return _floats(floats)


def _typed_floats(text: pa.Array, floats: pa.Array) -> npt.NDArray[Any] | Numbers:
    """Decimal and integer text mixed: the numbers, and which were integers (SageMaker types
    each value: "7" is Integral and "7.5" Fractional within one column)."""
    values = _floats(floats)
    integral = pc.fill_null(pc.match_substring_regex(text, _INTEGER), False)
    mask = _buffer(pc.cast(integral, pa.int8()), np.dtype(np.int8)).astype(bool)
    return Numbers(values, mask) if mask.any() else values


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

    Without a header, columns take ``names`` in order (e.g. the baseline's features), then
    SageMaker's ``_c<i>`` names for any column beyond them. ``header=None`` guesses with
    :func:`looks_like_header`.
    """
    try:
        fields = [f.strip() for f in next(csv.reader([first_line]), [])]
    except csv.Error:  # e.g. a lone carriage return inside the line: split plainly
        fields = [f.strip() for f in first_line.split(",")]
    has_header = header if header is not None else looks_like_header(fields, names)
    if has_header:
        return _unique(fields), True
    given = list(names or [])
    return [given[i] if i < len(given) else f"_c{i}" for i in range(len(fields))], False


def _unique(fields: Sequence[str]) -> list[str]:
    """Header names made unique (a repeated ``x`` becomes ``x.1``, ``x.2``...); empty ones
    get SageMaker's ``_c<i>``."""
    seen: dict[str, int] = {}
    out = []
    for i, field in enumerate(fields):
        name = field or f"_c{i}"
        count = seen.get(name, 0)
        seen[name] = count + 1
        out.append(name if count == 0 else f"{name}.{count}")
    return out


def looks_like_header(fields: Sequence[str], names: Sequence[str] | None) -> bool:
    """A first line naming a known feature is a header; one holding a number is data; a line
    of text only is a header (use --no-header for header-less data of text alone)."""
    if names and set(fields) & set(names):
        return True
    return not any(f and _looks_numeric(f) for f in fields)


def read_csv(
    source: Source,
    stats: ReadStats,
    header: bool | None,
    names: Sequence[str] | None,
    encoded: bool = False,
) -> Iterator[ProfileColumns]:
    """Column batches of a CSV file (``encoded``: text columns as ``EncodedText``)."""
    first_line = source.first_line().decode("utf-8-sig", errors="replace")  # BOM: Excel
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

    # Local plain files go to pyarrow by path (native, streamed); others as a stream.
    stream: Any = source.local_path if source.local_path and not source.gzipped else source.open()
    reader = pacsv.open_csv(
        stream,
        read_options=pacsv.ReadOptions(
            column_names=columns, skip_rows=1 if has_header else 0, block_size=BLOCK_SIZE
        ),
        parse_options=pacsv.ParseOptions(invalid_row_handler=bad_row, newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(columns, pa.string()),
            strings_can_be_null=True,
            null_values=NULL_TEXT,
        ),
    )
    for batch in reader:
        if batch.num_rows:
            yield {name: _convert(batch.column(i), encoded) for i, name in enumerate(columns)}


def csv_lines_to_columns(lines: list[str], names: list[str]) -> Columns:
    """Header-less CSV lines, all with ``len(names)`` fields, as typed columns."""
    table = pacsv.read_csv(
        pa.py_buffer("\n".join(lines).encode("utf-8")),
        read_options=pacsv.ReadOptions(column_names=names, use_threads=False),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            strings_can_be_null=True,
            null_values=NULL_TEXT,
        ),
    )
    return {name: arrow_to_numpy(table.column(i)) for i, name in enumerate(names)}


def read_parquet(
    source: Source, stats: ReadStats, encoded: bool = False
) -> Iterator[ProfileColumns]:
    """Column batches of a Parquet file (``encoded``: text columns as ``EncodedText``)."""
    where: Any = source.local_path or pa.BufferReader(source.read_bytes())
    file = pq.ParquetFile(where)
    if file.metadata.num_rows == 0:
        stats.empty_files += 1
        stats.note("empty file", source.name)
        return
    for batch in file.iter_batches(batch_size=PARQUET_BATCH_ROWS):
        names = batch.schema.names
        yield {name: _convert(batch.column(i), encoded) for i, name in enumerate(names)}


def iter_json_lines(source: Source, stats: ReadStats) -> Iterator[tuple[int, Any]]:
    """(line number, decoded value) for each non-blank line; bad JSON is counted. A file that
    is one JSON array yields its items (numbered from 1)."""
    seen = False
    with source.open() as stream:
        for number, raw in enumerate(stream, start=1):
            line = raw.removeprefix(_BOM) if number == 1 else raw
            if not line.strip():
                continue
            if not seen and line.lstrip().startswith(b"["):
                yield from _json_array(line + stream.read(), source, stats)
                return
            seen = True
            try:
                yield number, orjson.loads(line)
            except orjson.JSONDecodeError:
                stats.bad_rows += 1
                stats.note("line is not valid JSON", f"{source.name}:{number}")
    if not seen:
        stats.empty_files += 1
        stats.note("empty file", source.name)


def _json_array(text: bytes, source: Source, stats: ReadStats) -> Iterator[tuple[int, Any]]:
    """A file holding one JSON array of records (e.g. a .json export)."""
    try:
        records = orjson.loads(text)
    except orjson.JSONDecodeError:
        stats.bad_rows += 1
        stats.note("file is not valid JSON", source.name)
        return
    yield from enumerate(records if isinstance(records, list) else [records], start=1)


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
