"""Exactly-once: window counts survive SIGKILLs, rebalances and zombie writes, exactly."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from modelmon.errors import FencedWriteError
from modelmon.keys import Keys, WindowRef
from modelmon.profile import ProfileTracker
from modelmon.settings import Settings
from modelmon.streaming.partition import FlushPlan
from modelmon.streaming.store import PartitionStore

from .test_aggregator_support import (
    FAST_FLUSHES,
    Event,
    ServiceProcess,
    assert_exact_windows,
    caught_up,
    flushed,
    high_watermarks,
    produce,
    register,
    service_env,
    two_model_stream,
    wait_for,
)

T0 = 1_767_225_600_000
SIZE = 10_000
PARTS = 3
HELD = 2 / 3  # the share of the stream produced before the test releases the rest
FAST = FAST_FLUSHES | {
    # a killed member leaves the group after 6 s instead of 45 s
    "MODELMON_KAFKA__EXTRA": '{"session.timeout.ms": "6000", "heartbeat.interval.ms": "1000"}',
}


def _produce_slowly(
    settings: Settings, topic: str, events: list[Event], chunks: int, pause: float = 0.1,
    hold: threading.Event | None = None,
) -> threading.Thread:  # fmt: skip
    """Produce ``events`` in ``chunks``; with ``hold``, the last third only once it is set."""

    def run() -> None:
        step = len(events) // chunks + 1
        for i in range(0, len(events), step):
            if hold is not None and i >= HELD * len(events):
                hold.wait(600)
            produce(settings, topic, events[i : i + step])
            time.sleep(pause)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_counts_are_exact_after_repeated_sigkills(
    settings: Settings, new_topic: Any, consumer_group: str, redis_client: Any,
    redis_prefix: str, tmp_path: Path,
) -> None:  # fmt: skip
    topic = new_topic(partitions=PARTS)
    register(redis_client, redis_prefix, "m1", size_seconds=10, allowed_lateness_seconds=2)
    register(redis_client, redis_prefix, "m2", size_seconds=10, allowed_lateness_seconds=2)
    events = two_model_stream(T0, 67_500, PARTS)
    env = service_env(redis_prefix, topic, consumer_group) | FAST
    kills_done = threading.Event()  # the stream's last third waits for the kills
    producer = _produce_slowly(settings, topic, events, chunks=30, hold=kills_done)
    rng = random.Random(7)
    done = 0
    for _ in range(5):  # kill once it has flushed a random amount more, mid-stream
        svc = ServiceProcess("aggregator", env, tmp_path / "agg.log").start()
        target = min(done + rng.randint(1_500, 4_000), int(HELD * len(events)) - 1)
        wait_for(
            lambda t=target: flushed(redis_client, redis_prefix, topic, PARTS) >= t, 120, "progress"
        )
        time.sleep(rng.uniform(0.0, 0.1))
        assert svc.alive(), svc.logs()
        svc.kill()
        done = flushed(redis_client, redis_prefix, topic, PARTS)
        assert done < len(events)  # the kill landed mid-stream
    kills_done.set()
    producer.join(120)
    offsets = high_watermarks(settings, topic, PARTS)
    assert sum(high for _, high in offsets.values()) == len(events)
    final = ServiceProcess("aggregator", env, tmp_path / "agg.log").start()
    try:
        wait_for(lambda: caught_up(redis_client, redis_prefix, topic, offsets), 180, "catch-up")
    finally:
        assert final.terminate() == 0, final.logs()
    assert_exact_windows(redis_client, redis_prefix, topic, PARTS, events, SIZE)


def test_counts_are_exact_across_rebalances_between_two_aggregators(
    settings: Settings, new_topic: Any, consumer_group: str, redis_client: Any,
    redis_prefix: str, tmp_path: Path,
) -> None:  # fmt: skip
    topic = new_topic(partitions=PARTS)
    register(redis_client, redis_prefix, "m1", size_seconds=10, allowed_lateness_seconds=2)
    register(redis_client, redis_prefix, "m2", size_seconds=10, allowed_lateness_seconds=2)
    events = two_model_stream(T0, 67_500, PARTS)
    env = service_env(redis_prefix, topic, consumer_group) | FAST
    producer = _produce_slowly(settings, topic, events, chunks=60, pause=0.3)

    def progress(at_least: int) -> None:
        wait_for(
            lambda: flushed(redis_client, redis_prefix, topic, PARTS) >= at_least, 120, "progress"
        )

    def assigned(svc: ServiceProcess, times: int) -> None:
        wait_for(lambda: svc.logs(10**6).count("partitions assigned") >= times, 120, "assignment")

    a = ServiceProcess("aggregator", env, tmp_path / "a.log").start()
    progress(4_000)
    b = ServiceProcess("aggregator", env, tmp_path / "b.log").start()  # rebalance: A gives up some
    assigned(b, 1)
    a.kill()  # B takes A's partitions once the session times out, from Redis offsets
    c = ServiceProcess("aggregator", env, tmp_path / "c.log").start()  # and another rebalance
    assigned(c, 1)
    producer.join(120)
    offsets = high_watermarks(settings, topic, PARTS)
    try:
        wait_for(lambda: caught_up(redis_client, redis_prefix, topic, offsets), 180, "catch-up")
        assert b.alive() and c.alive(), b.logs() + c.logs()
    finally:
        assert b.terminate() == 0, b.logs()
        assert c.terminate() == 0, c.logs()
    assert_exact_windows(redis_client, redis_prefix, topic, PARTS, events, SIZE)


def _plan(from_offset: int | None, next_offset: int, rows: int) -> FlushPlan:
    tracker = ProfileTracker({"x": "numeric"})
    tracker.update({"x": [1.0] * rows})
    ref = WindowRef("m", SIZE, T0)
    blob = tracker.snapshot().serialize()
    return FlushPlan(from_offset, next_offset, T0 + 1, [(ref, T0 + SIZE, blob)], [], rows)


def test_a_zombie_or_replayed_flush_is_refused_and_writes_nothing(
    redis_client: Any, redis_prefix: str
) -> None:
    store = PartitionStore(redis_client, Keys(redis_prefix), "capture")
    store.flush(0, _plan(None, 10, 10), now_ms=1)
    store.flush(0, _plan(10, 25, 25), now_ms=2)
    before = store.load(0)
    with pytest.raises(FencedWriteError, match="Redis holds offset 25"):
        store.flush(0, _plan(10, 40, 99), now_ms=3)  # a zombie still at offset 10
    with pytest.raises(FencedWriteError):
        store.flush(0, _plan(None, 10, 10), now_ms=4)  # a replay from the start
    after = store.load(0)
    assert (after.offset, after.updated_ms) == (25, 2)
    assert before.open_windows.keys() == after.open_windows.keys()
    ((close, profile),) = after.open_windows.values()
    assert (close, profile.row_count) == (T0 + SIZE, 25)
