"""Thin factories over confluent-kafka, configured from Settings.

Services build clients here so that SASL/SSL and other librdkafka options from settings apply
everywhere. confluent-kafka's own errors are re-raised as modelmon errors by the callers that
know what a failure means to them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from confluent_kafka import Consumer, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from modelmon.errors import DependencyUnavailableError
from modelmon.settings import KafkaSettings, TopicSettings

#: Java's default partitioner for keyed records (murmur2 of the key, positive, modulo the
#: partition count); librdkafka's own default is crc32. With this, a key lands on the same
#: partition whichever client produced it (docs/streaming.md, "Partitioning").
PARTITIONER = "murmur2_random"

RebalanceCallback = Callable[[Any, list[TopicPartition]], None]


class ConsumerPort(Protocol):
    """The part of a confluent-kafka ``Consumer`` the streaming services use (the seam their
    unit tests fill with ``modelmon.adapters.fakes.FakeConsumer``)."""

    def subscribe(
        self,
        topics: list[str],
        on_assign: RebalanceCallback = ...,
        on_revoke: RebalanceCallback = ...,
        on_lost: RebalanceCallback = ...,
    ) -> None: ...

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[Message]: ...

    def assign(self, partitions: list[TopicPartition]) -> None: ...

    def seek(self, partition: TopicPartition) -> None: ...

    def commit(self, *args: Any, **kwargs: Any) -> Any:
        """``commit(offsets=[...], asynchronous=True)``."""

    def get_watermark_offsets(
        self, partition: TopicPartition, timeout: float = ..., cached: bool = False
    ) -> tuple[int, int]: ...

    def list_topics(self, topic: str | None = None, timeout: float = -1) -> Any: ...

    def close(self) -> None: ...


class ProducerPort(Protocol):
    """The part of a confluent-kafka ``Producer`` the streaming services use."""

    def produce(self, *args: Any, **kwargs: Any) -> None:
        """``produce(topic, value=..., key=..., on_delivery=...)``."""

    def poll(self, timeout: float = -1) -> int: ...

    def flush(self, timeout: float = -1) -> int: ...


def producer_config(kafka: KafkaSettings, **overrides: Any) -> dict[str, Any]:
    """Idempotent, acks=all, compressed, Java's partitioner: every modelmon producer's default."""
    conf = kafka.librdkafka_config()
    conf.update(
        {
            "partitioner": PARTITIONER,
            "enable.idempotence": True,
            "acks": "all",
            "compression.type": "lz4",
            "linger.ms": 5,
        }
    )
    conf.update(overrides)
    return conf


def consumer_config(kafka: KafkaSettings, group_id: str, **overrides: Any) -> dict[str, Any]:
    """Manual commits, read-committed, starting from the earliest offset for a new group."""
    conf = kafka.librdkafka_config()
    conf.update(
        {
            "group.id": group_id,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
        }
    )
    conf.update(overrides)
    return conf


def make_producer(kafka: KafkaSettings, **overrides: Any) -> Producer:
    return Producer(producer_config(kafka, **overrides))


def make_consumer(kafka: KafkaSettings, group_id: str, **overrides: Any) -> Consumer:
    return Consumer(consumer_config(kafka, group_id, **overrides))


def make_admin(kafka: KafkaSettings) -> AdminClient:
    return AdminClient(kafka.librdkafka_config())


def ensure_topics(
    admin: AdminClient, topics: TopicSettings, timeout: float = 30.0
) -> dict[str, int]:
    """Create modelmon's topics if they are missing; returns name -> partition count."""
    wanted = {
        topics.capture: topics.capture_partitions,
        topics.alerts: topics.alerts_partitions,
        topics.deadletter: topics.deadletter_partitions,
        topics.labels: topics.labels_partitions,
        topics.attributions: topics.attributions_partitions,
    }
    try:
        existing = admin.list_topics(timeout=timeout).topics
    except KafkaException as exc:
        raise DependencyUnavailableError(f"Kafka did not answer: {exc}") from exc
    missing = [
        NewTopic(name, num_partitions=parts, replication_factor=topics.replication_factor)
        for name, parts in wanted.items()
        if name not in existing
    ]
    if missing:
        for name, future in admin.create_topics(missing, operation_timeout=timeout).items():
            try:
                future.result(timeout)
            except KafkaException as exc:
                if "TOPIC_ALREADY_EXISTS" not in str(exc):
                    raise DependencyUnavailableError(f"could not create {name}: {exc}") from exc
    result = admin.list_topics(timeout=timeout).topics
    return {name: len(result[name].partitions) for name in wanted if name in result}
