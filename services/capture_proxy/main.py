"""``modelmon run capture-proxy``: wiring and the two listeners (proxy, admin)."""

from __future__ import annotations

import asyncio
import logging

import click
from aiohttp import web
from prometheus_client import CollectorRegistry

from modelmon import logs
from modelmon.adapters.kafka import make_producer
from modelmon.capture.client import CaptureClient
from modelmon.errors import ModelmonError
from modelmon.names import check_name
from modelmon.redaction import redact_bytes
from modelmon.service import DeadLetters, Health
from modelmon.settings import CaptureSettings, Settings

from ..web_limits import HttpLimits, Site, start, wait_for_signal
from .app import RUNNER_OPTIONS, CaptureProxy, make_apps
from .capture import ContentTypes

log = logging.getLogger(__name__)


def proxy_limits(cap: CaptureSettings) -> HttpLimits:
    return HttpLimits(
        cap.proxy_max_body_bytes, cap.proxy_body_timeout_seconds,
        cap.proxy_header_timeout_seconds, cap.proxy_max_connections,
    )  # fmt: skip


def registered_feature_names(settings: Settings, model: str) -> list[str] | None:
    """The model config's feature names from the registry (None if absent or unreachable)."""
    from modelmon.adapters.redis import make_redis
    from modelmon.keys import Keys
    from modelmon.registry import Registry

    try:
        entry = Registry(make_redis(settings.redis), Keys(settings.redis.key_prefix)).get(model)
    except ModelmonError as exc:
        log.warning("model registry unavailable, CSV columns unnamed: %s", exc)
        return None
    return [f.name for f in entry.config.features] if entry and entry.config.features else None


def build(
    settings: Settings, upstream: str, model: str, variant: str
) -> tuple[web.Application, web.Application, Health]:
    cap = settings.capture
    check_name(variant, "variant")
    registry = CollectorRegistry()
    health = Health()
    names = cap.feature_names.get(model)
    if not names and (cap.redact_drop or cap.redact_hash):  # redaction needs CSV names
        names = registered_feature_names(settings, model)
    client = CaptureClient(model, settings=settings, variant=variant, feature_names=names)
    producer = make_producer(settings.kafka)
    dead = DeadLetters(
        lambda t, k, v: producer.produce(t, key=k, value=v),
        settings.topics.deadletter,
        "capture-proxy",
        registry,
        redact=lambda raw: redact_bytes(raw, client.redaction, client.feature_names),
    )
    proxy = CaptureProxy(
        upstream, client, dead, registry,
        types=ContentTypes(tuple(cap.csv_content_types), tuple(cap.json_content_types)),
        inference_id_header=cap.inference_id_header,
        feature_names=names,
        limits=proxy_limits(cap),
        max_decompressed_bytes=cap.max_decompressed_bytes,
    )  # fmt: skip
    app, admin = make_apps(proxy, health, registry)

    async def flush_dead(app: web.Application) -> None:
        await asyncio.get_running_loop().run_in_executor(None, producer.flush, 10)

    app.on_cleanup.append(flush_dead)
    return app, admin, health


async def serve(
    app: web.Application, admin: web.Application, health: Health,
    host: str, port: int, admin_host: str, admin_port: int, limits: HttpLimits | None = None,
) -> None:  # fmt: skip
    runners, ports = await start([
        Site(app, host, port, limits, RUNNER_OPTIONS), Site(admin, admin_host, admin_port),
    ])  # fmt: skip
    log.info("capture proxy on %s:%d, admin on %s:%d", host, ports[0], admin_host, ports[1])
    health.set_ready(True)
    await wait_for_signal()
    health.set_ready(False, "stopping")
    for runner in runners:
        await runner.cleanup()


@click.command("capture-proxy")
@click.option("--upstream", required=True, help="the model server, e.g. http://127.0.0.1:8000")
@click.option("--model", "model", required=True, help="model id of the captured events")
@click.option("--variant", default="AllTraffic", show_default=True)
@click.option("--host", default=None, help="listen address (capture.proxy_host)")
@click.option("--port", type=int, default=None, help="proxy port (capture.proxy_port)")
@click.option("--admin-host", default=None, help="admin address (capture.proxy_admin_host)")
@click.option("--admin-port", type=int, default=None, help="/healthz /readyz /metrics port")
def command(
    upstream: str, model: str, variant: str, host: str | None, port: int | None,
    admin_host: str | None, admin_port: int | None,
) -> None:  # fmt: skip
    """Reverse proxy in front of a model server; captures its JSON/CSV traffic."""
    settings = Settings()
    logs.configure(settings.log_level, settings.log_json)
    cap = settings.capture
    app, admin, health = build(settings, upstream, model, variant)
    asyncio.run(
        serve(
            app, admin, health, host or cap.proxy_host,
            cap.proxy_port if port is None else port, admin_host or cap.proxy_admin_host,
            cap.proxy_admin_port if admin_port is None else admin_port,
            proxy_limits(cap),
        )
    )  # fmt: skip
