"""What the aggregator's /readyz reports as its dependencies come and go (pure)."""

from __future__ import annotations

from modelmon.service import Health
from modelmon_services.aggregator.service import Readiness


def _probe(health: Health) -> tuple[int, bytes]:
    return health.probe("/readyz")


def test_ready_only_once_assigned_and_while_every_dependency_answers() -> None:
    health = Health()
    ready = Readiness(health)
    ready.changed()
    assert _probe(health) == (503, b"joining the consumer group\n")
    ready.joined = True
    ready.changed()
    assert _probe(health) == (200, b"ok\n")
    ready.kafka_down = "Kafka unreachable: 1/1 brokers are down"
    ready.changed()
    assert _probe(health) == (503, b"Kafka unreachable: 1/1 brokers are down\n")
    ready.blocked = "cannot flush partition 0: Redis refused the connection"
    ready.changed()  # the most pressing reason is shown
    assert _probe(health)[1] == b"cannot flush partition 0: Redis refused the connection\n"
    ready.blocked = None  # Redis is back, Kafka still is not: not ready
    ready.changed()
    assert _probe(health)[0] == 503
    ready.kafka_down = None
    ready.changed()
    assert _probe(health) == (200, b"ok\n")
