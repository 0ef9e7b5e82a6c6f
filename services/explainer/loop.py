"""The explainer's loop: a batch of captures in, attribution events out, in one transaction.

Exactly once by Kafka transactions (as the label join's router): each batch's attribution
events, its dead letters and the consumed offsets commit together; a failed transaction is
aborted and the batch consumed again from the committed offsets. Sampling is a hash of the
event id, so a replayed batch picks the same events.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from confluent_kafka import OFFSET_BEGINNING, KafkaException, TopicPartition

from modelmon.errors import DependencyUnavailableError, PermanentError
from modelmon.explain.attribution import attribution_event, feature_row
from modelmon.explain.config import ExplainerConfig
from modelmon.explain.sampling import event_seed, sampled
from modelmon.streaming.poison import DECODE_ERRORS
from modelmon.validation import decode_capture

from .metrics import ExplainerMetrics
from .models import Explainers

log = logging.getLogger(__name__)
#: (raw bytes, error, model id, (topic, partition, offset)) -> a dead letter in the transaction.
DeadLetterFn = Callable[[bytes, Exception, str | None, tuple[str, int, int]], None]


class ConsumerPort(Protocol):
    """What the loop uses of a confluent-kafka Consumer (the fakes implement the same)."""

    def subscribe(self, topics: list[str]) -> None: ...
    def consume(self, num_messages: int, timeout: float) -> list[Any]: ...
    def assignment(self) -> list[TopicPartition]: ...
    def position(self, partitions: list[TopicPartition]) -> list[TopicPartition]: ...
    def committed(
        self, partitions: list[TopicPartition], timeout: float
    ) -> list[TopicPartition]: ...
    def seek(self, partition: TopicPartition) -> None: ...
    def consumer_group_metadata(self) -> Any: ...
    def close(self) -> None: ...


class ProducerPort(Protocol):
    """What the loop uses of a transactional confluent-kafka Producer."""

    def init_transactions(self, timeout: float) -> None: ...
    def begin_transaction(self) -> None: ...
    def produce(self, topic: str, value: bytes, key: bytes | None = None) -> None: ...
    def poll(self, timeout: float) -> int: ...
    def send_offsets_to_transaction(
        self, positions: Any, metadata: Any, timeout: float
    ) -> None: ...
    def commit_transaction(self, timeout: float) -> None: ...
    def abort_transaction(self, timeout: float) -> None: ...


@dataclass
class _Pending:
    capture: Any
    row: np.ndarray
    seed: int
    raw: bytes
    source: tuple[str, int, int]


class ExplainerLoop:
    """Consumes captures, explains the sampled ones, produces attribution events."""

    def __init__(
        self, consumer: ConsumerPort, producer: ProducerPort,
        models: Callable[[], Mapping[str, ExplainerConfig]], explainers: Explainers, *,
        capture_topic: str, output_topic: str, dead_letter: DeadLetterFn,
        metrics: ExplainerMetrics, clock: Callable[[], float],
    ) -> None:  # fmt: skip
        self._consumer, self._producer, self._models = consumer, producer, models
        self._explainers, self._dead_letter, self.metrics = explainers, dead_letter, metrics
        self.capture_topic, self.output_topic, self._clock = capture_topic, output_topic, clock
        self._tally: Counter[tuple[str, str]] = Counter()

    def start(self) -> None:
        """Fences an older instance's transactions and subscribes; Kafka down: TransientError."""
        try:
            self._producer.init_transactions(30)
        except KafkaException as exc:
            raise DependencyUnavailableError(f"cannot start Kafka transactions: {exc}") from exc
        self._consumer.subscribe([self.capture_topic])

    def close(self) -> None:
        self._consumer.close()

    def step(self, batch_size: int, timeout: float) -> int:
        """One batch in one transaction; the number of messages consumed (0 when rewound)."""
        msgs = [m for m in self._consumer.consume(batch_size, timeout) if m.error() is None]
        if not msgs:
            return 0
        try:
            models = self._models()
        except BaseException:
            self._seek_committed()  # the registry is down: consume these again later
            raise
        try:
            self._producer.begin_transaction()
            pending: dict[str, list[_Pending]] = {}
            for msg in msgs:
                self._classify(msg, models, pending)
            for model_id, items in pending.items():
                self._explain(model_id, models[model_id], items)
            positions = self._consumer.position(self._consumer.assignment())
            self._producer.send_offsets_to_transaction(
                positions, self._consumer.consumer_group_metadata(), 30
            )
            self._producer.commit_transaction(30)
        except KafkaException as exc:
            log.warning("explainer transaction failed, rewinding: %s", exc)
            self._tally.clear()  # the batch is consumed again: counted then
            self.rewind()
            return 0
        except BaseException:
            self._tally.clear()
            self.rewind()  # a dependency outage (TransientError) or stopping: nothing was sent
            raise
        self._flush_counts()
        self.metrics.transactions.labels("committed").inc()
        return len(msgs)

    def _count(self, model: str, outcome: str, n: int = 1) -> None:
        self._tally[model, outcome] += n  # metrics updated once per batch (_flush_counts)

    def _flush_counts(self) -> None:
        for (model, outcome), n in self._tally.items():
            self.metrics.events.labels(model, outcome).inc(n)
        self._tally.clear()

    def _classify(
        self, msg: Any, models: Mapping[str, ExplainerConfig], pending: dict[str, list[_Pending]]
    ) -> None:
        raw: bytes = msg.value() or b""
        source = (msg.topic() or "", msg.partition() or 0, msg.offset() or 0)
        try:
            capture = decode_capture(raw)
        except DECODE_ERRORS:
            self._count("", "unreadable")
            return
        model_id = capture.model_id
        config = models.get(model_id)
        key = capture.event_id or capture.inference_id
        outcome = ("no_config" if config is None else "has_attributions"
                   if capture.attributions else "no_event_id" if key is None else None)  # fmt: skip
        if outcome is not None or config is None or key is None:
            # unconfigured models share one label: capture traffic cannot grow the series
            self._count(model_id if config is not None else "", outcome or "no_config")
            return
        if not sampled(key, config.sample_rate, config.seed):
            self._count(model_id, "not_sampled")
            return
        try:
            row = feature_row(capture.inputs, config.features)
        except PermanentError as exc:
            self._dead(raw, exc, model_id, source)
            return
        item = _Pending(capture, row, event_seed(key, config.seed), raw, source)
        pending.setdefault(model_id, []).append(item)

    def _dead(
        self, raw: bytes, exc: Exception, model_id: str, source: tuple[str, int, int]
    ) -> None:
        self._dead_letter(raw, exc, model_id, source)
        self._count(model_id, "dead_letter")

    def _explain(self, model_id: str, config: ExplainerConfig, items: list[_Pending]) -> None:
        try:
            explainer = self._explainers.get(model_id, config)
        except PermanentError as exc:
            for item in items:
                self._dead(item.raw, exc, model_id, item.source)
            return
        if explainer.budget is not None:  # all of an explanation's requests, or none of them
            kept = [i for i in items if explainer.budget.try_take(explainer.cost, self._clock())]
            if len(kept) < len(items):
                self._count(model_id, "over_budget", len(items) - len(kept))
            items = kept
        if not items:
            return
        try:
            values = explainer.attributor.explain(
                np.vstack([i.row for i in items]), [i.seed for i in items]
            )
        except PermanentError as exc:
            if len(items) == 1:
                self._dead(items[0].raw, exc, model_id, items[0].source)
                return
            for item in items:  # find the one(s) it cannot explain
                self._explain_items(model_id, config, explainer.attributor, [item])
            return
        self._send(model_id, config, explainer.attributor, items, values)

    def _explain_items(
        self, model_id: str, config: ExplainerConfig, attributor: Any, items: list[_Pending]
    ) -> None:
        try:
            values = attributor.explain(np.vstack([i.row for i in items]), [i.seed for i in items])
        except PermanentError as exc:
            for item in items:
                self._dead(item.raw, exc, model_id, item.source)
            return
        self._send(model_id, config, attributor, items, values)

    def _send(
        self, model_id: str, config: ExplainerConfig, attributor: Any, items: list[_Pending],
        values: np.ndarray,
    ) -> None:  # fmt: skip
        for item, row_values in zip(items, values, strict=True):
            try:
                body = attribution_event(
                    item.capture, config.features, row_values, attributor.method,
                    attributor.expected_value,
                )  # fmt: skip
            except PermanentError as exc:
                self._dead(item.raw, exc, model_id, item.source)
                continue
            self._producer.produce(self.output_topic, value=body, key=model_id.encode())
            self._producer.poll(0)
            self._count(model_id, "explained")

    def rewind(self) -> None:
        """Abort the open transaction and seek back to the committed offsets."""
        self.metrics.transactions.labels("aborted").inc()
        try:
            self._producer.abort_transaction(30)
        except KafkaException as exc:
            log.warning("abort failed: %s", exc)
        self._seek_committed()

    def _seek_committed(self) -> None:
        assignment = self._consumer.assignment()
        if not assignment:
            return
        try:
            committed = self._consumer.committed(assignment, 30)
        except KafkaException as exc:
            log.warning("cannot read committed offsets: %s", exc)
            return
        for tp in committed:
            tp.offset = tp.offset if tp.offset >= 0 else OFFSET_BEGINNING
            try:
                self._consumer.seek(tp)
            except KafkaException as exc:
                log.warning("seek failed: %s", exc)
