"""Scale-out (issue 16): the topology k8s/ describes, as local processes, equals one process.

One 12-partition capture topic carries 100 registered models at once. The same stream is read
twice, by two consumer groups under two key prefixes:

* the reference: one aggregator and one detector on the shared Redis;
* the scale-out: one aggregator, then three in one group while the stream runs, with two
  detectors, one aggregator SIGKILLed mid-stream and a replacement started — on a three-master
  Redis Cluster.

Every window's counts are exact, every model has its own windows and its own alert, and the
two runs' results and alerts are identical. The producer is paced by what the test has seen
happen, never by the clock (``_PacedProducer``), so each phase lands mid-stream on any machine.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from confluent_kafka import Producer

from modelmon.adapters.redis import make_redis
from modelmon.checks import Baseline
from modelmon.keys import Keys
from modelmon.profile import ProfileTracker
from modelmon.registry import Registry, read_baseline_dir
from modelmon.sagemaker.build import build_statistics, suggest_constraints
from modelmon.settings import Settings
from modelmon.streaming.results import ResultStore

from .redis_cluster import cluster_client, cluster_settings, redis_cluster
from .test_aggregator_support import (
    FAST_FLUSHES,
    IN_ORDER,
    Event,
    ServiceProcess,
    caught_up,
    expected_counts,
    flushed,
    high_watermarks,
    register,
    service_env,
    wait_for,
)
from .test_detector import _evaluated

__all__ = ["cluster_client", "cluster_settings", "redis_cluster"]

T0 = 1_767_225_600_000
SIZE = 10_000
PARTS = 12
MODELS = [f"model-{i:03d}" for i in range(100)]
PER_WINDOW = 60  # events per model and window: 18,000 in all
FAST = FAST_FLUSHES | {
    "MODELMON_KAFKA__EXTRA": '{"session.timeout.ms": "6000", "heartbeat.interval.ms": "1000"}',
}


def _stream() -> list[Event]:
    """Three windows per model; model i drifts in x in window i % 3 (its own alert)."""
    rng = np.random.default_rng(16)
    events: list[Event] = []
    for i, model in enumerate(MODELS):
        for w in range(3):
            xs = rng.normal(10.0 + (12.0 if w == i % 3 else 0.0), 2.0, PER_WINDOW).round(4)
            for j, x in enumerate(xs):
                t = T0 + w * SIZE + (j * SIZE) // PER_WINDOW + i  # distinct per model
                row = {"x": float(x), "y": int(rng.integers(0, 100)), "color": "red"}
                events.append(Event(model, t, row, partition=(i + j) % PARTS))
    events.sort(key=lambda e: e.t_ms)
    return events


def _baseline(directory: Path) -> dict[str, bytes]:
    rng = np.random.default_rng(100)
    tracker = ProfileTracker({"x": "numeric", "y": "numeric", "color": "categorical"})
    n = 5_000
    tracker.update(
        {"x": list(rng.normal(10.0, 2.0, n).round(4)), "y": list(rng.integers(0, 100, n)),
         "color": ["red"] * n}
    )  # fmt: skip
    profile = tracker.snapshot()
    statistics = build_statistics(profile, ["x", "y", "color"])
    directory.mkdir()
    Baseline(statistics, suggest_constraints(statistics), profile).save(directory)
    return read_baseline_dir(directory)


def _register_all(client: Any, prefix: str, files: dict[str, bytes]) -> None:
    registry = Registry(client, Keys(prefix))
    for model in MODELS:  # an idle timeout 10x the producer's tick: a margin for stalls
        register(client, prefix, model, size_seconds=10, allowed_lateness_seconds=1,
                 idle_timeout_seconds=4)  # fmt: skip
        registry.push_baseline(model, files, "test")


class _PacedProducer:
    """Produces the stream in order from a thread, a chunk every ``TICK`` seconds: ``FULL``
    events while below the mark the test ``release``d, else a trickle of ``TRICKLE``. So
    the stream cannot run out before the test has seen each phase happen (an aggregator
    joining, a replacement assigned), however slow the machine, yet it never stops: every
    partition keeps receiving events (any ``TRICKLE`` consecutive events cover all of them,
    ``test_stream_layout``), so none is ever quiet for the models' idle timeout, which would
    let the detectors close its windows before their events are all in."""

    TICK, FULL, TRICKLE = 0.4, 361, 24

    def __init__(self, settings: Settings, topic: str, events: list[Event], released: int):
        self._settings, self._topic, self._events = settings, topic, events
        self.released, self.produced = released, 0
        self.error: Exception | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def release(self, upto: int) -> None:
        self.released = max(self.released, upto)

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"{self.produced} of {len(self._events)} produced"
        assert self.error is None, repr(self.error)

    def _run(self) -> None:
        producer = Producer(self._settings.kafka.librdkafka_config() | {"linger.ms": 5, **IN_ORDER})
        try:
            while self.produced < len(self._events):
                tick = time.monotonic() + self.TICK
                n = self.FULL if self.produced < self.released else self.TRICKLE
                for e in self._events[self.produced : self.produced + n]:
                    producer.produce(self._topic, e.encode(), e.model_id.encode(),
                                     partition=e.partition)  # fmt: skip
                assert producer.flush(60) == 0
                self.produced = min(self.produced + n, len(self._events))
                time.sleep(max(0.0, tick - time.monotonic()))
        except Exception as exc:  # noqa: BLE001 - the test's join reports it
            self.error = exc


def _all_evaluated(store: ResultStore) -> bool:
    return all(len(store.results(m)) == 3 for m in MODELS)


def _results(store: ResultStore) -> dict[tuple[str, int], Any]:
    """Each (model, window start)'s result without the wall-clock fields."""
    out: dict[tuple[str, int], Any] = {}
    for model in MODELS:
        for r in store.results(model):
            doc = r.model_dump(mode="json", exclude={"evaluated_at", "report_uri"})
            out[(model, int(r.window_start.timestamp() * 1000))] = doc
    return out


