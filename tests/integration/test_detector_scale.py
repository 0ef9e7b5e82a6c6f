"""A thousand models on one topic (issue 23), real Kafka and Redis: two detector shards, one
of them dying mid-pass and restarting, evaluate each completed window exactly once, and after
the first start find the windows from watermark moves, never by reading the window index."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from modelmon.keys import Keys, WindowRef
from modelmon.settings import Settings
from modelmon.streaming.ready import shard_of
from modelmon.streaming.results import ResultStore
from modelmon_services.detector.finder import ShardOptions
from modelmon_services.detector.service import Detector, DetectorOptions

from .detector_support import in_process_detector, register_idle_models, settled
from .test_aggregator_support import Event, ServiceProcess, produce, service_env
from .test_detector import T0, _evaluated

MODELS = 1000
SIZE = 10_000
PARTITIONS = 3


class Crash(BaseException):
    """The process dies: nothing after it runs."""


class CrashingResults(ResultStore):
    """Dies right after its ``left``-th finished window (its cursors are never stored)."""

    def __init__(self, *args: Any, left: int) -> None:
        super().__init__(*args)
        self.left = left

    def finish(self, ref: WindowRef, evaluated_at_ms: int, ttl_seconds: int) -> None:
        super().finish(ref, evaluated_at_ms, ttl_seconds)
        self.left -= 1
        if self.left == 0:
            raise Crash

    def save_cursors(self, cursors: Any) -> None:
        if self.left > 0:
            super().save_cursors(cursors)


def _ids() -> list[str]:
    return [f"model-{i:04d}" for i in range(MODELS)]


def _events(windows: range) -> list[Event]:
    """Two events per (model, window), each model on its own partition (keyed)."""
    return [
        Event(m, T0 + w * SIZE + i * 3000, {"x": float(i), "y": k % 7, "color": "red"}, k % 3)
        for k, m in enumerate(_ids())
        for w in windows
        for i in range(2)
    ]


def _detector(
    settings: Settings, redis_client: Any, prefix: str, capture: str, alerts: str, shard: int,
    results: ResultStore | None = None,
) -> Detector:  # fmt: skip
    store = results or ResultStore(redis_client, Keys(prefix), f"shard-{shard}", capture)
    options = DetectorOptions(capture, alerts, shard=ShardOptions(2, shard))
    return in_process_detector(settings, redis_client, prefix, options, store)


def _until_idle(det: Detector) -> int:
    total = 0
    while (n := det.step()) > 0:
        total += n
    return total


def _settled(settings: Settings, redis_client: Any, prefix: str, capture: str) -> None:
    """The aggregator caught up with the topic, then its partitions idle (2 s)."""
    settled(settings, redis_client, prefix, capture, PARTITIONS, 180, 2.5)


def test_a_thousand_models_each_window_once_across_shards_and_a_restart(
    settings: Settings, new_topic: Any, consumer_group: str, redis_client: Any,
    redis_prefix: str, tmp_path: Path,
) -> None:  # fmt: skip
    capture, alerts = new_topic(partitions=PARTITIONS), new_topic(partitions=1)
    register_idle_models(redis_client, redis_prefix, _ids(), SIZE)
    produce(settings, capture, _events(range(0, 2)))
    env = service_env(redis_prefix, capture, consumer_group)
    aggregator = ServiceProcess("aggregator", env, tmp_path / "agg.log").start()
    try:
        _settled(settings, redis_client, redis_prefix, capture)
        args = (settings, redis_client, redis_prefix, capture, alerts)
        keys = Keys(redis_prefix)
        dying = CrashingResults(redis_client, keys, "shard-0", capture, left=300)
        first = _detector(*args, 0, dying)
        try:
            _until_idle(first)
            raise AssertionError("shard 0 should have died mid-pass")
        except Crash:
            pass
        other = _detector(*args, 1)
        restarted = _detector(*args, 0)
        mine = sum(1 for m in _ids() if shard_of(m, 2) == 0)
        assert _until_idle(restarted) == 2 * mine - 300
        assert _until_idle(other) == 2 * (MODELS - mine)

        produce(settings, capture, _events(range(2, 4)))  # the stream goes on
        _settled(settings, redis_client, redis_prefix, capture)
        reads = [d.metrics.index_reads._value.get() for d in (restarted, other)]
        assert _until_idle(restarted) + _until_idle(other) == 2 * MODELS
        # found from the watermark moves: candidates looked up, no ranged read of the index
        assert [d.metrics.index_reads._value.get() for d in (restarted, other)] == reads
        assert restarted.metrics.candidates._value.get() >= 2 * mine
    finally:
        assert aggregator.terminate() == 0, aggregator.logs()

    records = _evaluated(settings, alerts)
    singles = Counter(
        (r["model_id"], r["result"]["window_start"])
        for r in records
        if r["type"] == "window_evaluated"
    )
    assert len(singles) == 4 * MODELS and set(singles.values()) == {1}
