"""The aggregator's Prometheus metrics, on a registry owned by the service instance."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class AggregatorMetrics:
    """events/s = rate(modelmon_aggregator_events_total); lag per partition; flush latency."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.events = Counter(
            "modelmon_aggregator_events",
            "Capture events consumed, by outcome (profiled, late, dead_letter)",
            ["outcome"],
            registry=registry,
        )
        self.late = Counter(
            "modelmon_aggregator_late_events",
            "Events that arrived after their window closed on their partition",
            ["model"],
            registry=registry,
        )
        self.over_cap = Counter(
            "modelmon_aggregator_values_over_feature_cap",
            "Feature values not profiled: their name came after the model's feature cap "
            "(MODELMON_LIMITS__MAX_FEATURES) in its window",
            ["model"],
            registry=registry,
        )
        self.state_lost = Gauge(
            "modelmon_aggregator_redis_state_lost",
            "1 when Redis lost modelmon's state under this process (consumption stopped)",
            registry=registry,
        )
        self.flushes = Counter(
            "modelmon_aggregator_flushes",
            "Fenced Redis flushes by outcome (ok, fenced, error)",
            ["outcome"],
            registry=registry,
        )
        self.flush_seconds = Histogram(
            "modelmon_aggregator_flush_seconds",
            "Latency of one partition's fenced flush (serialize + Redis script)",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=registry,
        )
        self.lag = Gauge(
            "modelmon_aggregator_consumer_lag",
            "Messages between the flushed offset and the end of the partition",
            ["partition"],
            registry=registry,
        )
        self.open_windows = Gauge(
            "modelmon_aggregator_open_windows",
            "Windows held in memory across the partitions this process owns",
            registry=registry,
        )
        self.rebuilds = Counter(
            "modelmon_aggregator_partition_rebuilds",
            "Partitions whose stored state was unreadable and was rebuilt from the topic",
            registry=registry,
        )
        self.partitions = Gauge(
            "modelmon_aggregator_partitions",
            "Capture partitions this process owns",
            registry=registry,
        )
