"""``modelmon run capture-proxy``: wiring and the two listeners (proxy, admin)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry

from modelmon.adapters.kafka import make_producer
from modelmon.capture.client import CaptureClient
from modelmon.errors import ConfigurationError, ModelmonError
from modelmon.http_limits import HttpLimits, listener_options
from modelmon.names import check_name
from modelmon.redaction import redact_bytes
from modelmon.runtime import Listener, Runtime, WebService, service_command
from modelmon.service import DeadLetters, Health
from modelmon.settings import CaptureProxySettings, Settings

from .app import RUNNER_OPTIONS, CaptureProxy, make_apps
from .capture import ContentTypes

log = logging.getLogger(__name__)
QUIET: dict[str, Any] = {"access_log": None}


def proxy_limits(opts: CaptureProxySettings) -> HttpLimits:
    return HttpLimits(
        opts.max_body_bytes, opts.body_timeout_seconds, opts.header_timeout_seconds,
        opts.max_connections,
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


def make(
    settings: Settings, registry: CollectorRegistry, health: Health
) -> tuple[web.Application, web.Application]:
    """(proxy app, admin app) for ``settings.capture_proxy`` (upstream and model required)."""
    opts, cap = settings.capture_proxy, settings.capture
    if not opts.upstream or not opts.model:
        raise ConfigurationError(
            "set the model server and model id: --upstream URL --model ID "
            "(MODELMON_CAPTURE_PROXY__UPSTREAM, MODELMON_CAPTURE_PROXY__MODEL)"
        )
    check_name(opts.variant, "variant")
    names = cap.feature_names.get(opts.model)
    if not names and (cap.redact_drop or cap.redact_hash):  # redaction needs CSV names
        names = registered_feature_names(settings, opts.model)
    client = CaptureClient(opts.model, settings=settings, variant=opts.variant, feature_names=names)
    producer = make_producer(settings.kafka)
    dead = DeadLetters(
        lambda t, k, v: producer.produce(t, key=k, value=v),
        settings.topics.deadletter, "capture-proxy", registry,
        redact=lambda raw: redact_bytes(raw, client.redaction, client.feature_names),
    )  # fmt: skip
    proxy = CaptureProxy(
        opts.upstream, client, dead, registry,
        types=ContentTypes(tuple(cap.csv_content_types), tuple(cap.json_content_types)),
        inference_id_header=cap.inference_id_header, feature_names=names,
        limits=proxy_limits(opts), max_decompressed_bytes=opts.max_decompressed_bytes,
    )  # fmt: skip
    app, admin = make_apps(proxy, health, registry)

    async def flush_dead(app: web.Application) -> None:
        await asyncio.get_running_loop().run_in_executor(None, producer.flush, 10)

    app.on_cleanup.append(flush_dead)
    return app, admin


def build(rt: Runtime) -> WebService:
    settings, opts = rt.settings, rt.settings.capture_proxy
    app, admin = make(settings, rt.registry, rt.health)
    limits = proxy_limits(opts)
    listeners = [
        Listener(
            app, opts.host, opts.port, RUNNER_OPTIONS | listener_options(limits), "proxy",
            max_connections=limits.max_connections,
        ),
        Listener(
            admin, settings.admin.host, settings.admin.port_of(rt.name), QUIET, "admin",
        ),
    ]  # fmt: skip
    return WebService(listeners, rt.health, rt.stop)


command = service_command(
    "capture-proxy",
    build,
    admin_server=False,
    help="Reverse proxy in front of a model server; captures its JSON/CSV traffic.",
)
