"""``modelmon_consumer_lag`` on a real broker: what a group has not committed yet, per partition."""

from __future__ import annotations

import threading
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
    produced=st.lists(st.integers(0, 30), min_size=3, max_size=3),
    committed=st.lists(st.integers(0, 30), min_size=2, max_size=2),
)
def test_lag_is_what_the_group_has_not_committed(
    settings: Settings,
    new_topic: Callable[..., str],
    consumer_group: str,
    produced: list[int],
    committed: list[int],
) -> None:
    """Partitions 0 and 1 have committed offsets; partition 2 none (a new group: all of it,
    since modelmon's consumers start at the earliest offset)."""
    topic = new_topic(partitions=3)
    group = f"{consumer_group}-{'-'.join(map(str, produced + committed))}"
    _produce(settings, topic, produced)
    done = [min(c, p) for c, p in zip(committed, produced, strict=False)]
    consumer: Any = make_consumer(settings.kafka, group)
    try:
        consumer.commit(
            offsets=[TopicPartition(topic, p, off) for p, off in enumerate(done)],
            asynchronous=False,
        )
    finally:
        consumer.close()
    registry = CollectorRegistry()
    watch_lag(registry, settings.kafka, (group, [topic, "modelmon-no-such-topic"]))
    want = {0: produced[0] - done[0], 1: produced[1] - done[1], 2: produced[2]}
    assert _lag(registry, group, topic) == want
    assert generate_latest(registry).decode().count(f"# TYPE {NAME} gauge") == 1


def test_a_scrape_never_waits_for_the_services_consumer(
    settings: Settings, new_topic: Callable[..., str], consumer_group: str
) -> None:
    """The service's loop polls its consumer all the time; confluent-kafka serialises a
    consumer's calls, so a gauge read through it would hang every scrape (it did)."""
    topic = new_topic(partitions=2)
    _produce(settings, topic, [5, 7])
    consumer: Any = make_consumer(settings.kafka, consumer_group)
    consumer.subscribe([topic])
    stop = threading.Event()
    polled: list[Any] = []

    def loop() -> None:
        while not stop.is_set():
            msg = consumer.poll(1.0)
            if msg is not None and msg.error() is None:
                polled.append(msg)
                consumer.commit(message=msg, asynchronous=False)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    registry = CollectorRegistry()
    watch_lag(registry, settings.kafka, (consumer_group, [topic]))
    try:
        wait_until(lambda: len(polled) == 12, 60, "the loop to consume everything")
        wait_until(lambda: _lag(registry, consumer_group, topic) == {0: 0, 1: 0}, 60, "lag 0")
    finally:
        stop.set()
        thread.join(10)
        consumer.close()
