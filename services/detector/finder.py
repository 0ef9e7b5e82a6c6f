"""Which windows a detector shard evaluates now: the ready queue (issue 23), never a scan.

Each pass reads the window index only over close times new since the last pass
(``streaming.ready.ReadyQueue``), hands out the windows whose model's watermark is past their
close, adds the failed windows whose retry time came (a Redis sorted set), and stores the
read cursor so that a restart resumes where this shard stopped. A rare, bounded repair sweep
(``repair_seconds``; over ``repair_lookback_seconds`` of close times below the cursor) finds
windows whose first partial appeared after the cursor passed their close (a partition that
was idle, or a model new on a partition); ``modelmon_detector_repair_windows`` counts them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from modelmon.config import ModelConfig
from modelmon.keys import WindowRef
from modelmon.streaming.ready import ReadyQueue, cursor_field, resume_cursor, shard_of
from modelmon.windows import NO_WATERMARK, PartitionProgress, completion_watermark

from .metrics import DetectorMetrics
from .ports import ResultStorePort, StateReaderPort

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ShardOptions:
    shards: int = 1
    shard_index: int = 0
    repair_seconds: float = 3600.0
    repair_lookback_seconds: int = 7200


class WindowFinder:
    """The complete windows of this shard's models, found from watermark moves."""

    def __init__(
        self, options: ShardOptions, reader: StateReaderPort, results: ResultStorePort,
        metrics: DetectorMetrics,
    ) -> None:  # fmt: skip
        self.options, self._reader, self._results = options, reader, results
        self._metrics = metrics
        self._field = cursor_field(options.shard_index, options.shards)
        self._queue: ReadyQueue | None = None
        self._saved = NO_WATERMARK
        self._repaired_ms: int | None = None

    def mine(self, models: Mapping[str, ModelConfig]) -> dict[str, ModelConfig]:
        n, i = self.options.shards, self.options.shard_index
        return {m: c for m, c in models.items() if n == 1 or shard_of(m, n) == i}

    def ready(
        self, registered: Mapping[str, ModelConfig], progress: list[PartitionProgress],
        parts: list[int], now_ms: int,
    ) -> dict[WindowRef, int]:  # fmt: skip
        """This shard's windows to evaluate now (close time by window): complete ones and
        failed ones due for a retry."""
        models = self.mine(registered)
        marks = {
            m: completion_watermark(  # issue 19: each model by its own watermarks
                [p.for_model(m) for p in progress], now_ms, c.window.idle_timeout_seconds * 1000
            )
            for m, c in models.items()
        }
        queue = self._load()
        span = queue.read_range(marks, now_ms)
        if span is not None:
            found = self._reader.windows(parts, span[1], span[0] + 1)
            self._metrics.index_reads.inc(len(found))
            queue.add(found, span[1], models)
        if (
            self._repaired_ms is None
            or now_ms - self._repaired_ms >= self.options.repair_seconds * 1000
        ):
            self._repair(queue, models, parts, now_ms)
        ready = queue.take_ready(marks)
        ready.update(self._retries(registered, models, now_ms))
        self._metrics.pending.set(len(queue))
        return ready

    def requeue(self, windows: Mapping[WindowRef, int]) -> None:
        """Windows handed out but not finished (stopped, claimed elsewhere, Redis down)."""
        queue = self._load()
        for ref, close in windows.items():
            queue.pending.setdefault(ref.model_id, {})[ref] = close

    def save(self) -> None:
        """Store the cursor (below every window still pending) when it moved."""
        if self._queue is None:
            return
        cursor = self._queue.durable_cursor()
        if cursor != self._saved:
            self._results.save_cursor(self._field, cursor)
            self._saved = cursor

    def _load(self) -> ReadyQueue:
        if self._queue is None:
            cursor = resume_cursor(self._results.cursors(), self._field, NO_WATERMARK)
            self._queue, self._saved = ReadyQueue(cursor), cursor
            if cursor != NO_WATERMARK:
                log.info("detector resumes from its cursor", extra={"cursor_ms": cursor})
        return self._queue

    def _repair(
        self, queue: ReadyQueue, models: Mapping[str, ModelConfig], parts: list[int], now_ms: int
    ) -> None:
        """Re-read a bounded span below the cursor for windows that appeared behind it."""
        self._repaired_ms = now_ms
        if queue.cursor_ms == NO_WATERMARK:
            return  # nothing read yet: the first read covers everything
        low = queue.cursor_ms - self.options.repair_lookback_seconds * 1000
        found = self._reader.windows(parts, queue.cursor_ms, low)
        mine = {r: c for r, c in found.items() if r.model_id in models}
        self._metrics.index_reads.inc(len(found))
        fresh = set(mine) - self._results.done(mine)
        fresh -= {r for rs in queue.pending.values() for r in rs}
        for ref in fresh:
            queue.pending.setdefault(ref.model_id, {})[ref] = mine[ref]
        self._metrics.repair_runs.inc()
        self._metrics.repair_windows.inc(len(fresh))
        if fresh:
            log.warning("repair sweep found %d windows behind the cursor", len(fresh))

    def _retries(
        self, registered: Mapping[str, ModelConfig], models: Mapping[str, ModelConfig],
        now_ms: int,
    ) -> dict[WindowRef, int]:  # fmt: skip
        """Failed windows of this shard's models whose retry time has come (those of models
        no longer registered leave the queue)."""
        due: dict[WindowRef, int] = {}
        for ref in self._results.due_retries(now_ms):
            config = models.get(ref.model_id)
            if ref.model_id not in registered:
                self._results.drop_retry(ref)
            elif config is not None:
                due[ref] = ref.end_ms + config.window.allowed_lateness_seconds * 1000
        return due


def sorted_windows(windows: Iterable[WindowRef]) -> list[WindowRef]:
    return sorted(windows, key=lambda r: (r.start_ms, r.model_id, r.size_ms))
