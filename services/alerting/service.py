"""The alerting service: consume the alerts topic, route every event, commit when all routed.

Wiring only: the routing, state and formatting live in ``modelmon.alerting``. One event at a
time (the topic is small: one message per evaluated window or alert); the offset is committed
after ``Router.handle`` returns, i.e. once every route has delivered or dead-lettered. A
dependency outage seeks back to the event and retries it after a backoff, without crashing.
"""

from __future__ import annotations

import logging
import os
import random
import time
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, TopicPartition
from prometheus_client import CollectorRegistry
from pydantic import TypeAdapter, ValidationError

from modelmon.adapters.aws import boto_client
from modelmon.adapters.kafka import make_consumer, make_producer
from modelmon.adapters.lag import watch_lag
from modelmon.adapters.redis import make_redis
from modelmon.alerting.retry import RetryPolicy
from modelmon.alerting.router import Interrupted, Router, RouterDeps
from modelmon.alerting.senders import CloudWatchSender, SnsSender, WebhookSender
from modelmon.alerting.store import AlertingStore
from modelmon.alerting.telemetry import AlertingMetrics
from modelmon.errors import (
    DependencyUnavailableError,
    InvalidEventError,
    PermanentError,
    TransientError,
)
from modelmon.events import AlertEvent, AlertsTopicEvent, WindowEvaluated
from modelmon.keys import Keys
from modelmon.registry import ModelCatalog, Registry
from modelmon.retry import OUTAGE
from modelmon.service import DeadLetters, Health, StopFlag
from modelmon.settings import Settings

log = logging.getLogger(__name__)

SERVICE = "alerting"
_DECODE: TypeAdapter[AlertEvent | WindowEvaluated] = TypeAdapter(AlertsTopicEvent)


@dataclass(frozen=True)
class AlertingOptions:
    topic: str
    group: str = "modelmon-alerting"
    default_sns_topic: str | None = None
    cloudwatch: bool = True
    #: How long handled event ids are remembered for de-duplication.
    dedup_seconds: int = 2 * 86400
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    #: Deliveries of one event sent at the same time.
    concurrency: int = 4
    #: Deliveries retry inside one poll; allow them time before the group evicts us.
    max_poll_interval_ms: int = 900_000


