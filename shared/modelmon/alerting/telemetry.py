"""Prometheus metrics of the alerting service (on a registry the service owns)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)


class AlertingMetrics:
    """Deliveries by route and outcome, retries, dead letters, events, end-to-end latency."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.events = Counter(
            "modelmon_alerting_events",
            "Events read from the alerts topic",
            ["type", "outcome"],
            registry=registry,
        )
        self.event_retries = Counter(
            "modelmon_alerting_event_retries",
            "Events put back for a later retry because a dependency (Redis, Kafka) failed",
            registry=registry,
        )
        self.deliveries = Counter(
            "modelmon_alerting_deliveries",
            "Deliveries by route kind and outcome (delivered, dead_lettered, skipped)",
            ["route", "outcome"],
            registry=registry,
        )
        self.retries = Counter(
            "modelmon_alerting_retries",
            "Delivery attempts that failed and were retried",
            ["route"],
            registry=registry,
        )
        self.dead_letters = Counter(
            "modelmon_alerting_dead_letters",
            "Deliveries sent to the dead-letter topic after the last retry",
            ["route"],
            registry=registry,
        )
        self.latency = Histogram(
            "modelmon_alerting_latency_seconds",
            "From the alert's detected_at to its delivery, per route kind",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
