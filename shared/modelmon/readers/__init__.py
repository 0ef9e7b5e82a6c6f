"""Input data for profiles: files, folders and S3 prefixes of CSV, JSON Lines, Parquet and
capture records (modelmon's and SageMaker's), read in column batches.

Bad input never stops a read: unreadable files and rows, records outside the time range
and empty files are counted in :class:`ReadStats` (with where each problem first occurred).
A path that does not exist or holds no data files is a :class:`DataSourceError`.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, overload

import orjson
import pyarrow as pa

from modelmon.profile import DatasetProfile, FeatureKind, ProfileTracker
from modelmon.readers.capture import (
    TimeRange,
    is_modelmon_record,
    is_sagemaker_record,
    read_capture,
)
from modelmon.readers.sources import DataSourceError, Source, list_sources
from modelmon.readers.stats import Columns, ProfileColumns, ReadStats, row_count
from modelmon.readers.tabular import read_csv, read_json_lines, read_parquet

__all__ = [
    "Columns",
    "DataReader",
    "DataSourceError",
    "ReadOptions",
    "ReadProgress",
    "ReadStats",
    "TimeRange",
    "read_profile",
]

Format = Literal["auto", "csv", "jsonl", "parquet", "capture"]
FORMATS: tuple[str, ...] = ("auto", "csv", "jsonl", "parquet", "capture")

#: Failures of one file that are the file's fault, not ours: counted, then the read goes on.
_FILE_ERRORS = (pa.ArrowException, OSError, EOFError, zlib.error, gzip.BadGzipFile, UnicodeError)


@dataclass(frozen=True)
class ReadOptions:
    """How to read. ``names`` name positional data (header-less CSV, CSV/list capture
    payloads): usually the baseline's features, in order."""

    format: Format = "auto"
    header: bool | None = None
    names: Sequence[str] = ()
    window: TimeRange = field(default_factory=TimeRange)


@dataclass(frozen=True)
class ReadProgress:
    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int
    rows: int


class DataReader:
    """Reads every source under ``paths`` as column batches; counts what it had to skip."""

    def __init__(
        self,
        paths: Sequence[str],
        options: ReadOptions | None = None,
        *,
        s3_client: Callable[[], Any] | None = None,
        progress: Callable[[ReadProgress], None] | None = None,
    ) -> None:
        self.options = options or ReadOptions()
        self.stats = ReadStats()
        self._progress = progress
        self.sources: list[Source] = list_sources(paths, s3_client)

    @overload
    def batches(self, encoded: Literal[False] = False) -> Iterator[Columns]: ...
    @overload
    def batches(self, encoded: Literal[True]) -> Iterator[ProfileColumns]: ...
    def batches(self, encoded: bool = False) -> Iterator[Any]:
        """Column batches of every source in turn; progress after every batch and file.
        ``encoded``: CSV/Parquet text columns come as ``EncodedText`` (for the profile)."""
        for done, source in enumerate(self.sources):
            self.stats.files += 1
            try:
                for batch in self._read_one(source, encoded):
                    self.stats.rows += row_count(batch)
                    self._report(done)
                    yield batch
            except _FILE_ERRORS as exc:
                self.stats.files_failed += 1
                self.stats.note(f"unreadable file ({type(exc).__name__}: {exc})"[:200], source.name)
            self.stats.bytes_read += source.size
            self._report(done + 1)

    def _report(self, files_done: int) -> None:
        if self._progress is not None:
            stats, total = self.stats, sum(s.size for s in self.sources)
            self._progress(
                ReadProgress(files_done, len(self.sources), stats.bytes_read, total, stats.rows)
            )

    def _read_one(self, source: Source, encoded: bool) -> Iterator[ProfileColumns]:
        fmt = self.options.format
        if fmt == "auto":
            fmt = _detect(source)
        if fmt == "csv":
            opts = self.options
            return read_csv(source, self.stats, opts.header, opts.names, encoded)
        if fmt == "parquet":
            return read_parquet(source, self.stats, encoded)
        if fmt == "capture":
            return read_capture(source, self.stats, self.options.names, self.options.window)
        return read_json_lines(source, self.stats)


def _detect(source: Source) -> Format:
    """The format of one file: by suffix, and for JSON by its first record."""
    if source.suffix == ".csv":
        return "csv"
    if source.suffix == ".parquet":
        return "parquet"
    try:
        first = orjson.loads(source.first_line())
    except orjson.JSONDecodeError:
        return "jsonl"
    return "capture" if is_sagemaker_record(first) or is_modelmon_record(first) else "jsonl"


def read_profile(
    reader: DataReader,
    kinds: dict[str, FeatureKind] | None = None,
    exclude: Sequence[str] = (),
) -> tuple[DatasetProfile, list[str]]:
    """Profile everything ``reader`` yields; returns the profile and every column (excluded
    ones too) in the order first seen. ``exclude``: columns that are not features (a label)."""
    tracker = ProfileTracker(kinds)
    order: dict[str, None] = {}
    skip = set(exclude)
    for batch in reader.batches(encoded=True):
        order.update(dict.fromkeys(batch))
        columns = {k: v for k, v in batch.items() if k not in skip} if skip else batch
        if columns:
            tracker.update(columns)
    return tracker.snapshot(), list(order)
