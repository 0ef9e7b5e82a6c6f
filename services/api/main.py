"""``modelmon run api``: wiring on the service runtime (settings, Redis, tokens) and uvicorn.

The runtime's admin server (``admin.host``:``admin.port``, 9104 by default) serves
``/healthz`` ``/readyz`` ``/metrics``: ready while uvicorn listens and Redis answers. SIGTERM
sets the runtime's stop flag and uvicorn then shuts down gracefully.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from modelmon.adapters.redis import make_redis
from modelmon.adapters.results_tier import durable_results
from modelmon.api.app import create_app
from modelmon.api.auth import TokenAuth
from modelmon.api.captures import CaptureSource
from modelmon.api.store import MonitorStore
from modelmon.archive.codec import load_key
from modelmon.archive.store import open_store
from modelmon.keys import Keys
from modelmon.runtime import Runtime, service_command
from modelmon.service import Health, StopFlag
from modelmon.settings import Settings


class _Server(uvicorn.Server):
    """uvicorn without signal handlers of its own: the runtime's stop flag ends it."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class ApiService:
    """The ASGI application under uvicorn until the stop flag is set."""

    def __init__(
        self, app: FastAPI, host: str, port: int, health: Health, stop: StopFlag,
        store: MonitorStore,
    ) -> None:  # fmt: skip
        self.store = store
        config = uvicorn.Config(
            app, host=host, port=port, log_config=None, access_log=False,
            timeout_graceful_shutdown=5,
        )  # fmt: skip
        self.server = _Server(config)
        self.health, self.stop = health, stop

    def run(self) -> None:
        watcher = threading.Thread(target=self._watch, name="api-stop", daemon=True)
        watcher.start()
        self.server.run()

    def _watch(self) -> None:
        """Readiness: uvicorn listens and Redis answers (checked every 2 s); then the stop."""
        checked = 0.0
        while not self.stop.wait(0.2):
            now = time.monotonic()
            if self.server.started and now - checked >= 2.0:
                checked = now
                if self.store.ping():
                    self.health.set_ready(True)
                else:
                    self.health.set_ready(False, "redis unreachable")
        self.health.set_ready(False, "stopping")
        self.server.should_exit = True


def _captures(settings: Settings) -> CaptureSource:
    """The archive the archiver writes (``archiver.destination``), read with its key."""
    store, prefix = open_store(settings, settings.archiver.destination)
    enc = settings.archiver.encryption_key
    key = load_key(enc.get_secret_value()) if enc else None
    return CaptureSource(store, prefix, key, settings.capture.feature_names)


def build(rt: Runtime) -> ApiService:
    """The API for these settings; ConfigurationError (no tokens, not --insecure) stops it."""
    api, settings = rt.settings.api, rt.settings
    auth = TokenAuth.of(
        [t.get_secret_value() for t in api.read_tokens],
        [t.get_secret_value() for t in api.admin_tokens],
        insecure=api.insecure,
    )
    store = MonitorStore(
        make_redis(settings.redis), Keys(settings.redis.key_prefix),
        settings.topics.capture, settings.topics.capture_partitions,
        durable=durable_results(settings),  # issue 23: results older than Redis holds
    )  # fmt: skip
    app = create_app(
        store, auth, max_body_bytes=api.max_body_bytes, cors_origins=api.cors_origins,
        poll_seconds=api.poll_seconds, heatmap_windows=api.heatmap_windows,
        registry=rt.registry, captures=_captures(settings),
    )  # fmt: skip
    return ApiService(app, api.host, api.port, rt.health, rt.stop, store)


command = service_command(
    "api", build,
    help="HTTP API (/api/v1, OpenAPI at /api/v1/openapi.json) and the dashboard at /.",
)  # fmt: skip
