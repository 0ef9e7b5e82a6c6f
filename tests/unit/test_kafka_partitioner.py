"""The test's copy of Java's murmur2 partitioner matches Kafka's own test vectors, and every
modelmon producer is configured to partition as Java does (issue 22, item 4)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kafka_murmur2 import java_partition, murmur2
from modelmon.adapters.kafka import PARTITIONER, producer_config
from modelmon.settings import KafkaSettings

#: org.apache.kafka.common.utils.UtilsTest#testMurmur2 (the values Java's Utils.murmur2 returns).
KAFKA_VECTORS = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


@pytest.mark.parametrize(("data", "expected"), KAFKA_VECTORS.items())
def test_murmur2_matches_kafkas_vectors(data: bytes, expected: int) -> None:
    assert murmur2(data) == expected


@given(key=st.binary(max_size=64), partitions=st.integers(1, 200))
def test_java_partition_is_in_range(key: bytes, partitions: int) -> None:
    assert 0 <= java_partition(key, partitions) < partitions
    assert -(2**31) <= murmur2(key) < 2**31


def test_every_modelmon_producer_uses_javas_partitioner() -> None:
    """SDK, ingest, proxy and the services all build their producer from producer_config."""
    assert PARTITIONER == "murmur2_random"
    assert producer_config(KafkaSettings())["partitioner"] == "murmur2_random"
