"""An in-process detector over the real stack, and the wait for the aggregator to have folded a
topic: the setup of the detector tests that drive ``Detector.step`` themselves (scale, tiers)."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry

from modelmon.adapters.kafka import make_consumer, make_producer
from modelmon.keys import Keys
from modelmon.registry import Registry
from modelmon.service import Health, StopFlag
from modelmon.settings import Settings
from modelmon.streaming.reader import StateReader
from modelmon.streaming.results import ResultStore
from modelmon_services.detector.ports import DetectorPorts
from modelmon_services.detector.service import Detector, DetectorOptions

from .test_aggregator_support import caught_up, high_watermarks, register, wait_for


def register_idle_models(redis_client: Any, prefix: str, ids: list[str], size_ms: int) -> None:
    """Models of ``size_ms`` windows, no lateness, complete after 2 s of idle partitions."""
    for m in ids:
        register(
            redis_client, prefix, m, size_seconds=size_ms // 1000, allowed_lateness_seconds=0,
            idle_timeout_seconds=2,
        )  # fmt: skip


def in_process_detector(
    settings: Settings, redis_client: Any, prefix: str, options: DetectorOptions,
    results: ResultStore, durable: Any | None = None,
) -> Detector:  # fmt: skip
    """A detector of ``options.topic`` on real Kafka and Redis, its reports dropped."""
    keys = Keys(prefix)
    ports = DetectorPorts(
        consumer=make_consumer(settings.kafka, "modelmon-detector-offsets"),
        producer=make_producer(settings.kafka),
        reader=StateReader(redis_client, keys, options.topic),
        results=results, registry=Registry(redis_client, keys), write_reports=lambda u, f: None,
        durable=durable,
    )  # fmt: skip
    return Detector(options, ports, StopFlag(), CollectorRegistry(), Health())


def settled(
    settings: Settings, redis_client: Any, prefix: str, topic: str, partitions: int,
    timeout: float, idle_seconds: float,
) -> None:  # fmt: skip
    """The aggregator caught up with the topic, then its partitions idle ``idle_seconds`` (so
    the last windows complete by the idle rule)."""
    ends = high_watermarks(settings, topic, partitions)
    wait_for(lambda: caught_up(redis_client, prefix, topic, ends), timeout, "aggregator caught up")
    time.sleep(idle_seconds)
