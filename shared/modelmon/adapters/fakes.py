"""In-memory Kafka for unit tests: ``FakeKafka`` topics, and a consumer and a producer on them.

They fill the ``ConsumerPort`` / ``ProducerPort`` seams with real confluent-kafka ``Message``
and ``TopicPartition`` objects, so a service under test cannot tell. A test drives rebalances
explicitly (``FakeConsumer.rebalance``), as librdkafka would call the callbacks from inside
``consume()``; ``fail_produce``, ``delivery_errors`` and ``unacked`` simulate a broker that
refuses, fails a delivery or does not acknowledge. Nothing here sleeps: ``consume`` returns
what is there at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)

from modelmon.adapters.kafka import RebalanceCallback


@dataclass
class FakeKafka:
    """Topics as lists of partitions of messages; offsets are list positions."""

    partitions: int = 3
    topics: dict[str, list[list[Message]]] = field(default_factory=dict)

    def log(self, topic: str) -> list[list[Message]]:
        return self.topics.setdefault(topic, [[] for _ in range(self.partitions)])

    def append(self, topic: str, partition: int, value: bytes, key: bytes | None = None) -> int:
        """Append a message; returns its offset."""
        part = self.log(topic)[partition]
        offset = len(part)
        part.append(Message(topic=topic, partition=partition, offset=offset, key=key, value=value))
        return offset


def _noop(_consumer: Any, _partitions: list[TopicPartition]) -> None:
    """No rebalance callback given."""


class FakeConsumer:
    """A group member: positions per assigned partition, commits recorded."""

    def __init__(self, kafka: FakeKafka) -> None:
        self.kafka = kafka
        self.topic = ""
        self.positions: dict[int, int] = {}
        self.committed: dict[int, int] = {}
        self.closed = False
        self._on_assign: RebalanceCallback = _noop
        self._on_revoke: RebalanceCallback = _noop
        self._on_lost: RebalanceCallback = _noop

    # -- the port ----------------------------------------------------------------------------
    def subscribe(
        self,
        topics: list[str],
        on_assign: RebalanceCallback = _noop,
        on_revoke: RebalanceCallback = _noop,
        on_lost: RebalanceCallback = _noop,
    ) -> None:
        [self.topic] = topics
        self._on_assign, self._on_revoke, self._on_lost = on_assign, on_revoke, on_lost

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[Message]:
        out: list[Message] = []
        log = self.kafka.log(self.topic)
        for p in sorted(self.positions):
            take = log[p][self.positions[p] : self.positions[p] + num_messages - len(out)]
            self.positions[p] += len(take)
            out += take
        return out

    def assign(self, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self.positions[tp.partition] = 0 if tp.offset == OFFSET_BEGINNING else tp.offset

    def seek(self, partition: TopicPartition) -> None:
        if partition.partition not in self.positions:
            raise KafkaException(KafkaError(KafkaError._STATE, "partition not assigned"))
        offset = partition.offset
        self.positions[partition.partition] = 0 if offset == OFFSET_BEGINNING else offset

    def commit(self, *args: Any, **kwargs: Any) -> None:
        for tp in kwargs["offsets"]:
            self.committed[tp.partition] = tp.offset

    def get_watermark_offsets(
        self, partition: TopicPartition, timeout: float = -1, cached: bool = False
    ) -> tuple[int, int]:
        return 0, len(self.kafka.log(partition.topic)[partition.partition])

    def list_topics(self, topic: str | None = None, timeout: float = -1) -> Any:
        """Metadata as confluent-kafka shapes it: ``.topics[name].partitions``/``.error``."""
        names = [topic] if topic else list(self.kafka.topics)
        return SimpleNamespace(
            topics={
                name: SimpleNamespace(
                    partitions=dict.fromkeys(range(len(self.kafka.log(name)))), error=None
                )
                for name in names
            }
        )

    def close(self) -> None:
        self.closed = True

    # -- what a test does to it --------------------------------------------------------------
    def rebalance(
        self, *, assign: Sequence[int] = (), revoke: Sequence[int] = (), lose: Sequence[int] = ()
    ) -> None:
        """Run the group's callbacks as librdkafka would: revoke/lose first, then assign."""
        if revoke:
            self._on_revoke(self, self._tps(revoke))
        if lose:
            self._on_lost(self, self._tps(lose))
        for p in [*revoke, *lose]:
            self.positions.pop(p, None)
        if assign:
            self._on_assign(self, self._tps(assign))

    def _tps(self, partitions: Sequence[int]) -> list[TopicPartition]:
        return [TopicPartition(self.topic, p) for p in partitions]


class FakeProducer:
    """Collects produced messages per topic; ``unacked`` > 0 makes ``flush`` report them."""

    def __init__(self, kafka: FakeKafka | None = None) -> None:
        self.kafka = kafka or FakeKafka()
        self.sent: list[tuple[str, bytes | None, bytes]] = []
        self.unacked = 0
        self.fail_produce: Callable[[str, bytes], Exception | None] = lambda _t, _v: None
        #: errors handed to the next deliveries' callbacks (a broker refusing them)
        self.delivery_errors: list[KafkaError] = []

    def produce(self, *args: Any, **kwargs: Any) -> None:
        topic: str = args[0] if args else kwargs["topic"]
        value: bytes = kwargs.get("value", args[1] if len(args) > 1 else b"")
        key: bytes | None = kwargs.get("key")
        error = self.fail_produce(topic, value)
        if error is not None:
            raise error
        self.sent.append((topic, key, value))
        self.kafka.append(topic, len(self.sent) % self.kafka.partitions, value, key)
        delivered = kwargs.get("on_delivery")
        refused = self.delivery_errors.pop(0) if self.delivery_errors else None
        if delivered is not None:
            delivered(refused, Message(topic=topic, value=value, key=key))

    def poll(self, timeout: float = -1) -> int:
        return 0

    def flush(self, timeout: float = -1) -> int:
        return self.unacked

    def values(self, topic: str) -> list[bytes]:
        return [v for t, _, v in self.sent if t == topic]
