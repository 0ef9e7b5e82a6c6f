"""The aggregator loop: capture topic -> per (model, window, partition) profiles -> Redis.

Exactly-once: a partition's state is written only by the fenced flush script, with the offset
the state covers; on assignment the consumer resumes from the offset stored in Redis (Kafka's
committed offsets are written after each flush only so lag tools work). See docs/streaming.md.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)
from prometheus_client import CollectorRegistry

from modelmon.adapters.kafka import make_consumer, make_producer
from modelmon.adapters.redis import make_redis
from modelmon.errors import (
    DependencyUnavailableError,
    FencedWriteError,
    InvalidEventError,
    TransientError,
    UnknownModelError,
)
from modelmon.keys import Keys
from modelmon.redaction import RedactionPolicy, redact_bytes
from modelmon.registry import ModelCatalog, Registry
from modelmon.service import DeadLetters, Health, StopFlag
from modelmon.settings import Settings
from modelmon.streaming.decode import TypedDecoder, decode_batch, take
from modelmon.streaming.partition import ModelPlan, PartitionAggregate
from modelmon.streaming.runtime import tune_collector
from modelmon.streaming.store import PartitionStore, StoredPartition
from modelmon.windows import WindowSpec

from .metrics import AggregatorMetrics

log = logging.getLogger(__name__)

SERVICE = "aggregator"


@dataclass(frozen=True)
class AggregatorOptions:
    topic: str
    group: str = "modelmon-aggregator"
    batch_size: int = 5000
    poll_timeout: float = 0.2
    flush_events: int = 100_000
    flush_seconds: float = 1.0
    retention_seconds: int = 7 * 86400


def plans_of(catalog: ModelCatalog) -> dict[str, ModelPlan]:
    """What the aggregator needs of each registered model."""
    plans: dict[str, ModelPlan] = {}
    for model_id, entry in catalog.models.items():
        cfg = entry.config
        decoder = TypedDecoder(model_id, {f.name: f.kind for f in cfg.features})
        plans[model_id] = ModelPlan(
            spec=WindowSpec.from_config(cfg.window),
            kinds={f.name: f.kind for f in cfg.features if f.kind is not None},
            # every configured feature (monitored or not): absent from a window = missing, on
            # the typed and the generic path alike
            features=tuple(f.name for f in cfg.features),
            decoder=decoder if cfg.features else None,
        )
    return plans


#: librdkafka's pre-fetch queue (default 64 MiB): 16 MiB holds ~6 batches of 5,000 capture
#: events and keeps the aggregator's RSS ~50 MiB lower and steadier (bench/bench_memory.py).
PREFETCH_KBYTES = 16384


def _prefetch_limit(settings: Settings) -> dict[str, Any]:
    """Our pre-fetch limit, unless the deployment set its own (MODELMON_KAFKA__EXTRA)."""
    if "queued.max.messages.kbytes" in settings.kafka.librdkafka_config():
        return {}
    return {"queued.max.messages.kbytes": PREFETCH_KBYTES}


@dataclass
class Readiness:
    """What /readyz reports: ready once the group assigned partitions, unless Kafka is
    unreachable or a dependency keeps failing (the most pressing reason is shown)."""

    health: Health
    joined: bool = False
    kafka_down: str | None = None
    blocked: str | None = None  # a retried action that keeps failing, e.g. a Redis flush

    def changed(self) -> None:
        problem = self.blocked or self.kafka_down
        if problem is None and not self.joined:
            problem = "joining the consumer group"
        self.health.set_ready(problem is None, problem or "consuming")


class Aggregator:
    """Owns the consumer, the per-partition aggregates and the fenced store."""

    def __init__(
        self,
        settings: Settings,
        options: AggregatorOptions,
        stop: StopFlag,
        registry: CollectorRegistry,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.options, self.stop, self._clock = options, stop, clock
        self.health = Health()
        self.metrics = AggregatorMetrics(registry)
        self._redis = make_redis(settings.redis)
        keys = Keys(settings.redis.key_prefix)
        self._store = PartitionStore(self._redis, keys, options.topic, options.retention_seconds)
        self._catalog = ModelCatalog(Registry(self._redis, keys))
        self._plans: dict[str, ModelPlan] = {}
        self._producer = make_producer(settings.kafka)
        redaction = RedactionPolicy.from_settings(settings.capture)
        self._dead_letters = DeadLetters(
            self._produce, settings.topics.deadletter, SERVICE, registry,
            redact=lambda raw: redact_bytes(raw, redaction),
        )  # fmt: skip
        self._consumer: Consumer = make_consumer(
            settings.kafka,
            options.group,
            **{"enable.partition.eof": False, "error_cb": self._on_kafka_error},
            **_prefetch_limit(settings),
        )
        self.owned: dict[int, PartitionAggregate] = {}
        self._pending_events = 0
        self._last_flush = time.monotonic()
        self._last_recheck = float("-inf")
        self._last_probe = float("-inf")
        self._readiness = Readiness(self.health)

    # -- lifecycle ------------------------------------------------------------------------
    def run(self) -> None:
        self.start()
        tune_collector()
        try:
            while not self.stop.is_set():
                self.step()
        finally:
            self.close()

    def start(self) -> None:
        """Load the registry and join the consumer group."""
        self._retry("load the model registry", lambda: self._refresh_plans(force=True))
        self._consumer.subscribe(
            [self.options.topic],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        self._readiness.changed()  # "joining the consumer group" until partitions are assigned
        log.info("aggregator started", extra={"topic": self.options.topic})

    def close(self) -> None:
        """Flush what is pending, leave the group, release the clients."""
        self.health.set_ready(False, "stopping")
        self._flush_all()
        self._consumer.close()  # leaves the group (revocation flushes nothing new)
        self._producer.flush(10)
        self._redis.close()
        log.info("aggregator stopped")

    def step(self) -> int:
        """One batch: consume, fold in, and flush when the size or time cadence says so."""
        msgs = self._consumer.consume(self.options.batch_size, self.options.poll_timeout)
        if self._readiness.kafka_down:
            self._probe_kafka()
        if msgs:
            self._refresh_plans_quietly()
            self.process(msgs)
        due = time.monotonic() - self._last_flush >= self.options.flush_seconds
        if self._pending_events >= self.options.flush_events or due:
            self._flush_all()
        return len(msgs)

    def _refresh_plans(self, force: bool = False) -> None:
        if self._catalog.refresh(force=force) or force:
            self._plans = plans_of(self._catalog)

    def _refresh_plans_quietly(self, force: bool = False) -> None:
        """Reload the registry if it moved; while Redis is down keep the configs we have
        (the next flush will wait for Redis anyway, without committing)."""
        try:
            self._refresh_plans(force)
        except TransientError as exc:
            log.warning("cannot reload the model registry, keeping the loaded one: %s", exc)

    # -- rebalance ------------------------------------------------------------------------
    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            stored = self._load(tp.partition)
            self.owned[tp.partition] = PartitionAggregate(
                stored.offset, stored.watermark, stored.open_windows
            )
            tp.offset = stored.offset if stored.offset is not None else OFFSET_BEGINNING
        consumer.assign(partitions)
        self._readiness.joined = True
        self._readiness.changed()
        self.metrics.partitions.set(len(self.owned))
        log.info(
            "partitions assigned",
            extra={"partitions": {str(tp.partition): tp.offset for tp in partitions}},
        )

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        revoked = [tp.partition for tp in partitions]
        self._flush_all(only=revoked)
        for p in revoked:
            self.owned.pop(p, None)
        self.metrics.partitions.set(len(self.owned))
        log.info("partitions revoked", extra={"partitions": revoked})

    def _on_kafka_error(self, error: KafkaError) -> None:
        """librdkafka's own errors (it reconnects by itself): readiness follows the brokers."""
        if error.code() == KafkaError._ALL_BROKERS_DOWN:
            self._readiness.kafka_down = f"Kafka unreachable: {error.str()}"
            self._readiness.changed()
            log.warning("kafka: %s", error.str())
        else:
            log.debug("kafka: %s", error.str())

    def _probe_kafka(self) -> None:
        """After librdkafka reported every broker down (it never reports them back): ask for
        the topic's metadata, at most every 5 seconds; an answer means Kafka is back."""
        now = time.monotonic()
        if now - self._last_probe < 5.0:
            return
        self._last_probe = now
        try:
            self._consumer.list_topics(self.options.topic, timeout=1.0)
        except KafkaException:
            return
        self._readiness.kafka_down = None
        self._readiness.changed()
        log.info("kafka reachable again")

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:  # someone else owns them now: our state is stale, drop it
            self.owned.pop(tp.partition, None)
        self.metrics.partitions.set(len(self.owned))
        log.warning("partitions lost", extra={"partitions": [tp.partition for tp in partitions]})

    # -- batches --------------------------------------------------------------------------
    def process(self, msgs: list[Message]) -> None:
        errors = list(map(Message.error, msgs))
        good = msgs
        if errors.count(None) != len(errors):  # rare: keep the messages, log the errors
            good = [m for m, err in zip(msgs, errors, strict=True) if err is None]
            for err in errors:
                if err is not None and err.code() != KafkaError._PARTITION_EOF:
                    log.warning("consumer error: %s", err)
        if not good:
            return
        parts = np.fromiter(map(Message.partition, good), dtype=np.int64, count=len(good))
        for p in np.unique(parts).tolist():
            agg = self.owned.get(p)
            if agg is None:
                continue
            chunk = take(good, np.flatnonzero(parts == p))
            offsets: list[int] = list(map(Message.offset, chunk))  # type: ignore[arg-type]
            if not agg.accepts(offsets[0]):  # re-delivered after a seek: skip what we hold
                chunk = [m for m, o in zip(chunk, offsets, strict=True) if agg.accepts(o)]
                offsets = [o for o in offsets if agg.accepts(o)]
                if not chunk:
                    continue
            self._process_partition(p, agg, chunk, offsets)

    def _process_partition(
        self, p: int, agg: PartitionAggregate, chunk: list[Message], offsets: list[int]
    ) -> None:
        values = list(map(Message.value, chunk))
        batch, rejects = self._decode(chunk, values)
        if not self._plans.keys() >= set(batch.model_ids):
            self._recheck_registry()  # a model registered a moment ago is not a dead letter
        result = agg.add(batch, offsets[-1], self._plans)
        for r in rejects:
            source = (self.options.topic, p, offsets[r.index])
            self._dead_letters.send(
                values[r.index] or b"", InvalidEventError(r.reason), model_id=r.model_id,
                source=source,
            )  # fmt: skip
        for i in result.unknown:
            model_id = batch.model_ids[int(np.searchsorted(batch.index, i))]
            error = UnknownModelError(
                f"model {model_id!r} is not registered (modelmon model register)"
            )
            source = (self.options.topic, p, offsets[i])
            self._dead_letters.send(values[i] or b"", error, model_id=model_id, source=source)
        dead = len(rejects) + len(result.unknown)
        self.metrics.events.labels("profiled").inc(result.profiled)
        self.metrics.events.labels("late").inc(result.late)
        self.metrics.events.labels("dead_letter").inc(dead)
        self._pending_events += len(chunk)

    def _decode(self, chunk: list[Message], values: list[bytes | None]) -> tuple[Any, list[Any]]:
        """The model's typed decoder when the batch is one model's (by Kafka key, checked
        against the payload); otherwise, or when it declines, the generic decoder."""
        keys = set(map(Message.key, chunk))
        key = keys.pop() if len(keys) == 1 else None
        plan = self._plans.get(key.decode(errors="replace")) if isinstance(key, bytes) else None
        if plan is not None and plan.decoder is not None:
            batch = plan.decoder.decode(values)
            if batch is not None:
                return batch, []
        return decode_batch(values)

    def _recheck_registry(self) -> None:
        """Reload the registry now (at most once a second) when a batch names unknown models."""
        now = time.monotonic()
        if now - self._last_recheck >= 1.0:
            self._last_recheck = now
            self._refresh_plans_quietly(force=True)

    def _produce(self, topic: str, key: bytes | None, value: bytes) -> None:
        self._producer.produce(topic, key=key, value=value)
        self._producer.poll(0)

    # -- flushing -------------------------------------------------------------------------
    def _flush_all(self, only: list[int] | None = None) -> None:
        """Dead letters first (durable before the offsets move past them), then each partition."""
        self._retry("deliver dead letters", self._flush_producer)
        flushed: list[TopicPartition] = []
        for p in list(only if only is not None else self.owned):
            agg = self.owned.get(p)
            if agg is None or not agg.pending:
                continue
            if self._flush_partition(p, agg) and agg.stored_offset is not None:
                flushed.append(TopicPartition(self.options.topic, p, agg.stored_offset))
        if flushed:
            self._commit(flushed)
        self._pending_events = 0 if only is None else self._pending_events
        self._last_flush = time.monotonic()
        self.metrics.open_windows.set(sum(a.open_windows for a in self.owned.values()))

    def _flush_producer(self) -> None:
        if self._producer.flush(30):
            raise DependencyUnavailableError("dead letters not delivered within 30s")

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
            self._reset_partition(p)
            return False
        agg.flushed(plan)
        self.metrics.flushes.labels("ok").inc()
        self.metrics.flush_seconds.observe(time.perf_counter() - started)
        for ref, count in plan.late:
            self.metrics.late.labels(ref.model_id).inc(count)
        self._observe_lag(p, agg)
        return True

    def _reset_partition(self, p: int) -> None:
        stored = self._load(p)
        self.owned[p] = PartitionAggregate(stored.offset, stored.watermark, stored.open_windows)
        offset = stored.offset if stored.offset is not None else OFFSET_BEGINNING
        try:
            self._consumer.seek(TopicPartition(self.options.topic, p, offset))
        except KafkaException as exc:  # revoked meanwhile: the new owner resumes from Redis
            log.warning("could not seek: %s", exc, extra={"partition": p})
            self.owned.pop(p, None)

    def _load(self, p: int) -> StoredPartition:
        result: StoredPartition = self._retry(f"load partition {p}", lambda: self._store.load(p))
        return result

    def _commit(self, offsets: list[TopicPartition]) -> None:
        try:
            self._consumer.commit(offsets=offsets, asynchronous=True)
        except KafkaException as exc:  # informational only: Redis holds the real offsets
            log.warning("kafka commit failed: %s", exc)

    def _observe_lag(self, p: int, agg: PartitionAggregate) -> None:
        try:
            _, high = self._consumer.get_watermark_offsets(
                TopicPartition(self.options.topic, p), cached=True
            )
        except KafkaException:
            return
        if high >= 0 and agg.stored_offset is not None:
            self.metrics.lag.labels(str(p)).set(max(0, high - agg.stored_offset))

    def _retry(self, what: str, action: Callable[[], Any]) -> Any:
        """Run ``action``, retrying transient failures with capped, jittered backoff."""
        attempt = 0
        while True:
            try:
                result = action()
            except TransientError as exc:
                attempt += 1
                delay = min(30.0, 0.25 * 2 ** min(attempt, 7)) * (0.5 + random.random() / 2)
                self._readiness.blocked = f"cannot {what}: {exc}"
                self._readiness.changed()
                log.warning(
                    "cannot %s (attempt %d), retrying in %.1fs: %s", what, attempt, delay, exc
                )
                if self.stop.wait(delay) and attempt > 3:
                    raise
                continue
            if attempt:
                self._readiness.blocked = None
                self._readiness.changed()
            return result
