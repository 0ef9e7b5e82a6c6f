"""The detector against real Kafka and Redis: exactly the drifted features flag, once per window."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from confluent_kafka import Consumer, TopicPartition

from modelmon.checks import Baseline, evaluate
from modelmon.config import ModelConfig
from modelmon.keys import Keys
from modelmon.profile import KS_ERROR_BOUND, ProfileTracker
from modelmon.registry import Registry, read_baseline_dir
from modelmon.sagemaker.build import build_statistics, suggest_constraints
from modelmon.settings import Settings
from modelmon.streaming.results import ResultStore

from .test_aggregator_support import (
    Event,
    ServiceProcess,
    expected_counts,
    produce,
    register,
    service_env,
    wait_for,
)

T0 = 1_767_225_600_000
SIZE = 10_000
COLORS = ["red", "green", "blue"]


def _rows(rng: np.random.Generator, n: int, drift: bool) -> list[dict[str, Any]]:
    xs = rng.normal(12.0 if drift else 10.0, 2.0, n).round(4)
    ys = rng.integers(0, 100, n)
    probs = [0.7, 0.15, 0.15] if drift else [1 / 3, 1 / 3, 1 / 3]
    colors = rng.choice(COLORS, n, p=probs)
    return [
        {"x": float(x), "y": int(y), "color": str(c)}
        for x, y, c in zip(xs, ys, colors, strict=True)
    ]


def _push_baseline(redis_client: Any, prefix: str, model_id: str, tmp_path: Path) -> None:
    rows = _rows(np.random.default_rng(100), 20_000, drift=False)
    tracker = ProfileTracker({"x": "numeric", "y": "numeric", "color": "categorical"})
    tracker.update({k: [r[k] for r in rows] for k in ("x", "y", "color")})
    profile = tracker.snapshot()
    statistics = build_statistics(profile, ["x", "y", "color"])
    directory = tmp_path / "baseline"
    directory.mkdir()
    Baseline(statistics, suggest_constraints(statistics), profile).save(directory)
    Registry(redis_client, Keys(prefix)).push_baseline(
        model_id, read_baseline_dir(directory), "test"
    )


def _stream(model_id: str, partitions: int) -> list[Event]:
    """Window 0 clean, window 1 drifted in x and color, window 2 clean again."""
    rng = np.random.default_rng(5)
    events: list[Event] = []
    for w, drift in enumerate((False, True, False)):
        rows = _rows(rng, 1500, drift)
        for i, row in enumerate(rows):
            t = T0 + w * SIZE + (i * SIZE) // len(rows)
            events.append(Event(model_id, t, row, partition=i % partitions))
    return events


def _evaluated(settings: Settings, topic: str) -> list[dict[str, Any]]:
    """Everything on the alerts topic, read to its end."""
    consumer = Consumer(
        settings.kafka.librdkafka_config()
        | {"group.id": f"read-{topic}", "enable.auto.commit": False}
    )
    meta = consumer.list_topics(topic, timeout=10).topics[topic]
    ends = {
        p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
        for p in meta.partitions
    }
    consumer.assign([TopicPartition(topic, p, 0) for p in meta.partitions])
    got: list[dict[str, Any]] = []
    seen = dict.fromkeys(ends, 0)

    def drained() -> bool:
        for m in consumer.consume(500, 0.5):
            if m.error() is None:
                got.append(orjson.loads(m.value()))
                seen[m.partition()] = m.offset() + 1
        return all(seen[p] >= ends[p] for p in ends)

    try:
        wait_for(drained, 60, f"the end of {topic}")
    finally:
        consumer.close()
    return got


def test_only_drifted_features_flag_and_each_window_is_evaluated_once(
    settings: Settings, new_topic: Any, consumer_group: str, redis_client: Any,
    redis_prefix: str, tmp_path: Path,
) -> None:  # fmt: skip
    capture, alerts = new_topic(partitions=3), new_topic(partitions=1)
    register(
        redis_client, redis_prefix, "churn", size_seconds=10, allowed_lateness_seconds=1,
        idle_timeout_seconds=2, rolling_windows=2,
    )  # fmt: skip
    _push_baseline(redis_client, redis_prefix, "churn", tmp_path)
    events = _stream("churn", 3)
    produce(settings, capture, events)
    env = service_env(redis_prefix, capture, consumer_group) | {
        "MODELMON_DETECTOR__TOPIC": capture,
        "MODELMON_DETECTOR__ALERTS_TOPIC": alerts,
        "MODELMON_DETECTOR__OUT": str(tmp_path / "reports"),
    }
    aggregator = ServiceProcess("aggregator", env, tmp_path / "agg.log").start()
    detectors = [
        ServiceProcess("detector", env, tmp_path / f"det{i}.log").start() for i in range(2)
    ]
    store = ResultStore(redis_client, Keys(redis_prefix), "test")
    try:
        wait_for(lambda: len(store.results("churn")) == 3, 120, "three evaluated windows")
    finally:
        for svc in (aggregator, *detectors):
            assert svc.terminate() == 0, svc.logs()

    records = _evaluated(settings, alerts)
    evaluated = [r for r in records if r["type"] == "window_evaluated"]
    singles = [r["result"] for r in evaluated if r["result"]["rolling_windows"] == 1]
    starts = Counter(r["window_start"] for r in singles)
    assert sorted(starts.values()) == [1, 1, 1]  # each window exactly once across detectors
    counts = expected_counts(events, SIZE)
    for result in singles:
        start = int(np.datetime64(result["window_start"].rstrip("Z"), "ms").astype(np.int64))
        assert result["event_count"] == counts[("churn", start)] == 1500
        assert result["late_event_count"] == 0
    violated = {
        (r["window_start"], c["check_type"], c["feature"])
        for r in singles
        for c in r["checks"]
        if c["violated"]
    }
    drifted = singles_start(singles, T0 + SIZE)
    assert violated == {
        (drifted, "baseline_drift_check", "x"),
        (drifted, "baseline_drift_check", "color"),
    }
    alarms = [r for r in records if r["type"] == "alert"]
    single_alarms = [a for a in alarms if "rolling" not in a["description"]]
    assert sorted((a["feature"], a["window_start"]) for a in single_alarms) == [
        ("color", drifted), ("x", drifted),
    ]  # fmt: skip
    assert len({a["event_id"] for a in alarms}) == len(alarms)
    reports = sorted(
        p.relative_to(tmp_path / "reports") for p in (tmp_path / "reports").rglob("*.json")
    )
    assert Path("churn/modelmon/2026/01/01/00/0010/constraint_violations.json") in reports
    assert Path("churn/modelmon/2026/01/01/00/0000/statistics.json") in reports
    violations = orjson.loads(
        (
            tmp_path / "reports/churn/modelmon/2026/01/01/00/0010/constraint_violations.json"
        ).read_bytes()
    )
    assert sorted(v["feature_name"] for v in violations["violations"]) == ["color", "x"]
    drifted_dir = tmp_path / "reports/churn/modelmon/2026/01/01/00/0010"
    page = (drifted_dir / "report.html").read_text()
    assert "2 violation(s)" in page  # issue 17
    # every window report shares one plotly.js under the output's _assets/ (not 4.8 MB each)
    src = re.search(r'<script src="([^"]+)"></script>', page)
    assert src is not None and len(page) < 1_000_000
    assert (drifted_dir / src.group(1)).resolve().is_file()
    assert (drifted_dir / src.group(1)).resolve().parent == (tmp_path / "reports/_assets").resolve()
    assert (drifted_dir / "modelmon-window.json").is_file()
    rolling = store.results("churn", rolling=True)
    assert [r.event_count for r in rolling] == [3000, 3000]  # windows 0+1 and 1+2
    _assert_streaming_equals_batch(store.results("churn"), events, tmp_path / "baseline")


def _assert_streaming_equals_batch(results: list[Any], events: list[Event], base: Path) -> None:
    """Each window's streamed result equals the checks run in one pass over its events."""
    baseline = Baseline.from_files(read_baseline_dir(base), str(base))
    config = ModelConfig(model_id="churn")
    for result in results:
        start = int(result.window_start.timestamp() * 1000)
        rows = [e.inputs for e in events if start <= e.t_ms < start + SIZE]
        tracker = ProfileTracker({"x": "numeric", "y": "numeric", "color": "categorical"})
        tracker.update({k: [r[k] for r in rows] for k in ("x", "y", "color")})
        batch = evaluate(baseline, tracker.snapshot(), config)
        assert result.event_count == batch.row_count == len(rows)
        streamed = {(c.check_type, c.feature): c.violated for c in result.checks}
        assert streamed == {(c.check_type, c.feature): c.violated for c in batch.checks}
        for name, metrics in result.features.items():
            exact = batch.features[name]
            assert (metrics.count, metrics.missing) == (exact.count, exact.missing)
            assert metrics.distances.keys() == exact.distances.keys()
            for method, value in metrics.distances.items():
                # both sides are sketches: merged partials vs one pass over the same rows
                assert abs(value - exact.distances[method]) <= 2 * KS_ERROR_BOUND, (name, method)


