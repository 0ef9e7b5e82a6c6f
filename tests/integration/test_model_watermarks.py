"""Watermarks per (model, partition) on the real stack (issue 19, class 3): a model ten minutes
behind another on the same partition is counted, not late, across an aggregator restart, and the
detector's view of the partition is per model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelmon.keys import Keys
from modelmon.settings import Settings
from modelmon.streaming.reader import StateReader

from .test_aggregator_support import (
    ServiceProcess,
    assert_exact_windows,
    caught_up,
    high_watermarks,
    make_events,
    produce,
    register,
    service_env,
    wait_for,
)

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
SIZE = 10_000


def _catch_up(
    settings: Settings, redis_client: Any, prefix: str, topic: str, group: str, log: Path
) -> None:
    offsets = high_watermarks(settings, topic, 1)
    svc = ServiceProcess("aggregator", service_env(prefix, topic, group), log).start()
    try:
        wait_for(lambda: caught_up(redis_client, prefix, topic, offsets) or not svc.alive(),
                 120, "the aggregator to catch up")  # fmt: skip
        assert svc.alive(), svc.logs()
    finally:
        assert svc.terminate() == 0, svc.logs()


def test_a_backlogged_model_is_never_late_behind_another_on_its_partition(
    settings: Settings, new_topic: Any, consumer_group: str, redis_client: Any,
    redis_prefix: str, tmp_path: Path,
) -> None:  # fmt: skip
    topic = new_topic(partitions=1)
    for model in ("ahead", "behind"):
        register(redis_client, redis_prefix, model, size_seconds=10, allowed_lateness_seconds=2)
    ahead = make_events("ahead", T0 + 600_000, 2000, 50, partitions=1, seed=1)
    behind = make_events("behind", T0, 2000, 50, partitions=1, seed=2)
    first = [e for pair in zip(ahead[:1000], behind[:1000], strict=True) for e in pair]
    produce(settings, topic, first)
    _catch_up(settings, redis_client, redis_prefix, topic, consumer_group, tmp_path / "1.log")
    rest = [e for pair in zip(ahead[1000:], behind[1000:], strict=True) for e in pair]
    produce(settings, topic, rest)  # after a restart: the marks come back from Redis
    _catch_up(settings, redis_client, redis_prefix, topic, consumer_group, tmp_path / "2.log")
    assert_exact_windows(redis_client, redis_prefix, topic, 1, first + rest, SIZE)
    [progress] = StateReader(redis_client, Keys(redis_prefix), topic).progress({0: (0, 4000)})
    assert progress.for_model("behind").watermark_ms == behind[-1].t_ms
    assert progress.for_model("ahead").watermark_ms == ahead[-1].t_ms == progress.watermark_ms
