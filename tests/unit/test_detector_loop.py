"""The detector's loop driven through in-memory fakes (no Kafka, no Redis).

The partials come from the real aggregator on the same fakes (``test_aggregator_loop.Rig``).
Checked: a complete window is evaluated exactly once across detectors (claims and done
markers); a window that cannot be evaluated is recorded durably (failure with reason and
retry time, a failed result, an ``evaluation_failed`` alert, a metric), not retried before
its time, and evaluated once it can be.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from prometheus_client import CollectorRegistry
from test_aggregator_loop import SIZE_MS, T0, TOPIC, InstantStop, Rig, drain, event

from modelmon.adapters.fakes import FakeConsumer, FakeProducer
from modelmon.events import AlertEvent, WindowEvaluated
from modelmon.keys import WindowRef
from modelmon.service import Health
from modelmon.streaming.memory import MemoryResultStore, MemoryStateReader
from modelmon_services.detector.ports import DetectorPorts
from modelmon_services.detector.service import (
    FAILED_RETRY,
    Detector,
    DetectorOptions,
)

ALERTS = "alerts"


class Clock:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> float:
        return self.ms / 1000


def windows_written(rig: Rig, windows: int = 2, per_window: int = 30) -> None:
    """``windows`` windows of events on every partition, then one event past them all."""
    for w in range(windows):
        for i in range(per_window):
            p = i % rig.kafka.partitions
            t = T0 + w * SIZE_MS + i * 1000
            rig.kafka.append(TOPIC, p, event("m1", i, t), b"m1")
            rig.produced += 1
    for p in range(rig.kafka.partitions):  # moves every watermark past the windows' close
        rig.kafka.append(TOPIC, p, event("m1", 0, T0 + (windows + 2) * SIZE_MS), b"m1")
        rig.produced += 1
    agg, consumer, _ = rig.aggregator()
    consumer.rebalance(assign=list(range(rig.kafka.partitions)))
    drain(agg, consumer)
    agg.ownership.flush()


def detector(
    rig: Rig, results: MemoryResultStore, clock: Clock, write: object = None
) -> tuple[Detector, FakeProducer]:
    producer = FakeProducer()

    def no_reports(uri: str, files: dict[str, str]) -> None:
        raise AssertionError("no report directory was configured")

    ports = DetectorPorts(
        consumer=FakeConsumer(rig.kafka), producer=producer,
        reader=MemoryStateReader(rig.store), results=results, registry=rig.registry,
        write_reports=write or no_reports,  # type: ignore[arg-type]
    )  # fmt: skip
    options = DetectorOptions(TOPIC, ALERTS, out="/reports" if write else None)
    stop = InstantStop()
    det = Detector(options, ports, stop, CollectorRegistry(), Health(), clock, lambda: 0.5)
    return det, producer


def _events(producer: FakeProducer) -> list[dict[str, object]]:
    return [orjson.loads(v) for v in producer.values(ALERTS)]


def test_each_complete_window_is_evaluated_once_across_detectors() -> None:
    rig = Rig()
    windows_written(rig)
    shared = MemoryResultStore("d1")
    clock = Clock(T0 + 10 * SIZE_MS)
    d1, p1 = detector(rig, shared, clock)
    d2, p2 = detector(rig, MemoryResultStore("d2", shared=shared), clock)
    assert d1.step() == 2
    assert d2.step() == 0 and d1.step() == 0
    evaluated = [WindowEvaluated.model_validate(e) for e in _events(p1)]
    assert sorted(e.result.event_count for e in evaluated) == [30, 30]
    assert _events(p2) == []
    assert len(shared.results("m1")) == 2


def test_a_window_claimed_elsewhere_waits_for_its_claimant() -> None:
    rig = Rig()
    windows_written(rig, windows=1)
    shared = MemoryResultStore("d1")
    ref = WindowRef("m1", SIZE_MS, T0 - T0 % SIZE_MS)
    assert MemoryResultStore("zombie", shared=shared).claim(ref, 120)
    d1, _ = detector(rig, shared, Clock(T0 + 10 * SIZE_MS))
    assert d1.step() == 0
    shared.claims.clear()  # the claim lapsed
    assert d1.step() == 1


def test_a_window_that_cannot_be_evaluated_is_recorded_and_retried_on_schedule() -> None:
    rig = Rig()
    windows_written(rig, windows=1)
    results = MemoryResultStore("d1")
    clock = Clock(T0 + 10 * SIZE_MS)
    broken = {"on": True}
    written: list[str] = []

    def write(uri: str, files: dict[str, str]) -> None:
        if broken["on"]:
            raise ValueError("report disk is corrupt")
        written.append(uri)

    det, producer = detector(rig, results, clock, write)
    assert det.step() == 0
    [(ref, failure)] = results.failed.items()
    assert failure.attempts == 1 and "report disk is corrupt" in failure.reason
    delay_ms = int(FAILED_RETRY.delay(1, 0.5) * 1000)
    assert failure.retry_at_ms == clock.ms + delay_ms
    [failed_result] = results.results("m1")
    assert failed_result.status == "failed" and "corrupt" in (failed_result.failure_reason or "")
    [alert] = [AlertEvent.model_validate(e) for e in _events(producer)]
    assert (alert.check_type, alert.feature) == ("evaluation_failed", "*")
    assert alert.severity == "critical"
    assert det.metrics.failures.labels("m1")._value.get() == 1
    assert ref not in results.claims  # released for the retry

    clock.ms += delay_ms - 1
    assert det.step() == 0 and results.failed[ref].attempts == 1  # not before its time
    clock.ms += 1
    assert det.step() == 0 and results.failed[ref].attempts == 2  # still broken: backs off
    assert results.failed[ref].retry_at_ms - clock.ms == int(FAILED_RETRY.delay(2, 0.5) * 1000)

    broken["on"] = False
    clock.ms = results.failed[ref].retry_at_ms
    assert det.step() == 1
    assert ref not in results.failed and ref in results.done_at and written
    [result] = results.results("m1")  # the evaluated result replaced the failed one
    assert result.status == "evaluated" and result.event_count == 30
    kinds = [(e.get("check_type"), e.get("state")) for e in _events(producer)]
    assert kinds.count(("evaluation_failed", "ALARM")) == 2
    assert kinds[-2:] == [(None, None), ("evaluation_failed", "OK")]  # evaluated, then cleared


def test_alerting_takes_an_evaluation_failed_alert_like_any_other() -> None:
    """The detector's evaluation_failed alert is routed (one notification), not dead-lettered."""
    from modelmon.alerting.state import decide, observations
    from modelmon.config import AlertRoutes
    from modelmon.streaming.detection import evaluation_failed, evaluation_recovered

    ref = WindowRef("m1", SIZE_MS, T0)
    _, alert = evaluation_failed(ref, "CorruptBlobError: bad magic", 1, datetime.now(UTC))
    decision = decide({}, observations(alert, AlertRoutes()), 0)
    [note] = decision.notifications
    assert (note.check_type, note.feature, note.state) == ("evaluation_failed", "*", "ALARM")
    cleared = evaluation_recovered(ref, 1, datetime.now(UTC))
    [resolved] = decide(decision.states, observations(cleared, AlertRoutes()), 0).notifications
    assert (resolved.alert_key, resolved.state) == (note.alert_key, "OK")
