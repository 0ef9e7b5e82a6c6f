"""The joiner: the internal join topic -> pending state, joined pairs and window quality, exactly
once through the fenced flush (``modelmon.quality.store``); then evaluation of the windows the
flush changed, at least once: the flush marks them durably, the joiner clears a mark only after
the window's results are delivered, and re-drives the marks it finds when it gains a partition.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Message, TopicPartition

from modelmon.bias.state import BiasState, merge_all
from modelmon.bias.stream import (
    BiasEvaluation,
    IntervalOptions,
    add_delta,
    evaluate_bias,
    joined_rows,
)
from modelmon.errors import FencedWriteError, InvalidEventError
from modelmon.quality.evaluate import QualityEvaluation, evaluate
from modelmon.quality.join import JoinPartition, ModelQuality, add_pairs, decode
from modelmon.quality.problem import QualityState
from modelmon.quality.store import JoinFlush, JoinStore, Unevaluated, WindowWrite

from .metrics import LabelJoinMetrics

log = logging.getLogger(__name__)


@dataclass
class PartitionRun:
    """One owned partition: the offset Redis holds, the next one to read, changes since."""

    stored: int | None
    next: int | None
    changes: JoinPartition
    unchecked: bool = True  # its unevaluated windows not yet read since it was gained

    def accepts(self, offset: int) -> bool:
        return self.next is None or offset >= self.next


class Joiner:
    """Owns the join consumer and the per-partition changes; flushes through the store."""

    def __init__(
        self,
        consumer: Consumer,
        store: JoinStore,
        models: Callable[[], Mapping[str, ModelQuality]],
        *,
        topic: str,
        partitions: int,
        publish: Callable[[QualityEvaluation, ModelQuality], None],
        publish_rolling: Callable[[QualityEvaluation], None] | None = None,
        publish_bias: Callable[[BiasEvaluation, ModelQuality], None] | None = None,
        retry: Callable[[str, Callable[[], Any]], Any],
        clock_ms: Callable[[], int],
        metrics: LabelJoinMetrics,
        deliver: Callable[[], bool] = lambda: True,
    ) -> None:
        """``deliver`` sends what the publishers queued and says whether all of it went out:
        only then are the evaluated windows' marks cleared."""
        self._consumer, self.store, self._models = consumer, store, models
        self._deliver = deliver
        self.topic, self.partitions = topic, partitions
        self._publish, self._retry, self._clock_ms = publish, retry, clock_ms
        self._publish_rolling, self._publish_bias = publish_rolling, publish_bias
        self.metrics = metrics
        self.owned: dict[int, PartitionRun] = {}

    def start(self) -> None:
        self._consumer.subscribe(
            [self.topic], on_assign=self._on_assign, on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )  # fmt: skip

    def close(self) -> None:
        self.flush()
        self._consumer.close()

    # -- rebalance ------------------------------------------------------------------------
    def _fresh(self, p: int) -> PartitionRun:
        stored = self._retry(f"load join partition {p}", lambda: self.store.load(p))
        return PartitionRun(stored.offset, stored.offset, JoinPartition(stored.watermark))

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            run = self.owned[tp.partition] = self._fresh(tp.partition)
            tp.offset = run.stored if run.stored is not None else OFFSET_BEGINNING
        consumer.assign(partitions)
        self.metrics.partitions.set(len(self.owned))

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.flush(only=[tp.partition for tp in partitions])
        for tp in partitions:
            self.owned.pop(tp.partition, None)
        self.metrics.partitions.set(len(self.owned))

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self.owned.pop(tp.partition, None)
        self.metrics.partitions.set(len(self.owned))

    # -- batches --------------------------------------------------------------------------
    def step(self, batch_size: int, timeout: float) -> int:
        msgs = [m for m in self._consumer.consume(batch_size, timeout) if m.error() is None]
        by_partition: dict[int, list[Message]] = {}
        for m in msgs:
            by_partition.setdefault(m.partition() or 0, []).append(m)
        models = self._models() if msgs else {}
        for p, chunk in by_partition.items():
            run = self.owned.get(p)
            if run is not None:
                self._process(p, run, [m for m in chunk if run.accepts(m.offset() or 0)], models)
        return len(msgs)

    def _process(
        self, p: int, run: PartitionRun, chunk: list[Message], models: Mapping[str, ModelQuality]
    ) -> None:
        if not chunk:
            return
        records = []
        for m in chunk:
            try:
                records.append(decode(m.value() or b""))
            except InvalidEventError as exc:  # only our router writes here: log, count, go on
                log.warning("skipping an unreadable join record: %s", exc, extra={"partition": p})
                self.metrics.joined.labels("unreadable").inc()
        changes = run.changes
        ids = changes.need(records)
        found = self._retry("read join state", lambda: self.store.lookup(p, ids))
        for inference_id, (entry, joined) in zip(ids, found, strict=True):
            changes.learn(inference_id, entry, joined)
        for record in records:
            changes.apply(record, models)
        run.next = (chunk[-1].offset() or 0) + 1

    # -- flushing -------------------------------------------------------------------------
    def flush(self, only: list[int] | None = None) -> None:
        """Flushes the owned partitions with changes, then evaluates every window their flushes
        (or a predecessor's unevaluated ones) changed."""
        models = self._models()
        committed: list[TopicPartition] = []
        due: list[int] = []
        for p in list(only if only is not None else self.owned):
            run = self.owned.get(p)
            if run is None:
                continue
            if run.next is not None and run.next != run.stored:
                if not self._flush_partition(p, run, models):
                    continue
                committed.append(TopicPartition(self.topic, p, self.owned[p].stored or 0))
                due.append(p)
            elif run.unchecked:
                due.append(p)
        self._evaluate_due(due, models)
        if committed:
            try:
                self._consumer.commit(offsets=committed, asynchronous=True)
            except KafkaException as exc:  # informational: Redis holds the real offsets
                log.warning("kafka commit failed: %s", exc)

    def _evaluate_due(self, partitions: list[int], models: Mapping[str, ModelQuality]) -> None:
        """Evaluates each unevaluated window of these partitions once, delivers, then clears."""
        marks: dict[int, list[Unevaluated]] = {}
        for p in partitions:
            marks[p] = self._retry("read unevaluated windows", partial(self.store.unevaluated, p))
            self.owned[p].unchecked = False
        windows = sorted({(w.model_id, w.start_ms) for found in marks.values() for w in found})
        for model_id, start in windows:
            model = models.get(model_id)
            if model is not None:
                self._retry("evaluate a quality window", partial(self._evaluate, model_id,
                                                                  start, model))  # fmt: skip
        if windows and not self._deliver():
            log.warning("results not all delivered; their windows are evaluated again")
            for p in marks:
                if p in self.owned:
                    self.owned[p].unchecked = True
            return
        for p, found in marks.items():
            if found:
                self._retry("clear evaluated windows", partial(self.store.evaluated, p, found))

    def _flush_partition(
        self, p: int, run: PartitionRun, models: Mapping[str, ModelQuality]
    ) -> bool:
        """Writes the partition's changes; False when fenced (then resumed from Redis)."""
        changes = run.changes
        windows = [self._window_write(p, key, models) for key in sorted(changes.windows)]
        deadlines = {
            i: changes.deadline(e, models) for i, e in changes.pending.items() if e is not None
        }
        plan = JoinFlush(run.stored, run.next or 0, changes.watermark, changes, windows, deadlines)
        try:
            self._retry(
                f"flush join partition {p}",
                lambda: self.store.flush(p, plan, self._clock_ms()),
            )
        except FencedWriteError as exc:
            self.metrics.flushes.labels("fenced").inc()
            log.warning("%s; resuming from Redis", exc, extra={"partition": p})
            self._reset(p)
            return False
        for name, value in changes.counts.items():
            if value:
                self.metrics.joined.labels(name).inc(value)
        self.metrics.flushes.labels("ok").inc()
        self.owned[p] = PartitionRun(plan.next_offset, plan.next_offset, JoinPartition(
            changes.watermark), unchecked=False)  # fmt: skip
        return True

    def _window_write(
        self, p: int, key: tuple[str, int], models: Mapping[str, ModelQuality]
    ) -> WindowWrite:
        model_id, start = key
        delta = self.owned[p].changes.windows[key]
        model = models.get(model_id)
        bias = self._bias_write(p, key, model)
        if not delta.keys or model is None:
            return WindowWrite(model_id, start, b"", delta.predictions, 0, bias)
        (blob,) = self._retry("read a quality partial", lambda: self.store.partials(
            model_id, start, [p]))  # fmt: skip
        state: QualityState = model.spec.deserialize(blob) if blob else model.spec.empty()
        state, rejected = add_pairs(state, delta)
        if rejected:
            self.metrics.joined.labels("unscorable").inc(rejected)
        return WindowWrite(
            model_id,
            start,
            state.serialize(),
            delta.predictions,
            len(delta.keys) - rejected,
            bias,
        )

    def _bias_write(self, p: int, key: tuple[str, int], model: ModelQuality | None) -> bytes:
        """The window's bias partial of this partition with the batch merged in (b'': none)."""
        delta = self.owned[p].changes.windows[key]
        if model is None or model.bias is None or not (delta.captured or delta.bias_pairs):
            return b""
        model_id, start = key
        (blob,) = self._retry("read a bias partial", lambda: self.store.bias_partials(
            model_id, start, [p]))  # fmt: skip
        return add_delta(blob, model.bias.analysis_config, delta.captured, delta.bias_pairs)

    def _reset(self, p: int) -> None:
        run = self.owned[p] = self._fresh(p)
        offset = run.stored if run.stored is not None else OFFSET_BEGINNING
        try:
            self._consumer.seek(TopicPartition(self.topic, p, offset))
        except KafkaException as exc:
            log.warning("could not seek: %s", exc, extra={"partition": p})
            self.owned.pop(p, None)

    # -- evaluation -----------------------------------------------------------------------
    def _evaluate(self, model_id: str, start: int, model: ModelQuality) -> None:
        self._evaluate_bias(model_id, start, model)
        state, counts = self._merged(model_id, [start], model)
        if state.count < model.min_labels:
            return
        window = (start, start + model.window_ms)
        result = evaluate(model_id, model.spec.problem_type, window, state, counts,
                          model.constraints)  # fmt: skip
        self.metrics.evaluations.inc()
        self._publish(result, model)
        k = model.rolling_windows
        if k > 1 and self._publish_rolling is not None:
            starts = [start - i * model.window_ms for i in range(k)]
            state, counts = self._merged(model_id, starts, model)
            span = (starts[-1], start + model.window_ms)
            self._publish_rolling(evaluate(model_id, model.spec.problem_type, span, state,
                                           counts, model.constraints))  # fmt: skip

    def _evaluate_bias(self, model_id: str, start: int, model: ModelQuality) -> None:
        """The window's bias metrics, once it has ``min_labels`` joined pairs."""
        if model.bias is None or self._publish_bias is None:
            return
        blobs = self.store.bias_partials(model_id, start, range(self.partitions))
        state = merge_all(BiasState.deserialize(b) for b in blobs if b)
        if joined_rows(state) < model.min_labels:
            return
        window = (start, start + model.window_ms)
        bias = model.bias
        options = IntervalOptions(
            bias.confidence_level, bias.bootstrap_replicates, bias.check == "interval"
        )
        evaluation = evaluate_bias(
            model_id, window, bias.analysis_config, state, bias.baseline, options
        )
        self._publish_bias(evaluation, model)

    def _merged(
        self, model_id: str, starts: list[int], model: ModelQuality
    ) -> tuple[QualityState, dict[str, int]]:
        """Every partition's partial of these windows merged, and their counters summed."""
        parts = range(self.partitions)
        state: QualityState = model.spec.empty()
        counts: dict[str, int] = {}
        for start in starts:
            for blob in self.store.partials(model_id, start, parts):
                if blob:
                    state = model.spec.merge(state, model.spec.deserialize(blob))
            for name, value in self.store.window_counts(model_id, start, parts).items():
                counts[name] = counts.get(name, 0) + value
        return state, counts
