"""The aggregator loop: capture topic -> per (model, window, partition) profiles -> Redis.

Exactly-once: a partition's state is written only by the fenced flush, with the offset the
state covers; on assignment the consumer resumes from the offset stored in Redis (Kafka's
committed offsets are written after each flush only so lag tools work). See docs/streaming.md.

The loop is this file; partition ownership (assign/revoke/lost/flush/fence/reset) is
``ownership.py``, decode routing and dead letters ``intake.py``. Every client is handed in
(``build`` in ``__init__.py`` makes the real ones; unit tests give in-memory fakes).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message
from prometheus_client import CollectorRegistry

from modelmon.adapters.kafka import ConsumerPort, ProducerPort
from modelmon.errors import DependencyUnavailableError
from modelmon.generation import GenerationGuard
from modelmon.limits import EventTimeBounds
from modelmon.registry import ModelCatalog
from modelmon.retry import retry_transient
from modelmon.service import DeadLetters, Health, RedactFn, StopFlag
from modelmon.streaming.feature_cap import DEFAULT_MAX_FEATURES
from modelmon.streaming.partition import FlushCadence
from modelmon.streaming.runtime import tune_collector

from .intake import Intake, plans_of
from .metrics import AggregatorMetrics
from .ownership import Ownership, PartitionStorePort

log = logging.getLogger(__name__)

SERVICE = "aggregator"

__all__ = ["Aggregator", "AggregatorOptions", "Readiness", "plans_of"]


@dataclass(frozen=True)
class AggregatorOptions:
    topic: str
    group: str = "modelmon-aggregator"
    batch_size: int = 20_000  # AggregatorSettings.batch_size
    poll_timeout: float = 0.2
    flush_events: int = 100_000
    flush_seconds: float = 1.0
    cadence: FlushCadence = field(default_factory=FlushCadence)  # what a flush writes (issue 23)
    retention_seconds: int = 7 * 86400
    max_features: int = DEFAULT_MAX_FEATURES  # per model and window (issue 19)
    bounds: EventTimeBounds | None = None  # event-time horizons (issue 19); None: unbounded


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

    def on_kafka_error(self, error: KafkaError) -> None:
        """librdkafka's own errors (it reconnects by itself): readiness follows the brokers."""
        if error.code() == KafkaError._ALL_BROKERS_DOWN:
            self.kafka_down = f"Kafka unreachable: {error.str()}"
            self.changed()
            log.warning("kafka: %s", error.str())
        else:
            log.debug("kafka: %s", error.str())


@dataclass(frozen=True)
class AggregatorPorts:
    """The aggregator's clients: Kafka in and out, the partition store, the registry."""

    consumer: ConsumerPort
    producer: ProducerPort
    store: PartitionStorePort
    catalog: ModelCatalog
    deadletter_topic: str
    close: Callable[[], None] = lambda: None  # releases what the clients hold (Redis)
    #: reads the state generation (``Registry.generation``; write=True writes it if missing);
    #: None: no Redis-loss guard (issue 19)
    generation: Callable[..., bytes | None] | None = None
    redact: RedactFn | None = None  # what a dead letter may carry of a capture (issue 21)
    #: folds a batch's attributions in (``streaming.attribution_store.AttributionIntake``)
    attributions: Callable[..., int] | None = None


