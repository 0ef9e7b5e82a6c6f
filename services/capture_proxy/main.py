"""``modelmon run capture-proxy``: wiring and the two listeners (proxy, admin)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from modelmon.adapters.kafka import make_producer
from modelmon.capture.client import CaptureClient
from modelmon.errors import ConfigurationError
from modelmon.runtime import Listener, Runtime, WebService, service_command
from modelmon.service import DeadLetters

from .app import RUNNER_OPTIONS, CaptureProxy, make_apps
from .capture import ContentTypes

QUIET: dict[str, Any] = {"access_log": None}


def build(rt: Runtime) -> WebService:
    settings, opts, cap = rt.settings, rt.settings.capture_proxy, rt.settings.capture
    if not opts.upstream or not opts.model:
        raise ConfigurationError(
            "set the model server and model id: --upstream URL --model ID "
            "(MODELMON_CAPTURE_PROXY__UPSTREAM, MODELMON_CAPTURE_PROXY__MODEL)"
        )
    client = CaptureClient(opts.model, settings=settings, variant=opts.variant)
    producer = make_producer(settings.kafka)
    dead = DeadLetters(
        lambda t, k, v: producer.produce(t, key=k, value=v),
        settings.topics.deadletter, "capture-proxy", rt.registry,
    )  # fmt: skip
    proxy = CaptureProxy(
        opts.upstream, client, dead, rt.registry,
        types=ContentTypes(tuple(cap.csv_content_types), tuple(cap.json_content_types)),
        inference_id_header=cap.inference_id_header,
        feature_names=cap.feature_names.get(opts.model),
    )  # fmt: skip
    app, admin = make_apps(proxy, rt.health, rt.registry)

    async def flush_dead(app: web.Application) -> None:
        await asyncio.get_running_loop().run_in_executor(None, producer.flush, 10)

    app.on_cleanup.append(flush_dead)
    listeners = [
        Listener(app, opts.host, opts.port, RUNNER_OPTIONS, "proxy"),
        Listener(
            admin,
            settings.admin.host,
            settings.admin.port_of(rt.name),
            {"access_log": None},
            "admin",
        ),
    ]
    return WebService(listeners, rt.health, rt.stop)


command = service_command(
    "capture-proxy",
    build,
    admin_server=False,
    help="Reverse proxy in front of a model server; captures its JSON/CSV traffic.",
)
