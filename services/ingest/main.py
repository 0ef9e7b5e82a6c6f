"""``modelmon run ingest``: wiring and the HTTP listener (it serves the admin endpoints too)."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CollectorRegistry

from modelmon.adapters.kafka import make_producer
from modelmon.redaction import RedactionPolicy
from modelmon.registry import ModelCatalog, Registry
from modelmon.runtime import Listener, Runtime, WebService, service_command
from modelmon.service import DeadLetters, Health
from modelmon.settings import Settings

from .app import Ingest, make_app


def _catalog(settings: Settings) -> ModelCatalog:
    from modelmon.adapters.redis import make_redis
    from modelmon.keys import Keys

    return ModelCatalog(Registry(make_redis(settings.redis), Keys(settings.redis.key_prefix)))


def make(settings: Settings, registry: CollectorRegistry, health: Health) -> web.Application:
    producer = make_producer(settings.kafka)
    dead = DeadLetters(
        lambda t, k, v: producer.produce(t, key=k, value=v),
        settings.topics.deadletter, "ingest", registry,
    )  # fmt: skip
    ing = settings.ingest
    ingest = Ingest(
        producer, settings.topics.capture, dead, registry,
        token=ing.token.get_secret_value() if ing.token else None,
        max_body_bytes=ing.max_body_bytes, max_event_bytes=ing.max_event_bytes,
        redaction=RedactionPolicy.from_settings(settings.capture),
        feature_names=settings.capture.feature_names,
        catalog=_catalog(settings) if ing.require_registered else None,
    )  # fmt: skip
    return make_app(ingest, health, registry)


def build(rt: Runtime) -> WebService:
    app = make(rt.settings, rt.registry, rt.health)
    ing = rt.settings.ingest
    listener = Listener(app, ing.host, ing.port, {"access_log": None}, "ingest")
    return WebService([listener], rt.health, rt.stop)


command = service_command(
    "ingest",
    build,
    admin_server=False,
    help="HTTP ingest: POST /v1/capture (JSON event, NDJSON, or SageMaker capture records).",
)
