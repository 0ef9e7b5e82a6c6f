"""Helpers for the streaming integration tests (no tests here): events, services, Redis reads."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from confluent_kafka import Consumer, Producer, TopicPartition

from modelmon.config import ModelConfig
from modelmon.keys import Keys, WindowRef
from modelmon.registry import Registry
from modelmon.settings import Settings
from modelmon.streaming.reader import MergedWindow, StateReader

REPO = Path(__file__).resolve().parents[2]
MODELMON = str(REPO / ".venv" / "bin" / "modelmon")

#: Test producers keep each partition in the order produced. Without idempotence a retried
#: produce request (likely right after a topic is created on a fresh broker) can land after later
#: ones, and the reordered events are then late: a fresh-clone run lost three windows' rows so.
IN_ORDER: dict[str, Any] = {"enable.idempotence": True}


@dataclass(frozen=True)
class Event:
    model_id: str
    t_ms: int
    inputs: dict[str, Any]
    partition: int = 0

    def encode(self) -> bytes:
        when = datetime.fromtimestamp(self.t_ms / 1000, UTC).isoformat().replace("+00:00", "Z")
        return orjson.dumps(
            {"model_id": self.model_id, "event_time": when, "inputs": self.inputs,
             "outputs": {"prediction": 1}}
        )  # fmt: skip


def register(redis_client: Any, prefix: str, model_id: str, **window: int) -> ModelConfig:
    config = ModelConfig.model_validate(
        {
            "model_id": model_id,
            "window": window,
            "features": [
                {"name": "x", "kind": "numeric"},
                {"name": "y", "kind": "numeric"},
                {"name": "color", "kind": "categorical"},
            ],
        }
    )
    Registry(redis_client, Keys(prefix)).register(config)
    return config


def make_events(
    model_id: str, start_ms: int, n: int, spacing_ms: int, partitions: int, seed: int = 0,
    shift: float = 0.0,
) -> list[Event]:  # fmt: skip
    rng = np.random.default_rng(seed)
    xs = rng.normal(10.0 + shift, 2.0, n).round(4)
    ys = rng.integers(0, 100, n)
    colors = rng.choice(["red", "green", "blue"], n)
    return [
        Event(
            model_id,
            start_ms + i * spacing_ms,
            {"x": float(xs[i]), "y": int(ys[i]), "color": str(colors[i])},
            partition=i % partitions,
        )
        for i in range(n)
    ]


def produce(settings: Settings, topic: str, events: Iterable[Event]) -> int:
    producer = Producer(settings.kafka.librdkafka_config() | {"linger.ms": 20, **IN_ORDER})
    n = 0
    for e in events:
        producer.produce(topic, e.encode(), e.model_id.encode(), partition=e.partition)
        n += 1
        if n % 10_000 == 0:
            producer.poll(0)
    assert producer.flush(60) == 0
    return n


def produce_raw(settings: Settings, topic: str, values: Sequence[bytes], partition: int) -> None:
    producer = Producer(settings.kafka.librdkafka_config() | IN_ORDER)
    for v in values:
        producer.produce(topic, v, partition=partition)
    assert producer.flush(60) == 0


def high_watermarks(settings: Settings, topic: str, partitions: int) -> dict[int, tuple[int, int]]:
    consumer = Consumer(settings.kafka.librdkafka_config() | {"group.id": "watermarks-probe"})
    try:
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            for p in range(partitions)
        }
    finally:
        consumer.close()


def caught_up(
    redis_client: Any, prefix: str, topic: str, offsets: dict[int, tuple[int, int]]
) -> bool:
    reader = StateReader(redis_client, Keys(prefix), topic)
    return all(p.next_offset == p.high_offset for p in reader.progress(offsets))


def merged_windows(
    redis_client: Any, prefix: str, topic: str, partitions: int
) -> dict[WindowRef, MergedWindow]:
    reader = StateReader(redis_client, Keys(prefix), topic)
    refs = reader.windows(range(partitions), 2**62)
    return {ref: reader.merged(ref, range(partitions)) for ref in refs}


def expected_counts(events: Iterable[Event], size_ms: int) -> Counter[tuple[str, int]]:
    return Counter((e.model_id, e.t_ms - e.t_ms % size_ms) for e in events)


#: Small batches and frequent flushes, so that kills and outages land between and inside flushes.
FAST_FLUSHES = {
    "MODELMON_AGGREGATOR__BATCH_SIZE": "200",
    "MODELMON_AGGREGATOR__FLUSH_EVENTS": "600",
    "MODELMON_AGGREGATOR__FLUSH_SECONDS": "0.2",
}


def two_model_stream(t0: int, n: int, partitions: int) -> list[Event]:
    """``n`` events of m1 and ``n // 3`` of m2 over the partitions, in event-time order."""
    events = make_events("m1", t0, n, 7, partitions=partitions, seed=3)
    events += make_events("m2", t0 + 1, n // 3, 21, partitions=partitions, seed=4)
    events.sort(key=lambda e: e.t_ms)
    return events


def stored_offsets(
    redis_client: Any, prefix: str, topic: str, partitions: int
) -> dict[int, int | None]:
    """The next offset Redis holds per partition (None: nothing flushed yet)."""
    reader = StateReader(redis_client, Keys(prefix), topic)
    progress = reader.progress({p: (0, 0) for p in range(partitions)})
    return {p.partition: p.next_offset for p in progress}


def flushed(redis_client: Any, prefix: str, topic: str, partitions: int) -> int:
    """Messages covered by the offsets stored in Redis, over all partitions."""
    return sum(o or 0 for o in stored_offsets(redis_client, prefix, topic, partitions).values())


def assert_exact_windows(
    redis_client: Any, prefix: str, topic: str, partitions: int, events: list[Event], size_ms: int
) -> None:
    """Every window holds exactly its events, none late, and every feature saw every row."""
    windows = merged_windows(redis_client, prefix, topic, partitions)
    got = {(ref.model_id, ref.start_ms): w.profile.row_count for ref, w in windows.items()}
    assert got == dict(expected_counts(events, size_ms))
    assert sum(w.late for w in windows.values()) == 0
    for w in windows.values():
        assert {f.count for f in w.profile.features.values()} == {w.profile.row_count}


#: Every service process started and not yet waited for: ``stop_leftovers`` ends them after
#: each test, so a test that fails half-way never leaves services running into the next ones.
_STARTED: list[subprocess.Popen[bytes]] = []


def started_count() -> int:
    """How many service processes were started so far (a mark for ``stop_leftovers``)."""
    return len(_STARTED)


def stop_leftovers(since: int) -> None:
    """SIGKILL the service processes started after mark ``since`` (by a test that failed
    half-way) that still run; those started before it (a module fixture's) stay."""
    while len(_STARTED) > since:
        proc = _STARTED.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)


@dataclass
class ServiceProcess:
    """A ``modelmon run <service>`` subprocess with its own env (prefix, topic, group)."""

    name: str
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    extra: list[str] = field(default_factory=list)

    def start(self) -> ServiceProcess:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [MODELMON, "run", self.name, *self.extra],
            env=os.environ | self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        _STARTED.append(self.proc)
        return self

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def terminate(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(60)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def logs(self, tail: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-tail:]


def service_env(
    prefix: str, topic: str, group: str, deadletter: str | None = None
) -> dict[str, str]:
    env = {
        "MODELMON_REDIS__KEY_PREFIX": prefix,
        "MODELMON_AGGREGATOR__TOPIC": topic,
        "MODELMON_AGGREGATOR__GROUP": group,
        "MODELMON_ADMIN__PORT": "0",
        "MODELMON_AGGREGATOR__FLUSH_SECONDS": "0.3",
        "PYTHONUNBUFFERED": "1",
    }
    if deadletter:
        env["MODELMON_TOPICS__DEADLETTER"] = deadletter
    return env


def wait_for(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)


def running_python() -> str:
    return sys.executable
