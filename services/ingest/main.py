"""``modelmon run ingest``: wiring and the HTTP listener."""

from __future__ import annotations

import click
from aiohttp import web
from prometheus_client import CollectorRegistry

from modelmon import logs
from modelmon.adapters.kafka import make_producer
from modelmon.limits import EventTimeBounds
from modelmon.redaction import RedactionPolicy
from modelmon.registry import ModelCatalog, Registry
from modelmon.service import DeadLetters, Health
from modelmon.settings import Settings

from .app import Ingest, make_app


def _catalog(settings: Settings) -> ModelCatalog:
    from modelmon.adapters.redis import make_redis
    from modelmon.keys import Keys

    return ModelCatalog(Registry(make_redis(settings.redis), Keys(settings.redis.key_prefix)))


def build(settings: Settings) -> tuple[web.Application, Health]:
    registry = CollectorRegistry()
    health = Health()
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
        bounds=EventTimeBounds.of(settings.limits),
    )  # fmt: skip
    app = make_app(ingest, health, registry)

    async def ready(app: web.Application) -> None:
        health.set_ready(True)

    app.on_startup.append(ready)
    return app, health


@click.command("ingest")
@click.option("--host", default=None, help="listen address (ingest.host)")
@click.option("--port", type=int, default=None, help="listen port (ingest.port)")
def command(host: str | None, port: int | None) -> None:
    """HTTP ingest: POST /v1/capture (JSON event, NDJSON, or SageMaker capture records)."""
    settings = Settings()
    logs.configure(settings.log_level, settings.log_json)
    app, _ = build(settings)
    web.run_app(
        app, host=host or settings.ingest.host,
        port=settings.ingest.port if port is None else port,
        access_log=None, print=None,
    )  # fmt: skip
