"""Which windows a detector shard evaluates now: the ready queue (issue 23), never a scan.

Each pass computes this shard's models' completion watermarks; for each model whose watermark
moved past its cursor, the windows closing in between are looked up (a few candidates by
ZSCORE, a long jump by one ranged read of the index shared by every such model) and handed
out; failed windows whose retry time came are added from their queue (a Redis sorted set).
The cursors are stored (one hash field per model) so that a restart, or another detector
taking the model over, resumes exactly there. A rare, bounded repair sweep
(``repair_seconds``, over ``repair_lookback_seconds`` of close times below each cursor)
finds windows whose first partial appeared behind the cursor (a partition that never carried
the model, or was idle); ``modelmon_detector_repair_windows`` counts what it finds.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from modelmon.config import ModelConfig
from modelmon.keys import WindowRef
from modelmon.streaming.ready import Cursors, ModelMarks, candidates, in_ranges, shard_of
from modelmon.windows import NO_WATERMARK, PartitionProgress, WindowSpec, completion_watermark

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
        self._cursors: Cursors | None = None
        self._saved: dict[str, int] = {}
        self._repaired_ms: int | None = None

    def mine(self, models: Mapping[str, ModelConfig]) -> dict[str, ModelConfig]:
        n, i = self.options.shards, self.options.shard_index
        return {m: c for m, c in models.items() if n == 1 or shard_of(m, n) == i}

    def ready(
        self, registered: Mapping[str, ModelConfig], progress: list[PartitionProgress],
        parts: list[int], now_ms: int,
    ) -> dict[WindowRef, int]:  # fmt: skip
        """This shard's windows to evaluate now (close time by window): complete ones,
        requeued ones, and failed ones due for a retry."""
        models = self.mine(registered)
        cursors = self._load()
        steps: list[WindowRef] = []
        jumps: dict[str, tuple[int, int]] = {}
        looked: dict[str, tuple[ModelMarks, int]] = {}
        complete: dict[str, int] = {}
        for model_id, config in models.items():
            marks = model_marks(model_id, progress, now_ms, config)
            if marks is None:
                continue  # no partition carries the model yet: it has no windows
            complete[model_id] = min(marks.mark, now_ms)
            spec = WindowSpec.from_config(config.window)
            span = cursors.look_range(model_id, marks, spec.size_ms + spec.lateness_ms, now_ms)
            if span is None:
                continue
            found = candidates(model_id, spec, *span)
            if found is None:
                jumps[model_id] = span
            else:
                steps += found
            looked[model_id] = (marks, span[1])
        hits = self._reader.scores(steps, parts) if steps else {}
        self._metrics.candidates.inc(len(steps))
        if jumps:
            low, high = min(s[0] for s in jumps.values()), max(s[1] for s in jumps.values())
            found_all = self._reader.windows(parts, high, None if low == NO_WATERMARK else low + 1)
            self._metrics.index_reads.inc(len(found_all))
            hits.update(in_ranges(found_all, jumps))
        ready = cursors.fresh(hits)
        for model_id, (marks, high) in looked.items():
            cursors.looked(model_id, marks, high)
        try:  # the cursors moved past ``ready``: a failure now must not lose it (requeued)
            self._repair_when_due(cursors, complete, parts, now_ms)
            retries = self._retries(registered, models, now_ms)
        except BaseException:
            cursors.pending.update(ready)
            raise
        ready.update({r: c for r, c in cursors.pending.items() if r.model_id in models})
        cursors.pending.clear()
        ready.update(retries)
        return ready

    def requeue(self, windows: Mapping[WindowRef, int]) -> None:
        """Windows handed out but not finished (stopped, claimed elsewhere, Redis down)."""
        self._load().pending.update(windows)

    def save(self) -> None:
        """Store the cursors that moved (each below its model's unfinished windows)."""
        if self._cursors is None:
            return
        stored = self._cursors.stored()
        moved = {m: c for m, c in stored.items() if self._saved.get(m) != c}
        if moved:
            self._results.save_cursors(moved)
            self._saved.update(moved)

    def _load(self) -> Cursors:
        if self._cursors is None:
            stored = self._results.cursors()
            self._cursors, self._saved = Cursors(dict(stored)), dict(stored)
            if stored:
                log.info("detector resumes from stored cursors", extra={"models": len(stored)})
        return self._cursors

    def _repair_when_due(
        self, cursors: Cursors, complete: Mapping[str, int], parts: list[int], now_ms: int
    ) -> None:
        """Every ``repair_seconds`` (not at start: the cursors are exact), re-read a bounded
        span below the cursors for windows that appeared behind them (and are complete:
        ``complete`` is each model's completion point)."""
        if self._repaired_ms is None:
            self._repaired_ms = now_ms
        if now_ms - self._repaired_ms < self.options.repair_seconds * 1000:
            return
        self._repaired_ms = now_ms
        lookback = self.options.repair_lookback_seconds * 1000
        ranges = {
            m: (cursors.of(m) - lookback, min(cursors.of(m), done_to))
            for m, done_to in complete.items()
            if cursors.of(m) != NO_WATERMARK
        }
        if not ranges:
            return
        low, high = min(r[0] for r in ranges.values()), max(r[1] for r in ranges.values())
        found = in_ranges(self._reader.windows(parts, high, low + 1), ranges)
        self._metrics.index_reads.inc(len(found))
        fresh = set(found) - self._results.done(found) - set(cursors.pending)
        cursors.pending.update({ref: found[ref] for ref in fresh})
        self._metrics.repair_runs.inc()
        self._metrics.repair_windows.inc(len(fresh))
        if fresh:
            log.warning("repair sweep found %d windows behind the cursors", len(fresh))

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


def model_marks(
    model_id: str, progress: list[PartitionProgress], now_ms: int, config: ModelConfig
) -> ModelMarks | None:
    """The model's completion watermark and its raw watermarks' range on the partitions
    that carry it (None: none does yet)."""
    raw = [
        p.model_watermarks[model_id] if p.model_watermarks is not None else p.watermark_ms
        for p in progress
        if (p.model_watermarks is not None and model_id in p.model_watermarks)
        or (p.model_watermarks is None and p.watermark_ms is not None)
    ]
    marks = [w for w in raw if w is not None]
    if not marks:
        return None
    mark = completion_watermark(  # issue 19: each model by its own watermarks
        [p.for_model(model_id) for p in progress], now_ms,
        config.window.idle_timeout_seconds * 1000,
    )  # fmt: skip
    return ModelMarks(mark, min(marks), max(marks))


def sorted_windows(windows: set[WindowRef]) -> list[WindowRef]:
    return sorted(windows, key=lambda r: (r.start_ms, r.model_id, r.size_ms))
