"""Prometheus metrics of the explainer (registered on the service's own registry). Its consumer
lag is the shared ``modelmon_consumer_lag{group="modelmon-explainer"}`` (``adapters.lag``, set
up in ``main``): the explainer commits its offsets in its transactions, which that gauge reads."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


class ExplainerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.events = Counter(
            "modelmon_explainer_events",
            "Capture events by outcome: explained, not_sampled, over_budget (sampled but the "
            "endpoint's request budget was spent), no_config, has_attributions, no_event_id, "
            "unreadable (the aggregator dead-letters those), dead_letter",
            ["model", "outcome"], registry=registry,
        )  # fmt: skip
        self.requests = Counter(
            "modelmon_explainer_endpoint_requests",
            "Requests to model endpoints (Kernel SHAP) by outcome",
            ["model", "outcome"], registry=registry,
        )  # fmt: skip
        self.transactions = Counter(
            "modelmon_explainer_transactions", "Kafka transactions by outcome", ["outcome"],
            registry=registry,
        )  # fmt: skip
