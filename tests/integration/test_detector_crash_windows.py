"""The detector's crash windows against real Kafka and Redis (docs/streaming.md, "Crash windows").

- A Redis error after a pass handed its windows out (the cursors moved past them): the next
  pass evaluates every one of them, once; none waits for the hourly repair sweep.
- A detector killed while recording a window it cannot evaluate (after the failed result, before
  the failure record): a fresh detector raises every window's ``evaluation_failed`` alert at
  once and records every failure; none waits for a retry time the dead one never announced.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from modelmon.adapters.kafka import make_consumer, make_producer
from modelmon.errors import DependencyUnavailableError, TransientError
from modelmon.events import WindowResult
from modelmon.keys import Keys, WindowRef
from modelmon.registry import Registry
from modelmon.service import Health, StopFlag
from modelmon.settings import Settings
from modelmon.streaming.reader import StateReader
from modelmon.streaming.results import ResultStore
from modelmon_services.detector.ports import DetectorPorts
from modelmon_services.detector.service import Detector, DetectorOptions

from .detector_support import register_idle_models, settled
from .test_aggregator_support import Event, ServiceProcess, produce, service_env
from .test_detector import T0, _evaluated

MODELS = 12
SIZE = 10_000
PARTITIONS = 3
WINDOWS = 2


class Killed(BaseException):
    """The process dies here: nothing after it runs."""


class RetryQueueDown(ResultStore):
    """Redis fails once, at the first read of the retry queue (after the cursors moved)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.failed_once = False

    def due_retries(self, now_ms: int, limit: int = 1000) -> list[WindowRef]:
        if not self.failed_once:
            self.failed_once = True
            raise DependencyUnavailableError("Redis did not answer: (injected)")
        return super().due_retries(now_ms, limit)


class DiesSavingAFailure(ResultStore):
    """Dies at the first failed result it is asked to store."""

    def save_result(self, result: WindowResult, rolling: bool, retention_ms: int) -> None:
        if result.status == "failed":
            raise Killed
        super().save_result(result, rolling, retention_ms)


def _ids() -> list[str]:
    return [f"model-{i:02d}" for i in range(MODELS)]


def _events() -> list[Event]:
    return [
        Event(m, T0 + w * SIZE + i * 3000, {"x": float(i), "y": k % 7, "color": "red"}, k % 3)
        for k, m in enumerate(_ids())
        for w in range(WINDOWS)
        for i in range(3)
    ]


def _unwritable(uri: str, files: dict[str, str]) -> None:
    raise OSError("report storage refuses every write")


def _detector(
    settings: Settings, redis_client: Any, prefix: str, capture: str, alerts: str,
    results: ResultStore, reports: bool = False,
) -> Detector:  # fmt: skip
    keys = Keys(prefix)
    options = DetectorOptions(capture, alerts, out="/unwritable" if reports else None)
    ports = DetectorPorts(
        consumer=make_consumer(settings.kafka, "modelmon-detector-offsets"),
        producer=make_producer(settings.kafka),
        reader=StateReader(redis_client, keys, capture),
        results=results, registry=Registry(redis_client, keys),
        write_reports=_unwritable if reports else (lambda u, f: None),
    )  # fmt: skip
    return Detector(options, ports, StopFlag(), CollectorRegistry(), Health())


@pytest.fixture
def stack(
    settings: Settings, new_topic: Any, consumer_group: str, redis_client: Any,
    redis_prefix: str, tmp_path: Path,
) -> Iterator[tuple[str, str]]:  # fmt: skip
    """(capture, alerts): windows 0 and 1 of every model folded by an aggregator, complete by
    the idle rule."""
    capture, alerts = new_topic(partitions=PARTITIONS), new_topic(partitions=1)
    register_idle_models(redis_client, redis_prefix, _ids(), SIZE)
    produce(settings, capture, _events())
    env = service_env(redis_prefix, capture, consumer_group)
    aggregator = ServiceProcess("aggregator", env, tmp_path / "agg.log").start()
    try:
        settled(settings, redis_client, redis_prefix, capture, PARTITIONS, 180, 2.5)
        yield capture, alerts
    finally:
        assert aggregator.terminate() == 0, aggregator.logs()


def test_a_redis_error_after_the_windows_were_handed_out_loses_none(
    stack: tuple[str, str], settings: Settings, redis_client: Any, redis_prefix: str
) -> None:
    capture, alerts = stack
    results = RetryQueueDown(redis_client, Keys(redis_prefix), "d", capture)
    det = _detector(settings, redis_client, redis_prefix, capture, alerts, results)
    with pytest.raises(TransientError):
        det.step()  # Detector.run backs off, then runs the next pass
    assert det.step() == MODELS * WINDOWS and det.step() == 0
    assert det.metrics.repair_windows._value.get() == 0
    singles = Counter(
        (r["model_id"], r["result"]["window_start"])
        for r in _evaluated(settings, alerts)
        if r["type"] == "window_evaluated"
    )
    assert len(singles) == MODELS * WINDOWS and set(singles.values()) == {1}


def test_a_detector_killed_recording_a_failure_leaves_no_alert_waiting_for_a_retry(
    stack: tuple[str, str], settings: Settings, redis_client: Any, redis_prefix: str
) -> None:
    capture, alerts = stack
    keys = Keys(redis_prefix)
    args = (settings, redis_client, redis_prefix, capture, alerts)
    dying = DiesSavingAFailure(redis_client, keys, "dies", capture)
    with pytest.raises(Killed):
        _detector(*args, dying, reports=True).step()
    # a real kill leaves its claim, which lapses: deleted here rather than waited for
    for claim in redis_client.scan_iter(f"{redis_prefix}:claim:*"):
        redis_client.delete(claim)
    fresh = ResultStore(redis_client, keys, "fresh", capture)
    assert _detector(*args, fresh, reports=True).step() == 0  # every window fails again
    refs = [WindowRef(m, SIZE, T0 - T0 % SIZE + w * SIZE) for m in _ids() for w in range(WINDOWS)]
    failures = fresh.failures(refs)
    assert len(failures) == MODELS * WINDOWS
    assert {f.attempts for f in failures.values()} == {1}
    raised = {
        r["event_id"]
        for r in _evaluated(settings, alerts)
        if r.get("check_type") == "evaluation_failed" and r.get("state") == "ALARM"
    }
    assert len(raised) == MODELS * WINDOWS  # all at once: none waits for a retry time
