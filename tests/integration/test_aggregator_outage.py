"""Outages: the aggregator outlives Redis dying (and Redis coming back with lost writes) and
Kafka being unreachable, and the window counts stay exact.

Each Redis test runs its own ``redis-server`` (tests/integration/private_redis.py) so it can be
SIGKILLed and restarted without touching the shared stack's Redis.
"""

from __future__ import annotations

import random
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import unique_name, wait_until
from modelmon.settings import Settings

from .private_redis import PrivateRedis, ReplyDroppingProxy, free_port
from .test_aggregator_support import (
    FAST_FLUSHES,
    Event,
    ServiceProcess,
    assert_exact_windows,
    caught_up,
    high_watermarks,
    produce,
    register,
    service_env,
    stored_offsets,
    two_model_stream,
)

T0 = 1_767_225_600_000
SIZE = 10_000
PARTS = 3


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[list[PrivateRedis]]:
    """Servers a test starts (``PrivateRedis(...).start()``, appended here); killed after."""
    servers: list[PrivateRedis] = []
    yield servers
    for server in servers:
        if server.running():
            server.kill()


def _setup(server: PrivateRedis, topic: str, group: str) -> tuple[str, dict[str, str]]:
    """Registers m1 and m2 in the private Redis; returns the key prefix and the service env."""
    prefix = unique_name("outage")
    client = server.client()
    try:
        register(client, prefix, "m1", size_seconds=10, allowed_lateness_seconds=2)
        register(client, prefix, "m2", size_seconds=10, allowed_lateness_seconds=2)
    finally:
        client.close()
    env = service_env(prefix, topic, group) | FAST_FLUSHES | {"MODELMON_REDIS__URL": server.url}
    return prefix, env


def _catch_up(settings: Settings, client: Any, prefix: str, topic: str, n: int) -> None:
    """Wait until Redis holds offsets covering every one of the ``n`` messages produced."""
    offsets = high_watermarks(settings, topic, PARTS)
    assert sum(high for _, high in offsets.values()) == n
    wait_until(lambda: caught_up(client, prefix, topic, offsets), 120, f"catch-up to {n}")


def _admin_port(svc: ServiceProcess) -> int:
    found = wait_until(
        lambda: re.search(r"admin endpoints on (?:port )?(?:[\d.]+:)?(\d+)", svc.logs(10**7)),
        60,
        "admin port",
    )
    return int(found.group(1))


def _readyz(port: int) -> int:
    return _readyz_answer(port)[0]


def _readyz_answer(port: int) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as resp:
            return int(resp.status), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _retries(svc: ServiceProcess) -> int:
    """Failed attempts the aggregator logged so far (``cannot ... (attempt N), retrying``)."""
    return svc.logs(10**7).count("(attempt ")


def _wait_for_retries(svc: ServiceProcess, at_least: int) -> None:
    wait_until(lambda: _retries(svc) >= at_least, 60, f"{at_least} failed attempts in the log")


