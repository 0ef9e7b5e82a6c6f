"""``modelmon run capture-proxy``: wiring and the two listeners (proxy, admin)."""

from __future__ import annotations

import asyncio
import logging
import signal

import click
from aiohttp import web
from prometheus_client import CollectorRegistry

from modelmon import logs
from modelmon.adapters.kafka import make_producer
from modelmon.capture.client import CaptureClient
from modelmon.errors import ModelmonError
from modelmon.redaction import redact_bytes
from modelmon.service import DeadLetters, Health
from modelmon.settings import Settings

from .app import RUNNER_OPTIONS, CaptureProxy, make_apps
from .capture import ContentTypes

log = logging.getLogger(__name__)


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
    registry = CollectorRegistry()
    health = Health()
    names = cap.feature_names.get(model) or registered_feature_names(settings, model)
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
    )  # fmt: skip
    app, admin = make_apps(proxy, health, registry)

    async def flush_dead(app: web.Application) -> None:
        await asyncio.get_running_loop().run_in_executor(None, producer.flush, 10)

    app.on_cleanup.append(flush_dead)
    return app, admin, health


async def serve(
    app: web.Application, admin: web.Application, health: Health,
    host: str, port: int, admin_host: str, admin_port: int,
) -> None:  # fmt: skip
    runners = [web.AppRunner(app, **RUNNER_OPTIONS), web.AppRunner(admin, access_log=None)]
    for runner in runners:
        await runner.setup()
    sites = [web.TCPSite(runners[0], host, port), web.TCPSite(runners[1], admin_host, admin_port)]
    for site in sites:
        await site.start()
    ports = [s._server.sockets[0].getsockname()[1] for s in sites]  # type: ignore[union-attr]
    log.info("capture proxy on %s:%d, admin on %s:%d", host, ports[0], admin_host, ports[1])
    health.set_ready(True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
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
        )
    )  # fmt: skip
