"""Keys land where Java's default partitioner puts them, on the real broker (issue 22, item 4).

Kafka's Java clients partition a keyed record by murmur2; librdkafka's default is crc32. Every
producer modelmon owns sets ``partitioner=murmur2_random``, so a model's events share one
partition whichever client (Java, kcat with -X partitioner=murmur2_random, modelmon) sent them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from kafka_murmur2 import java_partition
from modelmon.adapters.kafka import make_producer
from modelmon.capture import CaptureClient
from modelmon.settings import Settings

from .test_archiver import consume_all, topic_settings

PARTITIONS = 12


def model_ids(n: int, seed: int) -> list[str]:
    """Model-id-like keys of varied length (fixed seed: the same keys every run)."""
    rng = np.random.default_rng(seed)
    alphabet = list("abcdefghijklmnopqrstuvwxyz0123456789-")
    return ["m" + "".join(rng.choice(alphabet, int(rng.integers(1, 40)))) for _ in range(n)]


def partitions_seen(messages: list[Any]) -> dict[bytes, set[int]]:
    seen: dict[bytes, set[int]] = {}
    for msg in messages:
        seen.setdefault(msg.key(), set()).add(msg.partition())
    return seen


def produce(producer: Any, topic: str, keys: list[str], per_key: int) -> None:
    for i in range(per_key):
        for key in keys:
            producer.produce(topic, key=key.encode(), value=f"{i}".encode())
    assert producer.flush(30) == 0


def test_service_producers_partition_as_java_does(
    settings: Settings, new_topic: Callable[..., str], consumer_group: str,
    eventually: Callable[..., Any],
) -> None:  # fmt: skip
    """make_producer is what ingest, the proxy and every service produce with."""
    topic, keys = new_topic(PARTITIONS), model_ids(200, seed=4)
    produce(make_producer(settings.kafka), topic, keys, per_key=3)
    got = consume_all(settings, topic, consumer_group, 600, eventually)
    assert len(got) == 600  # counts stay exact
    expected = {k.encode(): {java_partition(k.encode(), PARTITIONS)} for k in keys}
    assert partitions_seen(got) == expected


def test_librdkafkas_default_would_disagree(
    settings: Settings, new_topic: Callable[..., str], consumer_group: str,
    eventually: Callable[..., Any],
) -> None:  # fmt: skip
    """Why the setting matters: librdkafka's own default (crc32) puts keys elsewhere."""
    topic, keys = new_topic(PARTITIONS), model_ids(200, seed=4)
    produce(make_producer(settings.kafka, partitioner="consistent_random"), topic, keys, 1)
    got = partitions_seen(consume_all(settings, topic, consumer_group, 200, eventually))
    moved = [k for k in keys if got[k.encode()] != {java_partition(k.encode(), PARTITIONS)}]
    assert len(moved) > 100  # ~11 in 12 land elsewhere


def test_the_capture_sdk_partitions_as_java_does(
    settings: Settings, new_topic: Callable[..., str], consumer_group: str,
    eventually: Callable[..., Any],
) -> None:  # fmt: skip
    topic, models = new_topic(PARTITIONS), model_ids(24, seed=5)
    cfg = topic_settings(settings, topic)
    for model in models:
        client = CaptureClient(model, settings=cfg)
        for i in range(5):
            assert client.capture({"x": i}, i) is not None
        client.close(timeout=30)
        assert client.dropped == 0
    got = consume_all(settings, topic, consumer_group, 5 * len(models), eventually)
    assert len(got) == 5 * len(models)
    expected = {m.encode(): {java_partition(m.encode(), PARTITIONS)} for m in models}
    assert partitions_seen(got) == expected
