"""Redis losing its state under a running aggregator (issue 19, class 4): the aggregator stops
consuming with a clear error instead of replaying the topic into an empty registry."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import Consumer, TopicPartition

from modelmon.settings import Settings

from .test_aggregator_support import (
    MODELMON,
    ServiceProcess,
    assert_exact_windows,
    caught_up,
    high_watermarks,
    make_events,
    produce,
    register,
    service_env,
    stored_offsets,
    wait_for,
)

T0 = 1_767_225_600_000


def _wipe(redis_client: Any, prefix: str) -> int:
    keys = list(redis_client.scan_iter(match=f"{prefix}*", count=1000))
    return int(redis_client.delete(*keys)) if keys else 0


def test_state_lost_under_a_running_aggregator_stops_it_without_replaying(
    settings: Settings, new_topic: Any, consumer_group: str, redis_client: Any,
    redis_prefix: str, tmp_path: Path,
) -> None:  # fmt: skip
    topic, deadletter = new_topic(partitions=2), new_topic(partitions=1)
    register(redis_client, redis_prefix, "m", size_seconds=10, allowed_lateness_seconds=2)
    produce(settings, topic, make_events("m", T0, 1000, 10, partitions=2))
    env = service_env(redis_prefix, topic, consumer_group, deadletter)
    svc = ServiceProcess("aggregator", env, tmp_path / "agg.log").start()
    try:
        offsets = high_watermarks(settings, topic, 2)
        wait_for(lambda: caught_up(redis_client, redis_prefix, topic, offsets) or not svc.alive(),
                 120, "the aggregator to catch up")  # fmt: skip
        assert _wipe(redis_client, redis_prefix) > 0  # Redis comes back empty
        produce(settings, topic, make_events("m", T0 + 10_000, 1000, 10, partitions=2, seed=5))
        wait_for(lambda: "Redis lost modelmon's state" in svc.logs() or not svc.alive(), 60,
                 "the aggregator to notice")  # fmt: skip
        time.sleep(3.0)  # a replay, if any, would write offsets and dead letters by now
        assert svc.alive(), svc.logs()
        assert stored_offsets(redis_client, redis_prefix, topic, 2) == {0: None, 1: None}
        assert list(redis_client.scan_iter(match=f"{redis_prefix}*")) == []
    finally:
        assert svc.terminate() == 0, svc.logs()
    assert "consumption stopped" in svc.logs()
    consumer = Consumer(settings.kafka.librdkafka_config() | {"group.id": consumer_group + "-p"})
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(deadletter, 0), timeout=10)
    finally:
        consumer.close()
    assert high - low == 0, "dead letters were written: the aggregator replayed into nothing"


def _modelmon(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([MODELMON, *args], env=os.environ | env, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode() + done.stderr.decode()


def test_after_a_loss_rebuild_restores_the_registry_and_a_restart_counts_exactly(
    settings: Settings, new_topic: Any, consumer_group: str, redis_client: Any,
    redis_prefix: str, tmp_path: Path,
) -> None:  # fmt: skip
    topic, deadletter, backup = new_topic(partitions=2), new_topic(partitions=1), new_topic(1)
    env = service_env(redis_prefix, topic, consumer_group, deadletter)
    env["MODELMON_TOPICS__REGISTRY"] = backup
    config = tmp_path / "model.json"
    config.write_text(orjson.dumps({
        "model_id": "m", "window": {"size_seconds": 10, "allowed_lateness_seconds": 2},
        "features": [{"name": "x", "kind": "numeric"}, {"name": "y", "kind": "numeric"},
                     {"name": "color", "kind": "categorical"}],
    }).decode())  # fmt: skip
    assert "registered m" in _modelmon(env, "model", "register", "--config", str(config))
    events = make_events("m", T0, 1000, 10, partitions=2)
    produce(settings, topic, events)
    svc = ServiceProcess("aggregator", env, tmp_path / "agg.log").start()
    try:
        offsets = high_watermarks(settings, topic, 2)
        wait_for(lambda: caught_up(redis_client, redis_prefix, topic, offsets) or not svc.alive(),
                 120, "the aggregator to catch up")  # fmt: skip
        _wipe(redis_client, redis_prefix)
        more = make_events("m", T0 + 10_000, 1000, 10, partitions=2, seed=5)
        produce(settings, topic, more)
        wait_for(lambda: "Redis lost modelmon's state" in svc.logs() or not svc.alive(), 60,
                 "the aggregator to notice")  # fmt: skip
        assert svc.alive(), svc.logs()
    finally:
        assert svc.terminate() == 0, svc.logs()
    assert "restored 1 models and 0 baselines" in _modelmon(env, "rebuild")
    again = ServiceProcess("aggregator", env, tmp_path / "agg2.log").start()
    try:
        offsets = high_watermarks(settings, topic, 2)
        wait_for(lambda: caught_up(redis_client, redis_prefix, topic, offsets) or not again.alive(),
                 120, "the rebuilt aggregator to catch up")  # fmt: skip
        assert again.alive(), again.logs()
    finally:
        assert again.terminate() == 0, again.logs()
    assert_exact_windows(redis_client, redis_prefix, topic, 2, events + more, 10_000)
