"""Consumer lag of any Kafka consumer group, as one Prometheus gauge for every service.

``modelmon_consumer_lag{group, topic, partition}``: messages between the group's committed
offset and the end of each partition of the topics it reads (a partition the group never
committed counts from its start: modelmon's consumers reset to the earliest offset). It is what
KEDA's Kafka scaler sees (k8s/components/keda). Computed when Prometheus scrapes, with an admin
client of its own (two small broker requests per group): never through the service's consumer,
whose methods block while its loop polls (confluent-kafka serialises a consumer's calls). Every
member of a group reports the same figures, so aggregate with ``max by (group, topic,
partition)`` before summing (deploy/grafana/ does).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import OffsetSpec  # type: ignore[attr-defined]
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from modelmon.adapters.kafka import make_admin

log = logging.getLogger(__name__)

NAME = "modelmon_consumer_lag"
#: Seconds one scrape may wait for each broker request.
TIMEOUT = 3.0

LATEST, EARLIEST = OffsetSpec.latest(), OffsetSpec.earliest()  # type: ignore[no-untyped-call]

#: (consumer group, the topics it reads)
Source = tuple[str, Sequence[str]]


class ConsumerLag(Collector):
    """Yields the lag of each group in ``sources`` on every scrape (one collector per registry:
    a metric family may appear only once on a page). ``admin`` is a confluent-kafka
    ``AdminClient`` of the collector's own."""

    def __init__(self, admin: Any, sources: Sequence[Source]) -> None:
        self._admin, self._sources = admin, list(sources)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            NAME,
            "Messages between the consumer group's committed offset and the end of each "
            "partition (the same from every member of the group)",
            labels=["group", "topic", "partition"],
        )
        for group, topics in self._sources:
            for tp, lag in group_lag(self._admin, group, topics):
                family.add_metric([group, tp.topic, str(tp.partition)], lag)
        yield family


def group_lag(admin: Any, group: str, topics: Sequence[str]) -> list[tuple[TopicPartition, int]]:
    """(partition, lag) for every partition of ``topics``; [] when Kafka does not answer."""
    try:
        meta = admin.list_topics(timeout=TIMEOUT).topics
        tps = [
            TopicPartition(t, p) for t in topics if t in meta for p in sorted(meta[t].partitions)
        ]
        if not tps:
            return []
        request = [ConsumerGroupTopicPartitions(group, tps)]
        answer = admin.list_consumer_group_offsets(request, request_timeout=TIMEOUT)[group]
        committed = {
            (tp.topic, tp.partition): tp.offset for tp in answer.result(TIMEOUT).topic_partitions
        }
        ends = _offsets(admin, tps, LATEST)
        fresh = [tp for tp in tps if committed.get((tp.topic, tp.partition), -1) < 0]
        starts = _offsets(admin, fresh, EARLIEST) if fresh else {}
    except (KafkaException, TimeoutError) as exc:
        log.debug("consumer lag of %s not available: %s", group, exc)
        return []
    out = []
    for tp in tps:
        key = (tp.topic, tp.partition)
        start = committed.get(key, -1)
        start = start if start >= 0 else starts.get(key, -1)
        end = ends.get(key, -1)
        if start >= 0 and end >= 0:
            out.append((tp, max(0, end - start)))
    return out


def _offsets(admin: Any, tps: list[TopicPartition], spec: Any) -> dict[tuple[str, int], int]:
    futures = admin.list_offsets({tp: spec for tp in tps}, request_timeout=TIMEOUT)
    return {(tp.topic, tp.partition): f.result(TIMEOUT).offset for tp, f in futures.items()}


def watch_lag(registry: CollectorRegistry, kafka: Any, *sources: Source) -> None:
    """Export the lag of each (group, topics) on ``registry`` as ``modelmon_consumer_lag``;
    ``kafka``: the service's ``KafkaSettings`` (the admin client uses the same security)."""
    registry.register(ConsumerLag(make_admin(kafka), sources))
