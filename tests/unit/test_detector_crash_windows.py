"""The detector's crash windows, on in-memory fakes: a failure between any two of its writes.

A window is handed out (the cursors move past it), claimed, evaluated, its results written,
its events produced, and only then marked done. Whatever call of a pass fails -- a Redis or
Kafka error the same process retries (``TransientError``), or the process dying there
(SIGKILL: nothing after it runs, a fresh detector takes over once the claim lapses) -- every
window is still evaluated, its result is stored once, and what was produced twice carries the
same event id (the alerting service drops the duplicate). A window that cannot be evaluated
gets its ``evaluation_failed`` alert and failure record even if the detector dies between the
two.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from test_aggregator_loop import SIZE_MS, T0, TOPIC, InstantStop, Rig
from test_detector_loop import ALERTS, Clock
from test_detector_ready import models, written

from modelmon.adapters.fakes import FakeConsumer, FakeProducer
from modelmon.errors import DependencyUnavailableError, TransientError
from modelmon.service import Health
from modelmon.streaming.memory import MemoryResultStore, MemoryStateReader
from modelmon_services.detector.ports import DetectorPorts
from modelmon_services.detector.service import Detector, DetectorOptions

RESULT_CALLS = (
    "done", "claim", "release", "finish", "save_merged", "merged_profiles", "save_result",
    "record_failure", "failures", "due_retries", "drop_retry", "cursors", "save_cursors",
)  # fmt: skip
READER_CALLS = ("progress", "windows", "scores", "merged", "expire_partials")


class Killed(BaseException):
    """The process dies at this call: nothing after it runs."""


class Fault:
    """Counts the calls of every seam (or only those named ``only``); the ``at``-th raises,
    every other call passes."""

    def __init__(self, at: int, kill: bool, only: str | None = None) -> None:
        self.at, self.kill, self.only, self.calls = at, kill, only, 0

    def tick(self, name: str) -> None:
        if self.only is not None and name != self.only:
            return
        self.calls += 1
        if self.calls == self.at:
            raise Killed(name) if self.kill else DependencyUnavailableError(f"{name}: down")


def _faulty(cls: type, names: tuple[str, ...]) -> type:
    """``cls`` with each of ``names`` ticking ``self.fault`` before it runs."""

    def wrap(name: str) -> Any:
        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            if self.fault is not None:
                self.fault.tick(name)
            return getattr(super(sub, self), name)(*args, **kwargs)

        return method

    sub = type(f"Faulty{cls.__name__}", (cls,), {n: wrap(n) for n in names})
    return sub


FaultyResults = _faulty(MemoryResultStore, RESULT_CALLS)
FaultyReader = _faulty(MemoryStateReader, READER_CALLS)


class FaultyProducer(FakeProducer):
    def __init__(self, fault: Fault | None) -> None:
        super().__init__()
        self.fault = fault

    def produce(self, *args: Any, **kwargs: Any) -> None:
        if self.fault is not None:
            self.fault.tick("produce")
        super().produce(*args, **kwargs)


def _detector(
    rig: Rig, shared: MemoryResultStore, owner: str, fault: Fault | None, write: Any = None
) -> tuple[Detector, FaultyProducer]:
    """A detector whose result store, state reader and producer all tick ``fault``."""
    results, reader = FaultyResults(owner, shared=shared), FaultyReader(rig.store)
    results.fault = reader.fault = fault
    producer = FaultyProducer(fault)
    ports = DetectorPorts(
        consumer=FakeConsumer(rig.kafka), producer=producer, reader=reader, results=results,
        registry=rig.registry, write_reports=write or (lambda uri, files: None),
    )  # fmt: skip
    options = DetectorOptions(TOPIC, ALERTS, out="/reports" if write else None)
    clock = Clock(T0 + 20 * SIZE_MS)
    det = Detector(options, ports, InstantStop(), CollectorRegistry(), Health(), clock, lambda: 0.5)
    return det, producer


def _until_idle(det: Detector) -> None:
    """Passes until two in a row evaluate nothing; a dependency error is retried (as
    ``Detector.run`` does after its backoff)."""
    idle = 0
    for _ in range(20):
        try:
            idle = idle + 1 if det.step() == 0 else 0
        except TransientError:
            idle = 0
        if idle == 2:
            return
    raise AssertionError("the detector never settled")


def _evaluated_ids(*producers: FakeProducer) -> dict[tuple[str, str], set[str]]:
    """(model, window start) -> the ids of its single-window ``window_evaluated`` events."""
    ids: dict[tuple[str, str], set[str]] = defaultdict(set)
    for producer in producers:
        for raw in producer.values(ALERTS):
            doc = orjson.loads(raw)
            if doc["type"] == "window_evaluated" and doc["result"]["rolling_windows"] == 1:
                ids[(doc["model_id"], doc["result"]["window_start"])].add(doc["event_id"])
    return ids


def _stream(rig: Rig) -> list[str]:
    ids = models(rig, 3)
    written(rig, ids, range(0, 3), marker_window=4)
    return ids


@settings(max_examples=40, deadline=None)
@given(at=st.integers(min_value=1, max_value=80), kill=st.booleans())
def test_a_failure_at_any_call_of_a_pass_loses_no_window_and_duplicates_no_result(
    at: int, kill: bool
) -> None:
    rig = Rig()
    ids = _stream(rig)
    shared = MemoryResultStore("first")
    first, p1 = _detector(rig, shared, "first", Fault(at, kill))
    producers = [p1]
    try:
        _until_idle(first)
    except Killed:
        shared.claims.clear()  # the dead detector's claim lapses
        second, p2 = _detector(rig, shared, "second", None)  # a fresh process takes over
        producers.append(p2)
        _until_idle(second)
    windows = {(m, w) for m in ids for w in range(3)}
    assert {(r.model_id, (r.start_ms - T0) // SIZE_MS) for r in shared.done_at} == windows
    for m in ids:  # one stored result per window: a re-evaluation replaces it
        assert len(shared.results(m)) == 3
    seen = _evaluated_ids(*producers)
    assert len(seen) == len(windows) and all(len(v) == 1 for v in seen.values())


def test_a_pass_that_fails_after_moving_the_cursors_requeues_its_windows() -> None:
    """Redis fails after the windows were handed out (a retry-queue read): the next pass
    evaluates them, rather than the hourly repair sweep finding them."""
    rig = Rig()
    ids = _stream(rig)
    shared = MemoryResultStore("d")
    det, _ = _detector(rig, shared, "d", Fault(1, kill=False, only="due_retries"))
    with pytest.raises(DependencyUnavailableError):
        det.step()
    assert det.step() == 3 * len(ids) and det.step() == 0
    assert det.metrics.repair_windows._value.get() == 0


def _broken(uri: str, files: dict[str, str]) -> None:
    raise ValueError("report disk is corrupt")


@pytest.mark.parametrize("dies_at", ["save_result", "produce"])
def test_a_detector_dying_while_recording_a_failed_window_raises_its_alert_on_restart(
    dies_at: str,
) -> None:
    """Every window fails (its report cannot be written); the detector dies at the first
    failure's first write. A fresh detector at the same time raises every window's
    ``evaluation_failed`` alert and records every failure: none waits for its retry time."""
    rig = Rig()
    _stream(rig)
    shared = MemoryResultStore("first")
    first, _ = _detector(rig, shared, "first", Fault(1, kill=True, only=dies_at), _broken)
    with pytest.raises(Killed):
        first.step()

    shared.claims.clear()  # the dead detector's claim lapses
    second, producer = _detector(rig, shared, "second", None, _broken)
    assert second.step() == 0
    alerts = [orjson.loads(v) for v in producer.values(ALERTS)]
    raised = {a["event_id"] for a in alerts if a.get("check_type") == "evaluation_failed"}
    assert len(raised) == len(shared.failed) == 9
    assert all(f.attempts == 1 for f in shared.failed.values())
    assert set(shared.retries) == set(shared.failed)
    for m in ("model-000", "model-001", "model-002"):
        assert [r.status for r in shared.results(m)] == ["failed"] * 3