def _same(a: Any, b: Any) -> bool:
    """Equal, floats to 1e-9 relative: a partition's moments merged over other flush
    boundaries differ in the last bits of ``std`` and what derives from it (summation order);
    counts, min, max, sums and every categorical figure are equal as they are."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _alerts(records: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
    return {
        (
            a["model_id"],
            a["window_start"],
            a["check_type"],
            a["feature"],
            a["state"],
            None if a["value"] is None else f"{a['value']:.9g}",
        )
        for a in records
        if a["type"] == "alert"
    }


def test_three_aggregators_two_detectors_and_a_kill_equal_one_process(
    settings: Settings, new_topic: Any, consumer_group: str, redis_client: Any,
    redis_prefix: str, cluster_settings: Settings, cluster_client: Any, tmp_path: Path,
) -> None:  # fmt: skip
    capture, alerts_one, alerts_many = new_topic(PARTS), new_topic(1), new_topic(1)
    files = _baseline(tmp_path / "baseline")
    scaled = f"{redis_prefix}-scaled"
    _register_all(redis_client, redis_prefix, files)
    _register_all(cluster_client, scaled, files)
    events = _stream()

    single = make_redis(settings.redis)  # the reference run stays on the one-server Redis
    one_env = service_env(redis_prefix, capture, f"{consumer_group}-one") | FAST | {
        "MODELMON_REDIS__URL": settings.redis.url, "MODELMON_DETECTOR__TOPIC": capture,
        "MODELMON_DETECTOR__ALERTS_TOPIC": alerts_one,
    }  # fmt: skip
    env = service_env(scaled, capture, consumer_group) | FAST | {
        "MODELMON_REDIS__URL": cluster_settings.redis.url, "MODELMON_DETECTOR__TOPIC": capture,
        "MODELMON_DETECTOR__ALERTS_TOPIC": alerts_many,
    }  # fmt: skip

    def agg(name: str, e: dict[str, str] = env) -> ServiceProcess:
        return ServiceProcess("aggregator", e, tmp_path / f"{name}.log").start()

    def progress(at_least: int) -> None:
        wait_for(lambda: flushed(cluster_client, scaled, capture, PARTS) >= at_least, 180, "flush")

    def assigned(svc: ServiceProcess) -> None:
        wait_for(lambda: "partitions assigned" in svc.logs(10**6), 120, f"{svc.log_path.name}")

    producer = _PacedProducer(settings, capture, events, released=len(events) // 5)
    reference = [
        agg("ref-agg", one_env),
        ServiceProcess("detector", one_env, tmp_path / "ref-det.log").start(),
    ]
    first = agg("agg1")
    progress(len(events) // 10)  # one aggregator holds all 12 partitions
    second, third = agg("agg2"), agg("agg3")
    detectors = [ServiceProcess("detector", env, tmp_path / f"det{i}.log").start() for i in (1, 2)]
    assigned(second)
    producer.release(len(events) // 2)
    progress(len(events) // 3)
    assert producer.produced < len(events)  # mid-stream: the rest waits for the replacement
    assert flushed(cluster_client, scaled, capture, PARTS) < len(events)
    second.kill()
    replacement = agg("agg4")
    running = [first, third, replacement, *detectors]
    try:
        assigned(replacement)  # in the group while the stream still runs
        producer.release(len(events))
        producer.join(180)
        offsets = high_watermarks(settings, capture, PARTS)
        assert sum(high for _, high in offsets.values()) == len(events)
        wait_for(lambda: caught_up(cluster_client, scaled, capture, offsets), 240, "catch-up")
        many = ResultStore(cluster_client, Keys(scaled), "test")
        one = ResultStore(single, Keys(redis_prefix), "test")
        wait_for(lambda: _all_evaluated(many), 240, "300 windows evaluated (scale-out)")
        wait_for(lambda: _all_evaluated(one), 240, "300 windows evaluated (one process)")
    finally:
        for svc in (*running, *reference):
            assert svc.terminate() == 0, svc.logs()

    counts = expected_counts(events, SIZE)
    got, want = _results(many), _results(one)
    assert {k: r["event_count"] for k, r in got.items()} == dict(counts)  # exact, every model
    assert all(r["late_event_count"] == 0 for r in got.values())
    assert _same(got, want), _difference(got, want)  # the one process's, field for field
    many_records, one_records = _evaluated(settings, alerts_many), _evaluated(settings, alerts_one)
    singles = Counter(
        (r["result"]["model_id"], r["result"]["window_start"])
        for r in many_records if r["type"] == "window_evaluated"
    )  # fmt: skip
    assert len(singles) == 300 and set(singles.values()) == {1}  # each window once, 2 detectors
    alarms = _alerts(many_records)
    assert alarms == _alerts(one_records)
    drifted = {(a[0], a[1]) for a in alarms if a[3] == "x" and a[4] == "ALARM"}
    for i, model in enumerate(MODELS):  # each model alerts on its own drifted window
        start = _iso(T0 + (i % 3) * SIZE)
        assert (model, start) in drifted, model


def _difference(got: dict[Any, Any], want: dict[Any, Any]) -> str:
    """The first differing result, field by field (for the failure message)."""
    for key in sorted(got.keys() | want.keys()):
        a, b = got.get(key), want.get(key)
        if not _same(a, b):
            if a is None or b is None:
                return f"{key}: only in {'one process' if a is None else 'scale-out'}"
            fields = {f: (a.get(f), b.get(f)) for f in a.keys() | b.keys()
                      if not _same(a.get(f), b.get(f))}  # fmt: skip
            return f"{key}: {orjson.dumps(fields).decode()[:3000]}"
    return "equal"


def _iso(ms: int) -> str:
    return str(np.datetime_as_string(np.datetime64(ms, "ms"), unit="s")) + "Z"


def test_stream_layout() -> None:
    """The generated stream: 100 models, three windows each, over all 12 partitions."""
    events = _stream()
    counts = expected_counts(events, SIZE)
    assert len(counts) == 300 and set(counts.values()) == {PER_WINDOW}
    assert {e.partition for e in events} == set(range(PARTS))
    trickle, partitions = _PacedProducer.TRICKLE, [e.partition for e in events]
    starts = range(len(events) - trickle + 1)  # any trickle reaches every partition
    assert all(len(set(partitions[i : i + trickle])) == PARTS for i in starts)
    assert orjson.loads(events[0].encode())["model_id"] in MODELS
