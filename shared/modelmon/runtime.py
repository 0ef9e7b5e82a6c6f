"""One way to run any service: settings, logging, signals, metrics, admin server, graceful stop.

A service's entry file is wiring only. A new service ``example`` (settings section
``ExampleSettings`` added to ``Settings`` as ``example``, its admin port in ``ADMIN_PORTS``)::

    # services/example/__init__.py
    from modelmon.runtime import Runtime, service_command

    def build(rt: Runtime) -> "Example":
        from modelmon.adapters.kafka import make_consumer
        from .service import Example  # has .health and run(), which returns once rt.stop is set

        opts = rt.settings.example  # MODELMON_EXAMPLE__GROUP=... or --group ...
        consumer = make_consumer(rt.settings.kafka, opts.group)
        return Example(consumer, rt.registry, rt.stop, rt.health)

    command = service_command("example", build, help="Do the example thing.")

``modelmon run example`` then reads ``Settings`` (flags generated from ``ExampleSettings``
override it), configures logging, installs SIGTERM/SIGINT on ``rt.stop``, gives the service a
metrics registry that already holds the process, platform and GC collectors, serves
``/healthz`` ``/readyz`` ``/metrics`` on ``admin.host``:``admin.port`` and, when ``run()``
returns, marks the service not ready and stops the admin server. An HTTP service returns a
``WebService`` (its listeners, served until ``rt.stop``) and may serve the admin endpoints on
its own listener (``admin_server=False``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import click
from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector

from modelmon import logs
from modelmon.errors import ConfigurationError
from modelmon.flags import apply_flags, load_settings, options_of
from modelmon.service import AdminServer, Health, StopFlag
from modelmon.settings import ADMIN_PORTS, Settings

if TYPE_CHECKING:
    from aiohttp import web

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Runtime:
    """What the runtime hands a service's ``build``."""

    name: str
    settings: Settings
    registry: CollectorRegistry
    stop: StopFlag
    health: Health


class Service(Protocol):
    """A built service: its health flags and a loop that returns once ``stop`` is set."""

    @property
    def health(self) -> Health: ...

    def run(self) -> None: ...


Build = Callable[[Runtime], Service]


def metrics_registry() -> CollectorRegistry:
    """A registry of the service's own (never the global one) with the process collectors."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


def run_service(name: str, settings: Settings, build: Build, *, admin_server: bool = True) -> None:
    """Run the service ``build`` makes until SIGTERM/SIGINT; see the module docstring."""
    logs.configure(settings.log_level, settings.log_json)
    rt = Runtime(name, settings, metrics_registry(), StopFlag().install(), Health())
    try:
        service = build(rt)
    except ConfigurationError as exc:
        raise click.ClickException(f"{name}: {exc}") from exc
    server = None
    if admin_server:
        port = settings.admin.port_of(name)
        server = AdminServer(service.health, rt.registry, settings.admin.host, port).start()
    log.info("%s started", name)
    try:
        service.run()
    finally:
        service.health.set_ready(False, "stopping")
        if server is not None:
            server.stop()
        log.info("%s stopped", name)


def service_command(
    name: str, build: Build, *, help: str, admin_server: bool = True
) -> click.Command:
    """``modelmon run NAME``: flags generated from ``Settings.<name>`` and, for a service with
    an admin port (``ADMIN_PORTS``), ``admin``. ``admin_server=False``: the service serves the
    admin endpoints itself (on a listener of its own)."""
    section = name.replace("-", "_")
    params: list[click.Parameter] = []
    if section in Settings.model_fields:
        params += options_of(section)
    if name in ADMIN_PORTS:
        params += options_of("admin", prefix="admin-")

    def callback(**values: Any) -> None:
        run_service(name, apply_flags(load_settings(), values), build, admin_server=admin_server)

    return click.Command(name, callback=callback, params=params, help=help)


@dataclass
class Listener:
    """An aiohttp application and where it listens."""

    app: web.Application
    host: str
    port: int
    runner_options: dict[str, Any] = field(default_factory=dict)
    name: str = "http"
    max_connections: int | None = None  # more are closed at once (modelmon.http_limits)


class WebService:
    """HTTP listeners served until ``stop`` is set; ready once every one listens."""

    def __init__(self, listeners: list[Listener], health: Health, stop: StopFlag) -> None:
        self.listeners, self.health, self.stop = listeners, health, stop

    def run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        from aiohttp import web

        runners = [web.AppRunner(s.app, **s.runner_options) for s in self.listeners]
        try:
            for runner, spec in zip(runners, self.listeners, strict=True):
                await runner.setup()
                if spec.max_connections is not None and runner.server is not None:
                    from modelmon.http_limits import limit_connections

                    limit_connections(runner.server, spec.max_connections)
                site = web.TCPSite(runner, spec.host, spec.port)
                await site.start()
                bound = site._server.sockets[0].getsockname()  # type: ignore[union-attr]
                log.info("listening on %s:%d", bound[0], bound[1], extra={"app": spec.name})
            self.health.set_ready(True)
            while not self.stop.is_set():  # SIGTERM sets it from the signal handler
                await asyncio.sleep(0.2)
            self.health.set_ready(False, "stopping")
        finally:
            for runner in runners:
                await runner.cleanup()


@dataclass
class Loop:
    """A service whose loop takes the stop flag as an argument (``run(stop)``)."""

    health: Health
    loop: Callable[[StopFlag], None]
    stop: StopFlag

    def run(self) -> None:
        self.loop(self.stop)
