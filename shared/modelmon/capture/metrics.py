"""Prometheus view of a ``CaptureClient``'s drops, read at scrape time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector


class CountsDrops(Protocol):
    """What the collector reads: ``CaptureClient.drop_counts``."""

    def drop_counts(self) -> dict[str, int]: ...


#: Exposed as ``modelmon_capture_dropped_total{reason=...}`` (the client's running totals).
DROPPED = "modelmon_capture_dropped"


class CaptureDropCollector(Collector):
    """``modelmon_capture_dropped_total``: a counter per drop reason, never a gauge."""

    def __init__(self, client: CountsDrops) -> None:
        self.client = client

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            DROPPED, "Events the capture SDK dropped, by reason", labels=["reason"]
        )
        for reason, count in sorted(self.client.drop_counts().items()):
            family.add_metric([reason], count)
        yield family


def register_drop_counter(client: CountsDrops, registry: CollectorRegistry) -> None:
    registry.register(CaptureDropCollector(client))
