"""Consumer lag of any Kafka consumer group, as one Prometheus gauge for every service.

``modelmon_consumer_lag{group, topic, partition}``: messages between this process's position on
each partition it owns and the end of that partition. It is computed when Prometheus scrapes
(a few small broker requests per scrape, none in the service's loop): on a partition where
nothing was consumed since it was assigned, from the group's committed offset; a partition
with neither is left out rather than guessed. The autoscaler (KEDA's Kafka scaler, k8s/) reads
the group's *committed* offsets instead; the two agree once the service has committed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from confluent_kafka import KafkaException, TopicPartition
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

NAME = "modelmon_consumer_lag"
#: Seconds a scrape may wait for the broker (committed offsets, partition ends).
COMMITTED_TIMEOUT = 2.0


class LagSource(Protocol):
    """The part of a confluent-kafka ``Consumer`` the gauge reads."""

    def assignment(self) -> list[TopicPartition]: ...

    def position(self, partitions: list[TopicPartition]) -> list[TopicPartition]: ...

    def committed(self, partitions: list[TopicPartition], timeout: float) -> Any: ...

    def get_watermark_offsets(self, partition: TopicPartition, **kwargs: Any) -> Any: ...


class ConsumerLag(Collector):
    """Yields the lag of each (consumer, group) in ``sources`` on every scrape (one collector
    per registry: a metric family may appear only once on a page).

    ``stopping`` returns True once the service is shutting down: its consumers are about to be
    closed, and a closed client must not be touched, so the gauge is then left empty.
    """

    def __init__(
        self, sources: Sequence[tuple[LagSource, str]], stopping: Callable[[], bool]
    ) -> None:
        self._sources, self._stopping = list(sources), stopping

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            NAME,
            "Messages between this consumer's position and the end of each partition it owns",
            labels=["group", "topic", "partition"],
        )
        for consumer, group in self._sources:
            for tp, lag in lags(consumer, self._stopping):
                family.add_metric([group, tp.topic, str(tp.partition)], lag)
        yield family


def lags(consumer: LagSource, stopping: Callable[[], bool]) -> list[tuple[TopicPartition, int]]:
    """(partition, lag) for each owned partition whose position and end are known."""
    if stopping():
        return []
    try:
        positions = consumer.position(consumer.assignment())
        unread = [tp for tp in positions if tp.offset < 0]
        if unread:  # nothing consumed there since the assignment: from the committed offset
            positions = [tp for tp in positions if tp.offset >= 0]
            positions += consumer.committed(unread, timeout=COMMITTED_TIMEOUT)
        out = []
        for tp in positions:
            _, high = consumer.get_watermark_offsets(tp, timeout=COMMITTED_TIMEOUT)
            if tp.offset >= 0 and high >= 0:
                out.append((tp, max(0, high - tp.offset)))
        return out
    except (KafkaException, RuntimeError) as exc:  # RuntimeError: the consumer is closed
        log.debug("consumer lag not available: %s", exc)
        return []


def watch_lag(
    registry: CollectorRegistry, stopping: Callable[[], bool], *sources: tuple[Any, str]
) -> None:
    """Export the lag of each (consumer, group) on ``registry`` as ``modelmon_consumer_lag``."""
    registry.register(ConsumerLag(sources, stopping))
