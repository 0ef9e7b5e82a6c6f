"""The explainer's wiring: clients built from Settings and handed in (``__init__`` runs it)."""

from __future__ import annotations

import logging
import os
import random
import socket
import time
from collections.abc import Callable, Mapping

from confluent_kafka.admin import NewTopic  # type: ignore[attr-defined]
from prometheus_client import CollectorRegistry

from modelmon.adapters.kafka import make_admin, make_consumer, make_producer
from modelmon.adapters.lag import watch_lag
from modelmon.adapters.redis import make_redis
from modelmon.errors import DependencyUnavailableError, TransientError
from modelmon.explain.config import ExplainerConfig
from modelmon.explain.sampling import TokenBucket
from modelmon.keys import Keys
from modelmon.redaction import RedactionPolicy, redact_bytes
from modelmon.registry import ModelCatalog, Registry
from modelmon.service import DeadLetters, Health, StopFlag
from modelmon.settings import Settings

from .endpoint import EndpointPredictor
from .loop import ExplainerLoop
from .metrics import ExplainerMetrics
from .models import Explainers
from .service import ExplainerService

log = logging.getLogger(__name__)
SERVICE = "explainer"


def ensure_output_topic(settings: Settings, topic: str) -> None:
    """Create the attribution topic if missing (``topics.attributions_partitions``)."""
    admin = make_admin(settings.kafka)
    if topic in admin.list_topics(timeout=30).topics:
        return
    new = NewTopic(topic, num_partitions=settings.topics.attributions_partitions,
                   replication_factor=settings.topics.replication_factor)  # fmt: skip
    for future in admin.create_topics([new]).values():
        try:
            future.result(30)
        except Exception as exc:  # a topic another instance created is fine
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise DependencyUnavailableError(f"cannot create {topic}: {exc}") from exc


def acquire(stop: StopFlag) -> Callable[[TokenBucket, int], None]:
    """Waits until ``n`` tokens are in ``bucket`` and takes them (a model's one-off start)."""

    def take(bucket: TokenBucket, n: int) -> None:
        while not bucket.try_take(n, time.monotonic()):
            if stop.wait(max(0.001, bucket.wait_time(n, time.monotonic()))):
                raise TransientError("stopping while waiting for the request budget")

    return take


def wire(
    settings: Settings, stop: StopFlag, health: Health, registry: CollectorRegistry
) -> ExplainerService:
    opts, keys = settings.explainer, Keys(settings.redis.key_prefix)
    output_topic = opts.output_topic or settings.topics.attributions
    ensure_output_topic(settings, output_topic)
    catalog = ModelCatalog(Registry(make_redis(settings.redis), keys))
    metrics = ExplainerMetrics(registry)

    def models() -> Mapping[str, ExplainerConfig]:
        catalog.refresh()
        return {m: e.config.explainer for m, e in catalog.models.items() if e.config.explainer}

    def predictor(model: str, config: ExplainerConfig, budget: TokenBucket) -> EndpointPredictor:
        return EndpointPredictor(
            config, budget, clock=time.monotonic, wait=stop.wait, rand=random.random,
            on_request=lambda outcome: metrics.requests.labels(model, outcome).inc(),
        )  # fmt: skip

    explainers = Explainers(
        opts.models_dir, opts.data_dir, predictor, clock=time.monotonic,
        acquire=acquire(stop), retry_seconds=opts.setup_retry_seconds,
    )  # fmt: skip
    instance = opts.instance_id or f"{socket.gethostname()}-{os.getpid()}"
    producer = make_producer(
        settings.kafka,
        **{"transactional.id": f"{opts.group}-{instance}", "transaction.timeout.ms": 600_000},
    )
    redaction = RedactionPolicy.from_settings(settings.capture)  # PII rules of dead letters
    dead = DeadLetters(
        lambda topic, key, value: producer.produce(topic, key=key, value=value),
        settings.topics.deadletter, SERVICE, registry,
        redact=lambda raw: redact_bytes(raw, redaction),
    )  # fmt: skip
    consumer = make_consumer(settings.kafka, opts.group, **{"max.poll.interval.ms": 900_000})
    capture_topic = opts.topic or settings.topics.capture
    watch_lag(registry, settings.kafka, (opts.group, [capture_topic]))  # what KEDA scales on
    loop = ExplainerLoop(
        consumer, producer, models, explainers,
        capture_topic=capture_topic, output_topic=output_topic,
        dead_letter=lambda raw, exc, model, source: _ignore(
            dead.send(raw, exc, model_id=model, source=source, code="not_explainable")
        ),
        metrics=metrics, clock=time.monotonic,
    )  # fmt: skip
    return ExplainerService(loop, stop, health, opts.batch_size,
                            on_stop=lambda: _ignore(producer.flush(10)))  # fmt: skip


def _ignore(_: object) -> None:
    """Adapts a call whose result the caller does not need."""