def singles_start(results: list[dict[str, Any]], start_ms: int) -> str:
    wanted = np.datetime64(start_ms, "ms")
    for r in results:
        if np.datetime64(r["window_start"].rstrip("Z"), "ms") == wanted:
            return str(r["window_start"])
    raise AssertionError(f"no result for window {wanted}")


def test_idle_partitions_let_the_last_window_complete(
    settings: Settings, new_topic: Any, consumer_group: str, redis_client: Any,
    redis_prefix: str, tmp_path: Path,
) -> None:  # fmt: skip
    """Only partition 0 has events, and nothing follows the last window: the empty partitions
    and then partition 0 itself count as idle, so every window is evaluated, exactly."""
    capture, alerts = new_topic(partitions=3), new_topic(partitions=1)
    register(
        redis_client, redis_prefix, "solo", size_seconds=10, allowed_lateness_seconds=1,
        idle_timeout_seconds=1,
    )  # fmt: skip
    x = {"x": 1.0, "y": 2, "color": "red"}
    events = [Event("solo", T0 + i * 700, x, partition=0) for i in range(40)]  # 0..27.3 s
    events.append(Event("solo", T0 + 2_000, x, partition=0))  # late: counted in window 0
    produce(settings, capture, events)
    env = service_env(redis_prefix, capture, consumer_group) | {
        "MODELMON_DETECTOR__TOPIC": capture,
        "MODELMON_DETECTOR__ALERTS_TOPIC": alerts,
    }
    services = [
        ServiceProcess("aggregator", env, tmp_path / "agg.log").start(),
        ServiceProcess("detector", env, tmp_path / "det.log").start(),
    ]
    store = ResultStore(redis_client, Keys(redis_prefix), "test")
    try:
        wait_for(lambda: len(store.results("solo")) == 3, 120, "three evaluated windows")
    finally:
        for svc in services:
            assert svc.terminate() == 0, svc.logs()
    results = store.results("solo")
    assert [(r.event_count, r.late_event_count) for r in results] == [(15, 1), (14, 0), (11, 0)]
    assert [r.checks for r in results] == [[], [], []]  # no baseline: figures only
    assert results[0].features["x"].count == 15
