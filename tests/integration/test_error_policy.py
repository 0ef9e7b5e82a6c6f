"""The one error policy on the real stack (Kafka, Redis, ``modelmon run`` processes).

- A corrupt stored partial never crash-loops the aggregator: it is dead-lettered with the code
  ``corrupt_state`` and the partition is rebuilt from the topic; the counts end exact.
- A window the detector cannot evaluate is recorded durably (a failed result with the reason,
  an ``evaluation_failed`` alert, the failure in Redis) and evaluated once it can be, on the
  retry schedule; the detector stays up throughout.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from modelmon.events import DeadLetterRecord
from modelmon.keys import Keys, WindowRef
from modelmon.settings import Settings
from modelmon.streaming.results import ResultStore

from .test_aggregator import _run_until_caught_up
from .test_aggregator_support import (
    Event,
    ServiceProcess,
    assert_exact_windows,
    make_events,
    produce,
    register,
    service_env,
    wait_for,
)
from .test_detector import _evaluated

T0 = 1_767_225_600_000
SIZE = 10_000


def _window_events(model: str, window: int, n: int, seed: int) -> list[Event]:
    return make_events(model, T0 + window * SIZE, n, SIZE // n, partitions=1, seed=seed)


def test_a_corrupt_partial_is_dead_lettered_and_the_partition_rebuilt_from_the_topic(
    settings: Settings, new_topic: Any, consumer_group: str, redis_client: Any,
    redis_prefix: str, tmp_path: Path,
) -> None:  # fmt: skip
    topic, dead = new_topic(partitions=1), new_topic(partitions=1)
    register(redis_client, redis_prefix, "m1", size_seconds=10, allowed_lateness_seconds=3600)
    first = _window_events("m1", 0, 200, seed=1)
    produce(settings, topic, first)
    env = {"MODELMON_TOPICS__DEADLETTER": dead}
    run = (settings, redis_client, redis_prefix, topic, consumer_group, 1, tmp_path, env)
    _run_until_caught_up(*run)
    keys = Keys(redis_prefix)
    partial = keys.partial(topic, 0, WindowRef("m1", SIZE, T0))
    assert redis_client.get(partial) is not None  # the window is still open: loaded on assign
    redis_client.set(partial, b"\x00not a profile blob")
    second = _window_events("m1", 0, 100, seed=2)
    produce(settings, topic, second)
    _run_until_caught_up(*run)  # alive throughout, caught up: rebuilt from the topic
    assert_exact_windows(redis_client, redis_prefix, topic, 1, first + second, SIZE)
    records = [DeadLetterRecord.model_validate(r) for r in _evaluated(settings, dead)]
    [record] = records
    assert (record.code, record.service, record.source_partition) == (
        "corrupt_state",
        "aggregator",
        0,
    )
    assert base64.b64decode(record.original) == b"\x00not a profile blob"


def test_a_window_that_cannot_be_evaluated_is_recorded_and_retried_until_it_can(
    settings: Settings, new_topic: Any, consumer_group: str, redis_client: Any,
    redis_prefix: str, tmp_path: Path,
) -> None:  # fmt: skip
    capture, alerts = new_topic(partitions=1), new_topic(partitions=1)
    register(
        redis_client, redis_prefix, "m1", size_seconds=10, allowed_lateness_seconds=1,
        idle_timeout_seconds=2,
    )  # fmt: skip
    events = [e for w in range(3) for e in _window_events("m1", w, 100, seed=w)]
    produce(settings, capture, events)
    _run_until_caught_up(settings, redis_client, redis_prefix, capture, consumer_group, 1, tmp_path)
    keys = Keys(redis_prefix)
    ref = WindowRef("m1", SIZE, T0)
    partial = keys.partial(capture, 0, ref)
    good = redis_client.get(partial)
    redis_client.set(partial, b"\x00not a profile blob")
    env = service_env(redis_prefix, capture, consumer_group) | {
        "MODELMON_DETECTOR__TOPIC": capture, "MODELMON_DETECTOR__ALERTS_TOPIC": alerts,
        "MODELMON_DETECTOR__FAILED_RETRY_SECONDS": "2",
    }  # fmt: skip
    detector = ServiceProcess("detector", env, tmp_path / "det.log").start()
    store = ResultStore(redis_client, Keys(redis_prefix), "test")
    try:
        wait_for(lambda: store.failures([ref]), 60, "the failure recorded")
        failed = [r for r in store.results("m1") if r.status == "failed"]
        assert [r.window_start.timestamp() * 1000 for r in failed] == [T0]
        assert "CorruptBlobError" in (failed[0].failure_reason or "")
        wait_for(lambda: len(store.results("m1")) == 3, 60, "the other windows evaluated")
        assert detector.alive(), detector.logs()
        redis_client.set(partial, good)  # repaired: the next retry evaluates it
        wait_for(lambda: not store.failures([ref]), 60, "the retry to succeed")
    finally:
        assert detector.terminate() == 0, detector.logs()
    results = {int(r.window_start.timestamp() * 1000): r for r in store.results("m1")}
    assert {s: (r.status, r.event_count) for s, r in results.items()} == {
        T0: ("evaluated", 100), T0 + SIZE: ("evaluated", 100), T0 + 2 * SIZE: ("evaluated", 100),
    }  # fmt: skip
    records = _evaluated(settings, alerts)
    failed_alerts = [r for r in records if r.get("check_type") == "evaluation_failed"]
    assert {a["feature"] for a in failed_alerts} == {"*"}
    alarms = [a for a in failed_alerts if a["state"] == "ALARM"]
    assert alarms and all("CorruptBlobError" in a["description"] for a in alarms)
    assert [a["state"] for a in failed_alerts][-1] == "OK"  # cleared once it evaluated