class Aggregator:
    """The loop: consume, fold in, flush on size or time; clients handed in."""

    def __init__(
        self,
        options: AggregatorOptions,
        ports: AggregatorPorts,
        stop: StopFlag,
        registry: CollectorRegistry,
        readiness: Readiness,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.options, self.stop, self._ports, self._rand = options, stop, ports, rand
        self._readiness = readiness
        self.metrics = AggregatorMetrics(registry)
        self._consumer, self._producer = ports.consumer, ports.producer
        self._dead = DeadLetters(
            self._produce, ports.deadletter_topic, SERVICE, registry, redact=ports.redact
        )
        self._generation = GenerationGuard(ports.generation or (lambda: None))  # issue 19
        self.intake = Intake(
            options.topic, ports.catalog, self._dead, self.metrics, bounds=options.bounds,
            max_features=options.max_features, clock=clock, may_refresh=self._intact,
            attributions=ports.attributions,
        )  # fmt: skip
        self.ownership = Ownership(
            options.topic, ports.consumer, ports.store, self.metrics, retry=self._retry,
            flush_dead_letters=lambda: self._retry("deliver dead letters", self._flush_producer),
            dead_letter=self._dead.send, joined=self._joined, clock=clock,
            writable=lambda: self._generation.lost is None,
        )  # fmt: skip
        self._last_probe = float("-inf")

    @property
    def health(self) -> Health:
        return self._readiness.health

    @property
    def owned(self) -> dict[int, Any]:
        return self.ownership.owned

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
        self._retry("load the model registry", lambda: self.intake.refresh(force=True))
        generation = self._ports.generation
        if generation is not None and self.intake.plans:  # issue 19: the state's generation
            self._retry("read the state generation", lambda: generation(True))
        self._generation.intact()
        own = self.ownership
        self._consumer.subscribe(
            [self.options.topic], on_assign=own.on_assign, on_revoke=own.on_revoke,
            on_lost=own.on_lost,
        )  # fmt: skip
        self._readiness.changed()  # "joining the consumer group" until partitions are assigned
        log.info("aggregator started", extra={"topic": self.options.topic})

    def close(self) -> None:
        """Flush what is pending, leave the group, release the clients."""
        self.health.set_ready(False, "stopping")
        self.ownership.flush()
        self._consumer.close()  # leaves the group (revocation flushes nothing new)
        self._producer.flush(10)
        self._ports.close()
        log.info("aggregator stopped")

    def step(self) -> int:
        """One batch: consume, fold in, and flush when the size or time cadence says so."""
        if not self._intact():  # issue 19: Redis lost its state: consume nothing
            return self._halted(self._generation.lost or "")
        msgs = self._consumer.consume(self.options.batch_size, self.options.poll_timeout)
        if self._readiness.kafka_down:
            self._probe_kafka()
        if msgs:
            self.intake.refresh_quietly()
            self.process(msgs)
        own = self.ownership
        due = time.monotonic() - own.last_flush >= self.options.flush_seconds
        if own.pending_events >= self.options.flush_events or due:
            own.flush(cadence=self.options.cadence)
        return len(msgs)

    def process(self, msgs: list[Message]) -> None:
        self.ownership.pending_events += self.intake.process(msgs, self.ownership.owned)

    def _intact(self) -> bool:
        return self._ports.generation is None or self._generation.intact()

    def _halted(self, reason: str) -> int:
        self._readiness.blocked = reason
        self._readiness.changed()
        self.metrics.state_lost.set(1)
        self.stop.wait(1.0)
        return 0

    def _joined(self) -> None:
        self._readiness.joined = True
        self._readiness.changed()

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

    def _produce(self, topic: str, key: bytes | None, value: bytes) -> None:
        self._producer.produce(topic, key=key, value=value, on_delivery=self._dead.delivered)
        self._producer.poll(0)

    def _flush_producer(self) -> None:
        """Every dead letter acknowledged, or TransientError (the offsets wait for them)."""
        if self._producer.flush(30):
            raise DependencyUnavailableError("dead letters not delivered within 30s")
        self._dead.redeliver()

    def _retry(self, what: str, action: Callable[[], Any]) -> Any:
        """Run ``action``, retrying transient failures on the one backoff (modelmon.retry)."""
        return retry_transient(
            what, action, wait=self.stop.wait, rand=self._rand, blocked=self._blocked
        )

    def _blocked(self, reason: str | None) -> None:
        self._readiness.blocked = reason
        self._readiness.changed()
