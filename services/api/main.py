"""``modelmon run api``: wiring (settings, Redis, tokens) and the HTTP listener (uvicorn)."""

from __future__ import annotations

import sys

import click
from fastapi import FastAPI

from modelmon import logs
from modelmon.adapters.redis import make_redis
from modelmon.api.app import create_app
from modelmon.api.auth import TokenAuth
from modelmon.api.store import MonitorStore
from modelmon.errors import ConfigurationError
from modelmon.keys import Keys
from modelmon.service import StopFlag
from modelmon.settings import Settings


def build(settings: Settings) -> FastAPI:
    """The application for these settings; ConfigurationError when it must not start."""
    api = settings.api
    auth = TokenAuth.of(
        [t.get_secret_value() for t in api.read_tokens],
        [t.get_secret_value() for t in api.admin_tokens],
        insecure=api.insecure,
    )
    store = MonitorStore(
        make_redis(settings.redis),
        Keys(settings.redis.key_prefix),
        settings.topics.capture,
        settings.topics.capture_partitions,
    )
    return create_app(
        store, auth, max_body_bytes=api.max_body_bytes, cors_origins=api.cors_origins,
        poll_seconds=api.poll_seconds, heatmap_windows=api.heatmap_windows,
    )  # fmt: skip


@click.command("api")
@click.option("--host", default=None, help="listen address (api.host; 0.0.0.0 in a pod)")
@click.option("--port", type=int, default=None, help="listen port (api.port)")
@click.option(
    "--insecure", is_flag=True, help="serve without tokens (local use only; api.insecure)"
)
def command(host: str | None, port: int | None, insecure: bool) -> None:
    """HTTP API (/api/v1, OpenAPI at /api/v1/openapi.json) and the dashboard at /."""
    import uvicorn

    settings = Settings()
    if insecure:
        settings.api.insecure = True
    logs.configure(settings.log_level, settings.log_json)
    try:
        app = build(settings)
    except ConfigurationError as exc:
        click.echo(f"modelmon run api: {exc}", err=True)
        sys.exit(2)
    # uvicorn re-raises SIGTERM/SIGINT to the previous handlers after its graceful shutdown:
    # with a StopFlag there, a stopped API exits 0 like every other service.
    StopFlag().install()
    config = uvicorn.Config(
        app,
        host=host or settings.api.host,
        port=settings.api.port if port is None else port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    uvicorn.Server(config).run()
