"""Prometheus metrics of the label join (registered on the service's own registry)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class LabelJoinMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.routed = Counter(
            "modelmon_labeljoin_routed", "Records routed to the join topic", ["kind"],
            registry=registry,
        )  # fmt: skip
        self.joined = Counter(
            "modelmon_labeljoin_records", "Join outcomes (see quality.join.COUNTERS)", ["outcome"],
            registry=registry,
        )  # fmt: skip
        self.flushes = Counter(
            "modelmon_labeljoin_flushes", "Fenced flushes", ["outcome"], registry=registry
        )
        self.evaluations = Counter(
            "modelmon_labeljoin_evaluations", "Quality windows evaluated", registry=registry
        )
        self.partitions = Gauge(
            "modelmon_labeljoin_partitions", "Join partitions owned", registry=registry
        )
