"""The archiver's loop: consume captures, buffer per partition, write files, then commit.

Exactly what a crash can do: offsets are committed (synchronously) only after every file of
the partition's buffer is durably stored, and a file's key is derived from its first offset,
so the replay after a crash rewrites the same keys instead of adding copies.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson
from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition
from prometheus_client import CollectorRegistry, Counter, Gauge
from pydantic import ValidationError

from modelmon.archive.codec import pack
from modelmon.archive.layout import file_uuid, object_key
from modelmon.archive.store import ArchiveStore
from modelmon.capture.sagemaker import to_sagemaker_record
from modelmon.errors import (
    DependencyUnavailableError,
    InvalidEventError,
    PermanentError,
    TransientError,
)
from modelmon.events import CaptureEvent
from modelmon.redaction import RedactionPolicy, redact_bytes, redact_event
from modelmon.service import DeadLetters, Health, StopFlag

from .buffers import PartitionBuffer

log = logging.getLogger(__name__)


class ArchiverMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.events = Counter(
            "modelmon_archiver_events", "Events archived", ["model"], registry=registry
        )
        self.files = Counter("modelmon_archiver_files", "Files written", registry=registry)
        self.bytes = Counter("modelmon_archiver_bytes", "Bytes written", registry=registry)
        self.write_errors = Counter(
            "modelmon_archiver_write_errors", "Failed file writes (retried)", registry=registry
        )
        self.buffered = Gauge(
            "modelmon_archiver_buffered_bytes", "Bytes waiting to be written", registry=registry
        )


class Archiver:
    """Consumes ``topic`` and writes SageMaker capture files to ``store`` under ``prefix``."""

    def __init__(
        self,
        consumer: Consumer,
        producer: Producer,
        store: ArchiveStore,
        *,
        topic: str,
        deadletter_topic: str,
        prefix: str = "",
        redaction: RedactionPolicy | None = None,
        gzip: bool = False,
        encryption_key: bytes | None = None,
        roll_bytes: int = 64 * 1024 * 1024,
        roll_seconds: float = 60.0,
        max_event_bytes: int = 1_048_576,
        registry: CollectorRegistry | None = None,
        health: Health | None = None,
        clock: Callable[[], float] = time.monotonic,
        endpoint_of: Callable[[str], str] = str,
    ) -> None:
        """``endpoint_of(model_id)`` names a model's folder (``ModelCatalog.endpoint_name``)."""
        self.consumer, self.producer, self.store = consumer, producer, store
        self.endpoint_of = endpoint_of
        self.topic, self.prefix = topic, prefix
        self.redaction = redaction or RedactionPolicy()
        self.gzip, self.key = gzip, encryption_key
        self.roll_bytes, self.roll_seconds = roll_bytes, roll_seconds
        self.max_event_bytes = max_event_bytes
        self.registry = registry or CollectorRegistry()
        self.metrics = ArchiverMetrics(self.registry)
        self.health = health or Health()
        self.clock = clock
        self.partitions: dict[int, PartitionBuffer] = {}
        self.dead_letters = DeadLetters(
            lambda t, k, v: producer.produce(t, key=k, value=v),
            deadletter_topic,
            "archiver",
            self.registry,
            redact=lambda raw: redact_bytes(raw, self.redaction),
        )

    # ---------------------------------------------------------------- loop

    def run(self, stop: StopFlag, batch: int = 1000, timeout: float = 0.5) -> None:
        """Consume until ``stop`` is set; then write what is buffered, commit, leave the group."""
        self.consumer.subscribe(
            [self.topic],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        backoff = 0.5
        try:
            while not stop.is_set():
                try:
                    self.flush_due()
                    backoff = 0.5
                except TransientError as exc:
                    self.metrics.write_errors.inc()
                    log.warning("archive write failed, retrying in %.1fs: %s", backoff, exc)
                    stop.wait(backoff)
                    backoff = min(backoff * 2, 30.0)
                    continue
                self.handle(self.consumer.consume(batch, timeout))
            self._final_flush()
        finally:
            self.consumer.close()
            self.producer.flush(10)
            self.health.set_ready(False, "stopped")

    def _final_flush(self) -> None:
        try:
            self.flush(list(self.partitions))
        except TransientError as exc:
            log.error("could not write the last files (they will be replayed): %s", exc)

    def handle(self, messages: list[Message]) -> None:
        now = self.clock()
        for msg in messages:
            err = msg.error()
            if err is not None:
                if err.code() != KafkaError._PARTITION_EOF:
                    log.warning("consume error: %s", err)
                continue
            self._handle_one(msg, now)
        self.metrics.buffered.set(sum(p.size for p in self.partitions.values()))

    def _handle_one(self, msg: Message, now: float) -> None:
        partition, offset = msg.partition() or 0, msg.offset() or 0
        buf = self.partitions.setdefault(partition, PartitionBuffer())
        value = msg.value() or b""
        try:
            event = self.decode(value)
        except PermanentError as exc:
            key = msg.key()
            self.dead_letters.send(
                value,
                exc,
                model_id=key.decode(errors="replace") if key else None,
                source=(msg.topic() or self.topic, partition, offset),
            )
            buf.consumed(offset, now)
            return
        line = orjson.dumps(to_sagemaker_record(event)) + b"\n"
        buf.add(event.model_id, event.variant, event.event_time, offset, line, event.event_id, now)

    def decode(self, value: bytes) -> CaptureEvent:
        """A capture event from message bytes, redacted; bad input raises a PermanentError."""
        if len(value) > self.max_event_bytes:
            raise InvalidEventError(
                f"event of {len(value)} bytes exceeds the limit of {self.max_event_bytes}"
            )
        try:
            event = CaptureEvent.model_validate_json(value)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "event"
            raise InvalidEventError(f"{where}: {err['msg']}") from exc
        return redact_event(event, self.redaction)

    # ---------------------------------------------------------------- writing

    def flush_due(self) -> None:
        now = self.clock()
        due = [
            p for p, b in self.partitions.items() if b.due(now, self.roll_bytes, self.roll_seconds)
        ]
        if due:
            self.flush(due)

    def flush(self, partitions: list[int]) -> None:
        """Write the files of these partitions, then commit their offsets (in that order)."""
        offsets = []
        for partition in partitions:
            buf = self.partitions.get(partition)
            if buf is None or buf.next_offset is None:
                continue
            for file_buf in list(buf.files.values()):
                self._write(partition, file_buf.model, file_buf.variant, file_buf.first_event,
                            file_buf.first_offset, file_buf.lines)  # fmt: skip
                self.metrics.events.labels(file_buf.model).inc(len(file_buf.lines))
            offsets.append(TopicPartition(self.topic, partition, buf.next_offset))
        if not offsets:
            return
        if self.producer.flush(30) > 0:  # dead letters must be durable before we move on
            raise DependencyUnavailableError("dead-letter records not delivered")
        self.consumer.commit(offsets=offsets, asynchronous=False)
        for tp in offsets:
            self.partitions[tp.partition].reset()
        log.debug("committed %s", [(tp.partition, tp.offset) for tp in offsets])

    def _write(
        self, partition: int, model: str, variant: str, first_event: datetime,
        first_offset: int, lines: list[bytes],
    ) -> None:  # fmt: skip
        key = object_key(
            self.prefix, self.endpoint_of(model), variant, first_event,
            file_uuid(self.topic, partition, first_offset),
            gzip=self.gzip, encrypted=self.key is not None,
        )  # fmt: skip
        body = pack(b"".join(lines), gzip=self.gzip, key=self.key)
        self.store.put(key, body)
        self.metrics.files.inc()
        self.metrics.bytes.inc(len(body))

    # ---------------------------------------------------------------- rebalance

    def _on_assign(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        self.health.set_ready(True, "assigned")
        log.info("assigned partitions %s", [p.partition for p in partitions])

    def _on_revoke(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        ids = [p.partition for p in partitions]
        try:
            self.flush([p for p in ids if p in self.partitions])
        except TransientError as exc:
            log.warning("could not write before revocation (will be replayed): %s", exc)
        for p in ids:
            self.partitions.pop(p, None)

    def _on_lost(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        for p in partitions:
            self.partitions.pop(p.partition, None)
