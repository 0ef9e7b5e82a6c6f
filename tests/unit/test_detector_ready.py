"""The detector's ready queue in its loop (issue 23), on in-memory fakes.

Checked: windows are found from watermark moves (the window index is read by range only on a
first start), a detector that crashes mid-pass and restarts evaluates each window exactly once,
two shards split the models and evaluate each window once, a changed baseline reloads only
its model.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import orjson
from prometheus_client import CollectorRegistry
from test_aggregator_loop import SIZE_MS, T0, TOPIC, InstantStop, Rig, drain, event
from test_detector_loop import ALERTS, Clock

from modelmon.adapters.fakes import FakeConsumer, FakeProducer
from modelmon.config import ModelConfig
from modelmon.keys import WindowRef
from modelmon.service import Health
from modelmon.streaming.memory import MemoryResultStore, MemoryStateReader
from modelmon.streaming.ready import shard_of
from modelmon_services.detector.finder import ShardOptions
from modelmon_services.detector.ports import DetectorPorts
from modelmon_services.detector.service import Detector, DetectorOptions


class Crash(BaseException):
    """A process dying mid-pass: nothing after it runs (no cursor is stored)."""


class CrashingResults(MemoryResultStore):
    """Dies right after its ``crash_after``-th finished window."""

    def __init__(self, owner: str, shared: MemoryResultStore, crash_after: int) -> None:
        super().__init__(owner, shared=shared)
        self.left, self.crashed = crash_after, False

    def finish(self, ref: WindowRef, evaluated_at_ms: int, ttl_seconds: int) -> None:
        super().finish(ref, evaluated_at_ms, ttl_seconds)
        self.left -= 1
        if self.left == 0:
            self.crashed = True
            raise Crash

    def save_cursors(self, cursors: object) -> None:
        if not self.crashed:
            super().save_cursors(cursors)  # type: ignore[arg-type]


class CountingReader(MemoryStateReader):
    def __init__(self, rig: Rig) -> None:
        super().__init__(rig.store)
        self.ranged = 0

    def windows(
        self, partitions: Iterable[int], max_close_ms: int, min_close_ms: int | None = None
    ) -> dict[WindowRef, int]:
        self.ranged += 1
        return super().windows(partitions, max_close_ms, min_close_ms)


def models(rig: Rig, n: int) -> list[str]:
    ids = [f"model-{i:03d}" for i in range(n)]
    for m in ids:
        rig.registry.register(
            ModelConfig.model_validate(
                {"model_id": m,
                 "window": {"size_seconds": SIZE_MS // 1000, "idle_timeout_seconds": 86400},
                 "features": [{"name": "x", "kind": "numeric"},
                              {"name": "color", "kind": "categorical"}]}
            )
        )  # fmt: skip
    return ids


def written(rig: Rig, ids: list[str], windows: range, marker_window: int) -> None:
    """Three events per (model, window), then one per (model, partition) in
    ``marker_window`` moving every watermark past ``windows``."""
    parts = rig.kafka.partitions
    for k, m in enumerate(ids):
        for w in windows:
            for i in range(3):
                t = T0 + w * SIZE_MS + i * 1000
                rig.kafka.append(TOPIC, (k + i) % parts, event(m, i, t), m.encode())
        for p in range(parts):
            rig.kafka.append(TOPIC, p, event(m, 0, T0 + marker_window * SIZE_MS), m.encode())
    agg, consumer, _ = rig.aggregator()
    consumer.rebalance(assign=list(range(parts)))
    drain(agg, consumer)
    agg.ownership.flush()


def detector(
    rig: Rig, results: MemoryResultStore, reader: MemoryStateReader | None = None,
    shard: ShardOptions | None = None,
) -> tuple[Detector, FakeProducer]:  # fmt: skip
    producer = FakeProducer()
    ports = DetectorPorts(
        consumer=FakeConsumer(rig.kafka), producer=producer,
        reader=reader or MemoryStateReader(rig.store), results=results, registry=rig.registry,
        write_reports=lambda uri, files: None,
    )  # fmt: skip
    options = DetectorOptions(TOPIC, ALERTS, shard=shard or ShardOptions())
    clock = Clock(T0 + 20 * SIZE_MS)
    det = Detector(options, ports, InstantStop(), CollectorRegistry(), Health(), clock, lambda: 0.5)
    return det, producer


def evaluated(*producers: FakeProducer) -> Counter[tuple[str, str]]:
    seen: Counter[tuple[str, str]] = Counter()
    for producer in producers:
        for raw in producer.values(ALERTS):
            doc = orjson.loads(raw)
            if doc["type"] == "window_evaluated" and doc["result"]["rolling_windows"] == 1:
                seen[(doc["model_id"], doc["result"]["window_start"])] += 1
    return seen


def test_a_restart_mid_stream_evaluates_each_window_exactly_once() -> None:
    rig = Rig()
    ids = models(rig, 30)
    written(rig, ids, range(0, 2), marker_window=3)
    shared = MemoryResultStore("first")
    crashing = CrashingResults("first", shared, crash_after=17)
    first, p1 = detector(rig, crashing)
    try:
        first.step()
        raise AssertionError("the detector should have died mid-pass")
    except Crash:
        pass
    assert len(shared.done_at) == 17 and shared.cursor_of == {}  # died before storing cursors

    reader = CountingReader(rig)
    second, p2 = detector(rig, MemoryResultStore("second", shared=shared), reader)
    assert second.step() == 30 * 2 - 17  # the rest of windows 0 and 1
    written(rig, ids, range(3, 5), marker_window=6)  # the stream goes on
    before = reader.ranged
    assert second.step() == 30 * 2 and second.step() == 0
    assert reader.ranged == before  # found from the watermark moves: no ranged index read
    seen = evaluated(p1, p2)
    assert set(seen.values()) == {1} and len(seen) == 30 * 4
    assert len(shared.done_at) == 30 * 4
    assert second.metrics.repair_windows._value.get() == 0


def test_a_restart_resumes_from_the_stored_cursors_without_reading_the_index() -> None:
    rig = Rig()
    ids = models(rig, 10)
    written(rig, ids, range(0, 2), marker_window=3)
    shared = MemoryResultStore("a")
    first, p1 = detector(rig, shared)
    assert first.step() == 20
    assert set(ids) <= set(shared.cursor_of)
    written(rig, ids, range(3, 4), marker_window=5)
    reader = CountingReader(rig)
    second, p2 = detector(rig, MemoryResultStore("b", shared=shared), reader)
    assert second.step() == 10 and reader.ranged == 0
    assert set(evaluated(p1, p2).values()) == {1}


def test_two_shards_split_the_models_and_evaluate_each_window_once() -> None:
    rig = Rig()
    ids = models(rig, 40)
    written(rig, ids, range(0, 2), marker_window=3)
    shared = MemoryResultStore("s0")
    dets = [
        detector(rig, MemoryResultStore(f"s{i}", shared=shared), shard=ShardOptions(2, i))
        for i in range(2)
    ]
    counts = [d.step() for d, _ in dets]
    seen = [evaluated(p) for _, p in dets]
    for i in range(2):
        assert {m for m, _ in seen[i]} == {m for m in ids if shard_of(m, 2) == i}
        assert counts[i] == len(seen[i]) > 0
    total = seen[0] + seen[1]
    assert set(total.values()) == {1} and len(total) == 80
    assert [d.step() for d, _ in dets] == [0, 0]


def test_a_changed_baseline_reloads_only_its_model(tmp_path: Path) -> None:
    from test_detector_loop import windows_written

    rig = Rig()
    windows_written(rig, windows=1)
    ids = ["m1", *models(rig, 2)]
    files = {"statistics.json": b"{}", "constraints.json": b"{}"}
    for m in ids:
        rig.registry.push_baseline(m, files)
    det, _ = detector(rig, MemoryResultStore("d"))
    for m in ids:
        det._baseline(m)
    assert det.metrics.baseline_loads._value.get() == 3
    rig.registry.push_baseline(ids[1], files)
    for m in ids:
        det._baseline(m)
    assert det.metrics.baseline_loads._value.get() == 4  # only the changed one


def test_a_window_that_appears_behind_the_cursor_is_found_by_the_repair_sweep() -> None:
    """A model's event on a partition that never carried it, for a window that had no events:
    it appears below the cursor; the hourly repair sweep finds it, and counts it."""
    rig = Rig()
    [m] = models(rig, 1)

    def append(partition: int, t: int) -> None:
        rig.kafka.append(TOPIC, partition, event(m, 1, t), m.encode())

    for w in (0, 2):
        append(0, T0 + w * SIZE_MS + 1000)
    append(0, T0 + 4 * SIZE_MS)
    agg, consumer, _ = rig.aggregator()
    consumer.rebalance(assign=list(range(rig.kafka.partitions)))
    drain(agg, consumer)
    agg.ownership.flush()
    results = MemoryResultStore("d")
    det, producer = detector(rig, results)
    assert det.step() == 2  # windows 0 and 2 (and m1's, which has none)
    append(1, T0 + SIZE_MS + 5000)  # window 1, on a partition new to the model
    append(1, T0 + 4 * SIZE_MS + 1000)
    drain(agg, consumer)
    agg.ownership.flush()
    assert det.step() == 0  # behind the cursor: not looked at again
    det._clock.ms += 3600 * 1000  # type: ignore[attr-defined]
    assert det.step() == 1
    assert det.metrics.repair_windows._value.get() == 1
    assert sorted(s for _, s in evaluated(producer)) == [
        "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z", "2026-01-01T00:02:00Z",
    ]  # fmt: skip
    det._clock.ms += 3600 * 1000  # type: ignore[attr-defined]
    assert det.step() == 0 and det.metrics.repair_windows._value.get() == 1
