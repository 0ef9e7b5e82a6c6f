"""The label join's wiring: clients built from Settings and handed in (``__init__`` runs it on
``modelmon.runtime``)."""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping

from confluent_kafka.admin import NewTopic  # type: ignore[attr-defined]
from prometheus_client import CollectorRegistry

from modelmon.adapters.kafka import make_admin, make_consumer, make_producer
from modelmon.adapters.lag import watch_lag
from modelmon.adapters.redis import make_redis
from modelmon.config import endpoint_name
from modelmon.errors import DependencyUnavailableError
from modelmon.keys import Keys
from modelmon.quality.join import ModelQuality, models_of
from modelmon.quality.store import JoinStore
from modelmon.registry import ModelCatalog, Registry
from modelmon.service import DeadLetters, Health, StopFlag
from modelmon.settings import Settings

from .joiner import Joiner
from .metrics import LabelJoinMetrics
from .router import Router
from .service import (
    LabelJoinService,
    Publisher,
    report_writer,
    retry_until_stopped,
    store_rolling,
)

log = logging.getLogger(__name__)
SERVICE = "labeljoin"


def ensure_join_topic(settings: Settings) -> int:
    """Create the internal topic if missing; its partition count (the join's parallelism)."""
    admin, lj = make_admin(settings.kafka), settings.labeljoin
    topics = admin.list_topics(timeout=30).topics
    if lj.topic not in topics:
        new = NewTopic(lj.topic, num_partitions=lj.partitions,
                       replication_factor=settings.topics.replication_factor)  # fmt: skip
        for future in admin.create_topics([new]).values():
            try:
                future.result(30)
            except Exception as exc:
                if "TOPIC_ALREADY_EXISTS" not in str(exc):
                    raise DependencyUnavailableError(f"cannot create {lj.topic}: {exc}") from exc
        topics = admin.list_topics(timeout=30).topics
    return len(topics[lj.topic].partitions)


def wire(
    settings: Settings, stop: StopFlag, health: Health, registry: CollectorRegistry
) -> LabelJoinService:
    lj, keys = settings.labeljoin, Keys(settings.redis.key_prefix)
    partitions = ensure_join_topic(settings)
    redis = make_redis(settings.redis)
    catalog = ModelCatalog(Registry(redis, keys))
    retry = retry_until_stopped(stop, health)

    def models() -> Mapping[str, ModelQuality]:
        retry("load the model registry", catalog.refresh)
        return models_of({m: e.config for m, e in catalog.models.items()})

    def routes(model_id: str, check_type: str) -> tuple[str, str, str, bool]:
        config = catalog.config(model_id)
        if config is None:
            return model_id, "modelmon", "warning", False
        cw = config.alerts.cloudwatch
        severity = config.alerts.severity.get(check_type, "warning")
        return endpoint_name(model_id, config), cw.schedule_name, severity, cw.enabled

    producer = make_producer(settings.kafka)

    def produce(topic: str, key: bytes | None, value: bytes) -> None:
        producer.produce(topic, key=key, value=value)
        producer.poll(0)

    metrics = LabelJoinMetrics(registry)
    instance = lj.instance_id or f"{socket.gethostname()}-{os.getpid()}"
    tx_producer = make_producer(
        settings.kafka, **{"transactional.id": f"{lj.router_group}-{instance}"}
    )
    dead = DeadLetters(produce, settings.topics.deadletter, SERVICE, registry)
    watch_lag(registry, settings.kafka,
              (lj.router_group, [settings.topics.capture, settings.topics.labels]),
              (lj.join_group, [lj.topic]))  # fmt: skip
    router = Router(
        make_consumer(settings.kafka, lj.router_group), tx_producer, models,
        capture_topic=settings.topics.capture, labels_topic=settings.topics.labels,
        join_topic=lj.topic, partitions=partitions,
        dead_letter=lambda raw, exc, model, source: _ignore(dead.send(raw, exc, model_id=model,
                                                                       source=source)),
        metrics=metrics, deliver_dead_letters=lambda: _ignore(producer.flush(30)),
    )  # fmt: skip
    cloudwatch = _cloudwatch(settings)
    writer = None
    if lj.reports:
        writer = report_writer(lj.reports, settings.aws)
    publisher = Publisher(produce, settings.topics.alerts, redis, keys, cloudwatch, routes,
                          writer)  # fmt: skip
    joiner = Joiner(
        make_consumer(settings.kafka, lj.join_group, **{"partition.assignment.strategy": "range"}),
        JoinStore(redis, keys, lj.retention_seconds), models,
        topic=lj.topic, partitions=partitions, publish=publisher,
        publish_rolling=store_rolling(redis, keys), publish_bias=publisher.bias,
        retry=retry,
        clock_ms=lambda: int(time.time() * 1000), metrics=metrics,
        deliver=lambda: producer.flush(10) == 0,
    )  # fmt: skip
    return LabelJoinService(router, joiner, stop, health, lj.flush_seconds, lj.batch_size,
                            on_flush=lambda: _ignore(producer.flush(10)))  # fmt: skip


def _ignore(_: object) -> None:
    """Adapts a call whose result the caller does not need."""


def _cloudwatch(settings: Settings) -> object | None:
    try:
        from modelmon.adapters.aws import boto_client

        client: object = boto_client(settings.aws, "cloudwatch")
        return client
    except Exception as exc:  # noqa: BLE001 - CloudWatch is optional: log and go on
        log.warning("CloudWatch unavailable, model metrics not published: %s", exc)
        return None
