"""``modelmon_consumer_lag`` on a real broker: what a consumer has not read yet, per partition."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import TopicPartition
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest

from conftest import wait_until
from modelmon.adapters.kafka import make_consumer, make_producer
from modelmon.adapters.lag import NAME, watch_lag
from modelmon.settings import Settings

pytestmark = pytest.mark.integration


def _lag(registry: CollectorRegistry, group: str, topic: str) -> dict[int, float]:
    out: dict[int, float] = {}
    for family in registry.collect():
        if family.name == NAME:
            for sample in family.samples:
                if sample.labels["group"] == group and sample.labels["topic"] == topic:
                    out[int(sample.labels["partition"])] = sample.value
    return out


def _produce(settings: Settings, topic: str, counts: list[int]) -> None:
    producer = make_producer(settings.kafka)
    for partition, count in enumerate(counts):
        for i in range(count):
            producer.produce(topic, value=b"x%d" % i, partition=partition)
    assert producer.flush(30) == 0


@hsettings(
    max_examples=4, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)  # fmt: skip
@given(
    produced=st.lists(st.integers(1, 30), min_size=2, max_size=2),
    read=st.integers(1, 40),
    committed=st.integers(0, 30),
)
def test_lag_is_what_the_group_has_not_consumed(
    settings: Settings,
    new_topic: Callable[..., str],
    consumer_group: str,
    produced: list[int],
    read: int,
    committed: int,
) -> None:
    """Partition 0 is read from (lag from the position); partition 1 only has a committed
    offset (lag from the commit, as after a restart before the first batch)."""
    topic = new_topic(partitions=2)
    group = f"{consumer_group}-{produced[0]}-{produced[1]}-{read}-{committed}"
    _produce(settings, topic, produced)
    read, committed = min(read, produced[0]), min(committed, produced[1])
    consumer: Any = make_consumer(settings.kafka, group)
    registry, stopping = CollectorRegistry(), [False]
    watch_lag(registry, lambda: stopping[0], (consumer, group))
    try:
        consumer.commit(offsets=[TopicPartition(topic, 1, committed)], asynchronous=False)
        consumer.assign([TopicPartition(topic, 0, 0), TopicPartition(topic, 1, committed)])
        consumer.pause([TopicPartition(topic, 1)])  # assigned, never read
        got: list[Any] = []
        wait_until(lambda: got.extend(consumer.consume(read - len(got), 1.0)) or len(got) >= read,
                   60, "messages of partition 0")  # fmt: skip
        assert {m.partition() for m in got} == {0}
        assert _lag(registry, group, topic) == {0: produced[0] - read, 1: produced[1] - committed}
        assert generate_latest(registry).decode().count(f"# TYPE {NAME} gauge") == 1
        stopping[0] = True
        assert _lag(registry, group, topic) == {}, "left empty while the service stops"
    finally:
        consumer.close()
    assert _lag(registry, group, topic) == {}, "a closed consumer is never touched"