class AlertingService:
    """Owns the consumer, the dead-letter producer, the router and the health flags."""

    def __init__(
        self, settings: Settings, options: AlertingOptions, stop: StopFlag,
        registry: CollectorRegistry,
    ) -> None:  # fmt: skip
        self.settings, self.options, self.stop = settings, options, stop
        self.health = Health()
        self.metrics = AlertingMetrics(registry)
        self._redis = make_redis(settings.redis)
        self._store = AlertingStore(
            self._redis, settings.redis.key_prefix, plan_ttl=options.dedup_seconds
        )
        self._catalog = ModelCatalog(Registry(self._redis, Keys(settings.redis.key_prefix)))
        self._producer = make_producer(settings.kafka)
        self._dead_letters = DeadLetters(
            self._produce_sync, settings.topics.deadletter, SERVICE, registry
        )
        self._source: tuple[str, int, int] | None = None
        self.router = Router(self._deps())
        self._consumer = make_consumer(
            settings.kafka, options.group, **{"max.poll.interval.ms": options.max_poll_interval_ms}
        )
        watch_lag(registry, settings.kafka, (options.group, [options.topic]))
        self._outages = 0

    def _deps(self) -> RouterDeps:
        aws = self.settings.aws
        return RouterDeps(
            store=self._store,
            senders={
                "sns": SnsSender(boto_client(aws, "sns")),
                "cloudwatch": CloudWatchSender(boto_client(aws, "cloudwatch")),
                "webhook": WebhookSender(os.environ.get, time.time),
            },
            get_config=self._catalog.config,
            dead_letter=self._dead_letter,
            policy=self.options.policy,
            sleep=self._sleep,
            rand=random.random,
            clock=time.time,
            metrics=self.metrics,
            should_stop=self.stop.is_set,
            default_sns_topic=self.options.default_sns_topic,
            cloudwatch_enabled=self.options.cloudwatch,
            concurrency=self.options.concurrency,
        )

    def _dead_letter(self, original: bytes, error: Exception, model_id: str) -> None:
        self._dead_letters.send(
            original, error, model_id=model_id, source=self._source, code="delivery_failed"
        )

    def _sleep(self, seconds: float) -> None:
        self.stop.wait(seconds)  # SIGTERM cuts a backoff short

    def _produce_sync(self, topic: str, key: bytes | None, value: bytes) -> None:
        """Produce and wait: a dead letter must be durable before its delivery is recorded."""
        errors: list[Any] = []

        def delivered(err: KafkaError | None, _msg: Message) -> None:
            if err is not None:
                errors.append(err)

        try:
            self._producer.produce(topic, key=key, value=value, on_delivery=delivered)
        except (BufferError, KafkaException) as exc:
            raise DependencyUnavailableError(
                f"dead-letter produce to {topic} failed: {exc}"
            ) from exc
        left = self._producer.flush(30)
        if left or errors:
            raise DependencyUnavailableError(f"dead-letter produce to {topic} failed: {errors}")

    def run(self) -> None:
        self._consumer.subscribe(
            [self.options.topic], on_assign=self._on_assign, on_revoke=self._on_revoke
        )
        log.info(
            "alerting started", extra={"topic": self.options.topic, "group": self.options.group}
        )
        try:
            while not self.stop.is_set():
                self.step(0.5)
        finally:
            self.health.set_ready(False, "stopping")
            self.router.close()
            self._consumer.close()
            self._producer.flush(10)
            self._redis.close()
            log.info("alerting stopped")

    def _on_assign(self, _consumer: Any, partitions: list[TopicPartition]) -> None:
        self.health.set_ready(True, f"assigned {len(partitions)} partition(s)")

    def _on_revoke(self, _consumer: Any, partitions: list[TopicPartition]) -> None:
        log.info("partitions revoked", extra={"partitions": [p.partition for p in partitions]})

    def step(self, timeout: float) -> None:
        """Poll one event, route it, commit it (or seek back after an outage)."""
        msg = self._consumer.poll(timeout)
        if msg is None:
            return
        error = msg.error()
        if error is not None:
            if error.code() != KafkaError._PARTITION_EOF:
                log.warning("consumer error: %s", error)
            return
        try:
            self._process(msg)
        except Interrupted as exc:
            log.info("%s", exc)
            self._seek_back(msg)
            return
        except TransientError as exc:
            self._back_off(msg, exc)
            return
        except Exception as exc:  # bad input must never crash the service
            log.exception("event could not be handled; dead-lettering it", extra=self._where(msg))
            if not self._dead_letter_unhandled(msg, exc):
                return
        self._outages = 0
        self.health.set_ready(True)
        self._commit(msg)

    def _back_off(self, msg: Message, exc: Exception) -> None:
        """A dependency is down: put the event back and wait before trying it again."""
        self._outages += 1
        self.metrics.event_retries.inc()
        delay = OUTAGE.delay(min(self._outages, 30), random.random())
        log.warning("dependency down, retrying the event in %.1fs: %s", delay, exc,
                    extra=self._where(msg))  # fmt: skip
        self.health.set_ready(False, f"dependency down: {exc}")
        self._seek_back(msg)
        self.stop.wait(delay)

    def _dead_letter_unhandled(self, msg: Message, exc: Exception) -> bool:
        """Dead-letter an event that failed unexpectedly; False (retry later) if that fails."""
        error = PermanentError(f"alerting failed on this event: {type(exc).__name__}: {exc}")
        try:
            self._dead_letters.send(msg.value() or b"", error, source=self._source)
        except TransientError as down:
            self._back_off(msg, down)
            return False
        self.metrics.events.labels("unhandled", "dead_lettered").inc()
        return True

    def _process(self, msg: Message) -> None:
        value = msg.value() or b""
        self._source = (msg.topic() or "", msg.partition() or 0, msg.offset() or 0)
        try:
            event = _DECODE.validate_json(value)
        except ValidationError as exc:
            error = InvalidEventError(f"not an alerts-topic event: {exc.errors()[0]['msg']}")
            self._dead_letters.send(value, error, source=self._source)
            self.metrics.events.labels("invalid", "dead_lettered").inc()
            return
        self._catalog.refresh()
        self.router.handle(event)
        self.metrics.events.labels(event.type, "handled").inc()

    def _seek_back(self, msg: Message) -> None:
        tp = TopicPartition(msg.topic() or "", msg.partition() or 0, msg.offset() or 0)
        try:
            self._consumer.seek(tp)
        except KafkaException as exc:  # partition revoked meanwhile: its new owner replays it
            log.warning("could not seek back: %s", exc, extra=self._where(msg))

    def _commit(self, msg: Message) -> None:
        try:
            self._consumer.commit(message=msg, asynchronous=False)
        except KafkaException as exc:  # a replay is harmless: plans and records dedupe it
            log.warning("commit failed: %s", exc, extra=self._where(msg))

    @staticmethod
    def _where(msg: Message) -> dict[str, Any]:
        return {"topic": msg.topic(), "partition": msg.partition(), "offset": msg.offset()}
