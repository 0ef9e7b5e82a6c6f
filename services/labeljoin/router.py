"""The router: captures and labels -> the internal join topic, keyed by inference id.

Exactly once by Kafka transactions: each batch's routed records (and its dead letters) and the
consumed offsets commit in one transaction; a crash aborts it and the batch is routed again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Message, Producer

from modelmon.errors import InvalidEventError
from modelmon.quality.join import (
    ModelQuality,
    encode,
    partition_of,
    route_capture_bytes,
    route_label,
)
from modelmon.quality.labels import parse_label_event

from .metrics import LabelJoinMetrics

log = logging.getLogger(__name__)


class Router:
    """Consumes the capture and label topics; produces JoinRecords transactionally."""

    def __init__(
        self,
        consumer: Consumer,
        producer: Producer,
        models: Callable[[], Mapping[str, ModelQuality]],
        *,
        capture_topic: str,
        labels_topic: str,
        join_topic: str,
        partitions: int,
        dead_letter: Callable[[bytes, Exception, str | None, tuple[str, int, int]], None],
        metrics: LabelJoinMetrics,
        deliver_dead_letters: Callable[[], None] = lambda: None,
    ) -> None:
        self._consumer, self._producer, self._models = consumer, producer, models
        self._deliver_dead_letters = deliver_dead_letters
        self.capture_topic, self.labels_topic = capture_topic, labels_topic
        self.join_topic, self.partitions = join_topic, partitions
        self._dead_letter, self.metrics = dead_letter, metrics

    def start(self) -> None:
        self._producer.init_transactions(30)
        self._consumer.subscribe([self.capture_topic, self.labels_topic])

    def close(self) -> None:
        self._consumer.close()

    def step(self, batch_size: int, timeout: float) -> int:
        msgs = [m for m in self._consumer.consume(batch_size, timeout) if m.error() is None]
        if not msgs:
            return 0
        models = self._models()
        self._producer.begin_transaction()
        try:
            for msg in msgs:
                self._route(msg, models)
            self._deliver_dead_letters()  # durable before the offsets move past them
            positions = self._consumer.position(self._consumer.assignment())
            self._producer.send_offsets_to_transaction(
                positions, self._consumer.consumer_group_metadata(), 30
            )
            self._producer.commit_transaction(30)
        except KafkaException as exc:
            log.warning("routing transaction failed, rewinding: %s", exc)
            self._abort()
            return 0
        return len(msgs)

    def _route(self, msg: Message, models: Mapping[str, ModelQuality]) -> None:
        raw: bytes = msg.value() or b""
        topic = msg.topic() or ""
        try:
            if topic == self.labels_topic:
                record = route_label(parse_label_event(raw))
                if record.model not in models:
                    raise InvalidEventError(
                        f"model {record.model!r} has no quality config (model register with "
                        "a `quality:` section)"
                    )
            else:
                record = route_capture_bytes(raw, models)
                if record.model not in models:
                    self.metrics.routed.labels("skipped").inc()
                    return  # the aggregator owns capture dead letters and unmonitored models
        except InvalidEventError as exc:
            if topic == self.labels_topic:
                source = (topic, msg.partition() or 0, msg.offset() or 0)
                self._dead_letter(raw, exc, None, source)
                self.metrics.routed.labels("dead_letter").inc()
            else:
                self.metrics.routed.labels("unreadable_capture").inc()
            return
        self._producer.produce(
            self.join_topic,
            key=record.id.encode(),
            value=encode(record),
            partition=partition_of(record.id, self.partitions),
        )
        self._producer.poll(0)
        self.metrics.routed.labels("label" if record.k == "l" else "prediction").inc()

    def _abort(self) -> None:
        try:
            self._producer.abort_transaction(30)
        except KafkaException as exc:
            log.warning("abort failed: %s", exc)
        assignment = self._consumer.assignment()
        if not assignment:
            return
        for tp in self._consumer.committed(assignment, 30):
            tp.offset = tp.offset if tp.offset >= 0 else OFFSET_BEGINNING
            try:
                self._consumer.seek(tp)
            except KafkaException as exc:
                log.warning("seek failed: %s", exc)


__all__ = ["Any", "Router"]
