"""Window results in two tiers (issue 23): Redis (hot) and Parquet files (durable).

Redis keeps ``results.hot_retention_seconds`` of results and feature series (the live path,
the dashboard's recent view). Every result is also written, before its window is marked done,
as one Parquet file beside the window's report files::

    {durable}/{endpoint}/{schedule}/yyyy/mm/dd/hh/[MMSS/][rolling-K/]window-result.parquet

(the report layout, ``detection.report_path``), one row: ``score`` (the Redis score: window
start, or the view's end for a rolling view), ``model_id``, ``rolling`` and ``result`` (the
WindowResult JSON exactly as Redis holds it, so either tier serves the same bytes). Readers
(``TieredResults``) serve a range from Redis where it still holds it and from the files for
what is older. Files past ``results.durable_retention_days`` are deleted (``prune``), a day at
a time. The store (S3 or a directory, ``archive.store``) is handed in.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from modelmon.config import ModelConfig, endpoint_name
from modelmon.events import WindowResult
from modelmon.names import check_name

FILE_NAME = "window-result.parquet"
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
_SCHEMA = pa.schema(
    [("score", pa.int64()), ("model_id", pa.string()), ("rolling", pa.bool_()),
     ("result", pa.string())]
)  # fmt: skip
#: ``.../yyyy/mm/dd/hh/`` of a file's path: the hour of the (last) window's start.
_HOUR = re.compile(r"/(\d{4})/(\d\d)/(\d\d)/(\d\d)/")


class DurableStore(Protocol):
    """``archive.store.S3Store`` / ``LocalStore`` (put, list, get) plus ``delete``."""

    def put(self, key: str, body: bytes) -> None: ...

    def list(self, prefix: str) -> Iterator[str]: ...

    def get(self, key: str) -> bytes: ...

    def delete(self, keys: Sequence[str]) -> None: ...


def endpoint_path(config: ModelConfig) -> str:
    """``{endpoint}/{schedule}/``: where a model's files start (``detection.report_path``)."""
    endpoint = check_name(endpoint_name(config.model_id, config), "endpoint name")
    return f"{endpoint}/{check_name(config.schedule_name, 'schedule name')}/"


def score_of(result: WindowResult) -> int:
    """The result's Redis score: the window start, or a rolling view's end."""
    at = result.window_end if result.rolling_windows > 1 else result.window_start
    return int(at.timestamp() * 1000)


def encode(result: WindowResult) -> bytes:
    """One result as a one-row Parquet file."""
    row = {
        "score": [score_of(result)], "model_id": [result.model_id],
        "rolling": [result.rolling_windows > 1], "result": [result.model_dump_json()],
    }  # fmt: skip
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pydict(row, schema=_SCHEMA), sink, compression="zstd")
    return sink.getvalue()


def decode(blob: bytes) -> list[tuple[int, bool, bytes]]:
    """(score, rolling, WindowResult JSON) of each row of a results file."""
    table = pq.read_table(io.BytesIO(blob))
    cols = table.to_pydict()
    return [
        (int(s), bool(r), str(j).encode())
        for s, r, j in zip(cols["score"], cols["rolling"], cols["result"], strict=True)
    ]


def _day(ms: int) -> datetime:
    t = datetime.fromtimestamp(ms / 1000, UTC)
    return datetime(t.year, t.month, t.day, tzinfo=UTC)


def _hour_ms(key: str) -> int | None:
    m = _HOUR.search(key)
    if m is None:
        return None
    y, mo, d, h = (int(g) for g in m.groups())
    return int(datetime(y, mo, d, h, tzinfo=UTC).timestamp() * 1000)


@dataclass
class DurableResults:
    """Every window result, one Parquet file each, under ``prefix`` of ``store``."""

    store: DurableStore
    prefix: str = ""

    def _key(self, path: str) -> str:
        base = self.prefix.strip("/")
        return (base + "/" if base else "") + path

    def write(self, result: WindowResult, report_path: str) -> None:
        """``report_path``: the window's directory (``detection.report_path``)."""
        self.store.put(self._key(report_path + FILE_NAME), encode(result))

    def read(
        self, endpoint_path: str, start_ms: int, end_ms: int, rolling: bool = False
    ) -> list[tuple[int, bytes]]:
        """(score, JSON) of the results with ``start_ms <= score < end_ms``, by score;
        ``endpoint_path``: ``{endpoint}/{schedule}/``."""
        found: dict[int, bytes] = {}
        day, last = _day(start_ms), _day(max(start_ms, end_ms - 1))
        while day <= last:
            prefix = self._key(endpoint_path + f"{day:%Y/%m/%d}/")
            for key in self.store.list(prefix):
                hour = _hour_ms(key)
                if not key.endswith("/" + FILE_NAME) or ("/rolling-" in key) != rolling:
                    continue
                if hour is None or hour + 2 * HOUR_MS <= start_ms or hour >= end_ms:
                    continue  # a rolling view's score (its end) may be past its start's hour
                for score, _, blob in decode(self.store.get(key)):
                    if start_ms <= score < end_ms:
                        found[score] = blob
            day += timedelta(days=1)
        return sorted(found.items())

    def prune(self, endpoint_path: str, cutoff_ms: int, days_back: int = 7) -> int:
        """Delete the files of the ``days_back`` whole days before ``cutoff_ms``'s day;
        returns how many (run at least once every ``days_back`` days: nothing is missed)."""
        deleted = 0
        day = _day(cutoff_ms)
        for back in range(1, days_back + 1):
            prefix = self._key(endpoint_path + f"{day - timedelta(days=back):%Y/%m/%d}/")
            keys = [k for k in self.store.list(prefix) if k.endswith("/" + FILE_NAME)]
            if keys:
                self.store.delete(keys)
                deleted += len(keys)
        return deleted


def merge_tiers(
    durable: list[tuple[int, bytes]], hot: list[tuple[int, bytes]]
) -> list[tuple[int, bytes]]:
    """One series from both tiers: Redis wins where both hold a score (it is never older)."""
    merged = dict(durable)
    merged.update(hot)
    return sorted(merged.items())
