"""Partition ownership: the exactly-once transitions between the consumer and the fenced store.

- assign: load each partition's stored state and resume the consumer at the stored offset
  (the beginning when nothing is stored);
- flush: dead letters first (durable before any offset moves past them), then each pending
  partition in one fenced write, then Kafka's informational commit;
- fenced: another owner moved the stored offset (we are a zombie, or replaying): drop our
  state for the partition and resume from the store (reset);
- revoke: flush what is pending, then let go; lost: let go without writing (someone else
  owns it already).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from confluent_kafka import OFFSET_BEGINNING, KafkaException, TopicPartition

from modelmon.adapters.kafka import ConsumerPort
from modelmon.errors import CorruptBlobError, FencedWriteError
from modelmon.streaming.partition import FlushCadence, FlushPlan, PartitionAggregate
from modelmon.streaming.store import StoredPartition

from .metrics import AggregatorMetrics

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Runs an action, retrying while it raises TransientError: ``retry(what, action)``.
Retry = Callable[[str, Callable[[], Any]], Any]


class PartitionStorePort(Protocol):
    """The fenced partition store (``streaming.store.PartitionStore``; a memory one in tests)."""

    def flush(self, partition: int, plan: FlushPlan, now_ms: int) -> None: ...

    def load(self, partition: int) -> StoredPartition: ...

    def clear(self, partition: int) -> None: ...


#: Dead-letters an input: ``dead_letter(original, error, model_id=..., source=...)``.
DeadLetter = Callable[..., Any]


class Ownership:
    """The partitions this process owns, each with its in-memory aggregate."""

    def __init__(
        self,
        topic: str,
        consumer: ConsumerPort,
        store: PartitionStorePort,
        metrics: AggregatorMetrics,
        *,
        retry: Retry,
        flush_dead_letters: Callable[[], None],
        dead_letter: DeadLetter,
        joined: Callable[[], None],
        clock: Callable[[], float] = time.time,
        writable: Callable[[], bool] = lambda: True,
    ) -> None:
        self.topic, self._consumer, self._store, self.metrics = topic, consumer, store, metrics
        self._writable = writable  # False once Redis lost its state (issue 19): write nothing
        self._retry, self._flush_dead_letters, self._joined = retry, flush_dead_letters, joined
        self._dead_letter = dead_letter
        self._clock = clock
        self.owned: dict[int, PartitionAggregate] = {}
        self.pending_events = 0
        self.last_flush = time.monotonic()
        self._written: dict[int, float] = {}  # partition -> monotonic time of its last write

    # -- rebalance ------------------------------------------------------------------------
    def on_assign(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            stored = self._load(tp.partition)
            self.owned[tp.partition] = _aggregate(stored)
            self._written[tp.partition] = time.monotonic()
            tp.offset = stored.offset if stored.offset is not None else OFFSET_BEGINNING
        consumer.assign(partitions)
        self._joined()
        self.metrics.partitions.set(len(self.owned))
        log.info(
            "partitions assigned",
            extra={"partitions": {str(tp.partition): tp.offset for tp in partitions}},
        )

    def on_revoke(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        revoked = [tp.partition for tp in partitions]
        self.flush(only=revoked)
        for p in revoked:
            self.owned.pop(p, None)
        self.metrics.partitions.set(len(self.owned))
        log.info("partitions revoked", extra={"partitions": revoked})

    def on_lost(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        for tp in partitions:  # someone else owns them now: our state is stale, drop it
            self.owned.pop(tp.partition, None)
        self.metrics.partitions.set(len(self.owned))
        log.warning("partitions lost", extra={"partitions": [tp.partition for tp in partitions]})

    # -- flushing -------------------------------------------------------------------------
    def flush(self, only: list[int] | None = None, cadence: FlushCadence | None = None) -> None:
        """Dead letters first (durable before the offsets move past them), then each partition
        (with a ``cadence``: only those it says are due, issue 23; else all that are pending)."""
        if not self._writable():
            return
        self._flush_dead_letters()
        flushed: list[TopicPartition] = []
        now = time.monotonic()
        for p in list(only if only is not None else self.owned):
            agg = self.owned.get(p)
            if agg is None or not agg.pending:
                continue
            waited = now - self._written.get(p, now)
            if cadence is not None and not agg.flush_due(waited, cadence):
                continue
            if self._flush_partition(p, agg) and agg.stored_offset is not None:
                flushed.append(TopicPartition(self.topic, p, agg.stored_offset))
        if flushed:
            self._commit(flushed)
        self.pending_events = 0 if only is None else self.pending_events
        self.last_flush = time.monotonic()
        self.metrics.open_windows.set(sum(a.open_windows for a in self.owned.values()))

    def _flush_partition(self, p: int, agg: PartitionAggregate) -> bool:
        started = time.perf_counter()
        plan = agg.flush_plan()
        try:
            self._retry(
                f"flush partition {p}",
                lambda: self._store.flush(p, plan, int(self._clock() * 1000)),
            )
        except FencedWriteError as exc:
            self.metrics.flushes.labels("fenced").inc()
            log.warning(
                "%s; dropping its state and resuming from Redis", exc, extra={"partition": p}
            )
            self.reset(p)
            return False
        agg.flushed(plan)
        self._written[p] = time.monotonic()
        self.metrics.flushes.labels("ok").inc()
        self.metrics.flush_seconds.observe(time.perf_counter() - started)
        for ref, count in plan.late:
            self.metrics.late.labels(ref.model_id).inc(count)
        self._observe_lag(p, agg)
        return True

    def reset(self, p: int) -> None:
        """Drop the partition's state and resume from what the store holds."""
        stored = self._load(p)
        self.owned[p] = _aggregate(stored)
        self._written[p] = time.monotonic()
        offset = stored.offset if stored.offset is not None else OFFSET_BEGINNING
        try:
            self._consumer.seek(TopicPartition(self.topic, p, offset))
        except KafkaException as exc:  # revoked meanwhile: the new owner resumes from Redis
            log.warning("could not seek: %s", exc, extra={"partition": p})
            self.owned.pop(p, None)

    def _load(self, p: int) -> StoredPartition:
        """The stored state; a partition with unreadable partials is rebuilt from the topic:
        each is dead-lettered (``corrupt_state``), then the state is cleared (never a crash
        loop on the same blob)."""
        stored: StoredPartition = self._retry(f"load partition {p}", lambda: self._store.load(p))
        if not stored.corrupt:
            return stored
        for ref, blob in stored.corrupt:
            error = CorruptBlobError(
                f"stored partial of window {ref.member()} on partition {p} is unreadable; "
                "the partition is rebuilt from the topic"
            )
            source = (self.topic, p, stored.offset if stored.offset is not None else -1)
            self._dead_letter(blob, error, model_id=ref.model_id, source=source)
        self._flush_dead_letters()  # durable before the state goes
        self._retry(f"clear partition {p}", lambda: self._store.clear(p))
        self.metrics.rebuilds.inc()
        log.error(
            "partition state was corrupt; rebuilding it from the topic", extra={"partition": p}
        )
        rebuilt: StoredPartition = self._retry(f"load partition {p}", lambda: self._store.load(p))
        return rebuilt

    def _commit(self, offsets: list[TopicPartition]) -> None:
        try:
            self._consumer.commit(offsets=offsets, asynchronous=True)
        except KafkaException as exc:  # informational only: Redis holds the real offsets
            log.warning("kafka commit failed: %s", exc)

    def _observe_lag(self, p: int, agg: PartitionAggregate) -> None:
        try:
            _, high = self._consumer.get_watermark_offsets(
                TopicPartition(self.topic, p), cached=True
            )
        except KafkaException:
            return
        if high >= 0 and agg.stored_offset is not None:
            self.metrics.lag.labels(str(p)).set(max(0, high - agg.stored_offset))


def _aggregate(stored: StoredPartition) -> PartitionAggregate:
    return PartitionAggregate(
        stored.offset, stored.watermark, stored.open_windows, stored.model_watermarks
    )
