"""``modelmon run ingest``: wiring and the HTTP listener."""

from __future__ import annotations

import asyncio
import logging

import click
from aiohttp import web
from prometheus_client import CollectorRegistry

from modelmon import logs
from modelmon.adapters.kafka import make_producer
from modelmon.errors import ConfigurationError
from modelmon.redaction import RedactionPolicy, redact_bytes
from modelmon.registry import ModelCatalog, Registry
from modelmon.service import DeadLetters, Health
from modelmon.settings import IngestSettings, Settings

from ..web_limits import HttpLimits, Site, start, wait_for_signal
from .app import Ingest, make_admin_app, make_app

log = logging.getLogger(__name__)


def _catalog(settings: Settings) -> ModelCatalog:
    from modelmon.adapters.redis import make_redis
    from modelmon.keys import Keys

    return ModelCatalog(Registry(make_redis(settings.redis), Keys(settings.redis.key_prefix)))


def ingest_limits(ing: IngestSettings) -> HttpLimits:
    return HttpLimits(
        ing.max_body_bytes, ing.body_timeout_seconds, ing.header_timeout_seconds,
        ing.max_connections,
    )  # fmt: skip


def build(
    settings: Settings, insecure: bool = False
) -> tuple[web.Application, web.Application, Health]:
    """(ingest app, admin app, health); refuses to run without a token unless insecure."""
    registry = CollectorRegistry()
    health = Health()
    ing = settings.ingest
    insecure = insecure or ing.insecure
    token = ing.token.get_secret_value() if ing.token else None
    if not token and not insecure:  # before connecting to anything
        raise ConfigurationError(
            "ingest needs a bearer token: set MODELMON_INGEST__TOKEN, or run it open on "
            "purpose with --insecure / MODELMON_INGEST__INSECURE=true"
        )
    producer = make_producer(settings.kafka)
    redaction = RedactionPolicy.from_settings(settings.capture)
    dead = DeadLetters(
        lambda t, k, v: producer.produce(t, key=k, value=v),
        settings.topics.deadletter, "ingest", registry,
        redact=lambda raw: redact_bytes(raw, redaction),
    )  # fmt: skip
    ingest = Ingest(
        producer, settings.topics.capture, dead, registry,
        token=token or None, insecure=insecure,
        max_body_bytes=ing.max_body_bytes, max_event_bytes=ing.max_event_bytes,
        limits=ingest_limits(ing), redaction=redaction,
        feature_names=settings.capture.feature_names,
        # the registry also names header-less CSV columns, which redaction needs
        catalog=_catalog(settings) if ing.require_registered or not redaction.empty else None,
        require_registered=ing.require_registered,
    )  # fmt: skip
    app = make_app(ingest, health, registry)
    return app, make_admin_app(health, registry), health


async def serve(settings: Settings, host: str, port: int, insecure: bool) -> None:
    app, admin, health = build(settings, insecure)
    ing = settings.ingest
    runners, ports = await start([
        Site(app, host, port, ingest_limits(ing)), Site(admin, ing.admin_host, ing.admin_port),
    ])  # fmt: skip
    log.info("ingest on %s:%d, admin on %s:%d", host, ports[0], ing.admin_host, ports[1])
    health.set_ready(True)
    await wait_for_signal()
    health.set_ready(False, "stopping")
    for runner in runners:
        await runner.cleanup()


@click.command("ingest")
@click.option("--host", default=None, help="listen address (ingest.host)")
@click.option("--port", type=int, default=None, help="listen port (ingest.port)")
@click.option(
    "--insecure", is_flag=True, default=False,
    help="run without a bearer token (ingest.insecure): anyone may POST",
)  # fmt: skip
def command(host: str | None, port: int | None, insecure: bool) -> None:
    """HTTP ingest: POST /v1/capture (JSON event, NDJSON, or SageMaker capture records)."""
    settings = Settings()
    logs.configure(settings.log_level, settings.log_json)
    try:
        asyncio.run(
            serve(
                settings, host or settings.ingest.host,
                settings.ingest.port if port is None else port, insecure,
            )
        )  # fmt: skip
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from exc