def _split(events: list[Event], parts: int) -> list[list[Event]]:
    step = -(-len(events) // parts)
    return [events[i : i + step] for i in range(0, len(events), step)]


def test_aggregator_outlives_redis_kills_and_counts_stay_exact(
    settings: Settings, new_topic: Any, consumer_group: str, private_redis: list[PrivateRedis],
    tmp_path: Path,
) -> None:  # fmt: skip
    server = PrivateRedis(tmp_path / "redis", appendonly=True).start()
    private_redis.append(server)
    topic = new_topic(partitions=PARTS)
    prefix, env = _setup(server, topic, consumer_group)
    events = two_model_stream(T0, 4_500, PARTS)  # 6000 events
    chunks = _split(events, 8)
    rng = random.Random(11)
    svc = ServiceProcess("aggregator", env, tmp_path / "agg.log").start()
    try:
        port = _admin_port(svc)
        client = server.client()
        produce(settings, topic, chunks[0])
        _catch_up(settings, client, prefix, topic, len(chunks[0]))
        assert _readyz(port) == 200
        client.close()
        for cycle in range(3):
            produce(settings, topic, chunks[1 + 2 * cycle])  # Redis dies while it is consumed
            time.sleep(rng.uniform(0.0, 0.3))  # (the kill lands before, between or in flushes)
            server.kill()
            failures = _retries(svc)
            produce(settings, topic, chunks[2 + 2 * cycle])  # so a flush is due while down
            wait_until(lambda: _readyz(port) == 503, 60, "/readyz to report not ready")
            _wait_for_retries(svc, failures + 3)
            assert svc.alive(), svc.logs()
            server.start()  # same port, same data directory: the AOF brings everything back
            wait_until(lambda: _readyz(port) == 200, 120, "/readyz to report ready again")
        produce(settings, topic, chunks[7])
        client = server.client()
        _catch_up(settings, client, prefix, topic, len(events))
        assert svc.alive(), svc.logs()
    finally:
        assert svc.terminate() == 0, svc.logs()
    assert_exact_windows(client, prefix, topic, PARTS, events, SIZE)
    client.close()


def test_redis_restarting_with_lost_writes_fences_the_aggregator_which_replays(
    settings: Settings, new_topic: Any, consumer_group: str, private_redis: list[PrivateRedis],
    tmp_path: Path,
) -> None:  # fmt: skip
    server = PrivateRedis(tmp_path / "redis", appendonly=False).start()  # only SAVE persists
    private_redis.append(server)
    topic = new_topic(partitions=PARTS)
    prefix, env = _setup(server, topic, consumer_group)
    events = two_model_stream(T0, 4_500, PARTS)
    third = len(events) // 3
    svc = ServiceProcess("aggregator", env, tmp_path / "agg.log").start()
    try:
        client = server.client()
        produce(settings, topic, events[:third])
        _catch_up(settings, client, prefix, topic, third)
        assert client.save()  # the snapshot Redis will come back with
        snapshot = stored_offsets(client, prefix, topic, PARTS)
        assert sum(o or 0 for o in snapshot.values()) == third

        produce(settings, topic, events[third : 2 * third])  # flushed, then lost
        _catch_up(settings, client, prefix, topic, 2 * third)
        client.close()
        server.kill()
        server.start()  # from the snapshot: older than what the aggregator holds in memory
        client = server.client()
        # the aggregator is idle (caught up, nothing pending), so Redis still holds the snapshot
        assert stored_offsets(client, prefix, topic, PARTS) == snapshot

        produce(settings, topic, events[2 * third :])
        _catch_up(settings, client, prefix, topic, len(events))
        assert "Redis holds offset" in svc.logs(10**7)  # it was fenced, and re-consumed
        assert svc.alive(), svc.logs()
    finally:
        assert svc.terminate() == 0, svc.logs()
    assert_exact_windows(client, prefix, topic, PARTS, events, SIZE)
    client.close()


def test_a_flush_whose_reply_is_lost_is_fenced_on_resend_and_counts_stay_exact(
    settings: Settings, new_topic: Any, consumer_group: str, private_redis: list[PrivateRedis],
    tmp_path: Path,
) -> None:  # fmt: skip
    server = PrivateRedis(tmp_path / "redis", appendonly=True).start()
    private_redis.append(server)
    proxy = ReplyDroppingProxy(server.port)
    topic = new_topic(partitions=PARTS)
    prefix, env = _setup(server, topic, consumer_group)
    env["MODELMON_REDIS__URL"] = proxy.url
    events = two_model_stream(T0, 3_000, PARTS)
    half = len(events) // 2
    svc = ServiceProcess("aggregator", env, tmp_path / "agg.log").start()
    client = server.client()
    try:
        produce(settings, topic, events[:half])
        _catch_up(settings, client, prefix, topic, half)  # the flush script is loaded by now
        proxy.arm()
        produce(settings, topic, events[half:])  # a flush of these runs, its reply is lost
        wait_until(proxy.dropped.is_set, 60, "a flush reply to be dropped")
        _catch_up(settings, client, prefix, topic, len(events))
        # the resent flush found its own write in Redis: refused, state reloaded from Redis
        assert "Redis holds offset" in svc.logs(10**7)
        assert svc.alive(), svc.logs()
    finally:
        assert svc.terminate() == 0, svc.logs()
        proxy.close()
    assert_exact_windows(client, prefix, topic, PARTS, events, SIZE)
    client.close()


def test_aggregator_waits_for_an_unreachable_kafka_and_stops_cleanly(
    consumer_group: str, redis_client: Any, redis_prefix: str, tmp_path: Path
) -> None:
    register(redis_client, redis_prefix, "m1", size_seconds=10, allowed_lateness_seconds=2)
    env = service_env(redis_prefix, unique_name("test-nowhere"), consumer_group)
    env["MODELMON_KAFKA__BOOTSTRAP_SERVERS"] = f"127.0.0.1:{free_port()}"  # nothing listens
    svc = ServiceProcess("aggregator", env, tmp_path / "agg.log").start()
    try:
        wait_until(lambda: "aggregator started" in svc.logs(10**7), 60, "start-up")
        port = _admin_port(svc)
        wait_until(
            lambda: _readyz_answer(port)[1].startswith(b"Kafka unreachable"), 60, "/readyz: Kafka"
        )
        assert _readyz(port) == 503
        deadline = time.monotonic() + 10  # it must still be there 10 s later
        wait_until(lambda: not svc.alive() or time.monotonic() > deadline, 60, "10 seconds")
        assert svc.alive(), svc.logs()
    finally:
        assert svc.terminate() == 0, svc.logs()
    assert "aggregator stopped" in svc.logs(10**7)
