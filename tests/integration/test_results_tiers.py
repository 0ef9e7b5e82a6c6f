"""Results in two tiers (issue 23), real Kafka, Redis and S3 (moto): Redis keeps the hot
retention, every result is also Parquet on S3 under the report layout, and the API's reader
serves the results (and feature series) past the hot retention from S3 with the same content."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from modelmon.api.store import MonitorStore, Span
from modelmon.archive.store import S3Store
from modelmon.cli import cli
from modelmon.keys import Keys
from modelmon.settings import Settings
from modelmon.streaming.results import ResultStore
from modelmon.streaming.tiers import DurableResults
from modelmon_services.detector.service import DetectorOptions

from .detector_support import in_process_detector, settled
from .test_aggregator_support import Event, ServiceProcess, produce, register, service_env
from .test_detector import T0, _evaluated

SIZE = 10_000
WINDOWS = 12
HOT_SECONDS = 60


def test_results_past_the_hot_retention_are_served_from_s3_with_the_same_content(
    settings: Settings, new_topic: Any, consumer_group: str, redis_client: Any,
    redis_prefix: str, s3_bucket: str, boto_client: Any, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    capture, alerts = new_topic(partitions=2), new_topic(partitions=1)
    register(
        redis_client, redis_prefix, "tiered", size_seconds=10, allowed_lateness_seconds=0,
        idle_timeout_seconds=1,
    )  # fmt: skip
    events = [
        Event("tiered", T0 + w * SIZE + i * 450, {"x": float(i + w), "y": i, "color": "red"}, i % 2)
        for w in range(WINDOWS)
        for i in range(20)
    ]
    produce(settings, capture, events)
    keys = Keys(redis_prefix)
    durable = DurableResults(S3Store(boto_client("s3"), s3_bucket), "results")
    aggregator = ServiceProcess(
        "aggregator", service_env(redis_prefix, capture, consumer_group), tmp_path / "agg.log"
    ).start()
    try:
        settled(settings, redis_client, redis_prefix, capture, 2, 120, 1.5)  # then idle
        options = DetectorOptions(capture, alerts, hot_retention_seconds=HOT_SECONDS)
        results = ResultStore(redis_client, keys, "tiers", capture)
        det = in_process_detector(settings, redis_client, redis_prefix, options, results, durable)
        assert det.step() == WINDOWS
    finally:
        assert aggregator.terminate() == 0, aggregator.logs()

    published = {
        r["result"]["window_start"]: r["result"]
        for r in _evaluated(settings, alerts)
        if r["type"] == "window_evaluated"
    }
    assert len(published) == WINDOWS
    # the hot tier holds the last minute of windows only (retention enforced on write)
    hot = ResultStore(redis_client, keys, "read").results("tiered")
    last_start = T0 + (WINDOWS - 1) * SIZE
    assert [int(r.window_start.timestamp() * 1000) for r in hot] == list(
        range(last_start - HOT_SECONDS * 1000, last_start + 1, SIZE)
    )
    keys_on_s3 = boto_client("s3").list_objects_v2(Bucket=s3_bucket, Prefix="results/")
    names = sorted(o["Key"] for o in keys_on_s3["Contents"])
    assert len(names) == WINDOWS
    assert names[0] == "results/tiered/modelmon/2026/01/01/00/0000/window-result.parquet"

    store = MonitorStore(redis_client, keys, capture, 2, durable=durable)
    span = Span(start_ms=T0, end_ms=T0 + WINDOWS * SIZE, limit=1000)
    raw, total = store.results("tiered", span)
    assert total == WINDOWS
    served = [orjson.loads(b) for b in raw]
    assert served == [published[k] for k in sorted(published)]  # same content, both tiers
    page, total = store.results("tiered", Span(start_ms=T0, offset=3, limit=4))
    assert total == WINDOWS and [orjson.loads(b) for b in page] == served[3:7]
    hot_only, total = store.results("tiered", Span(limit=1000))
    assert total == len(hot_only) == len(hot) < WINDOWS  # no start: the hot tier's view

    points, total = store.feature_series("tiered", "x", span)
    assert total == WINDOWS
    hot_points = {orjson.loads(p)["window_start"]: p for p in points[-len(hot) :]}
    stored, _ = store.feature_series("tiered", "x", Span(limit=1000))
    assert list(hot_points.values()) == stored  # the hot part is Redis's own series
    cold = orjson.loads(points[0])
    assert cold["window_start"] == T0 and cold["count"] == 20
    assert set(cold) == set(orjson.loads(stored[0]))

    # `modelmon report --results` reads both tiers the same way
    monkeypatch.setenv("MODELMON_REDIS__KEY_PREFIX", redis_prefix)
    out = CliRunner().invoke(cli, [
        "report", "--model", "tiered", "--window", "2026-01-01T00:00:00Z",
        "--end", "2026-01-01T00:05:00Z", "--from", f"s3://{s3_bucket}/results", "--results",
    ])  # fmt: skip
    assert out.exit_code == 0, out.output
    lines = [orjson.loads(x) for x in out.stdout.splitlines() if x.startswith("{")]
    assert lines == served
    assert f"{WINDOWS} result(s): {WINDOWS - len(hot)} from s3://" in out.stderr

    # the durable tier's retention: a day's files go once the day is past it
    assert durable.prune("tiered/modelmon/", T0 + 86_400_000) == WINDOWS
    assert durable.read("tiered/modelmon/", T0, T0 + WINDOWS * SIZE) == []
