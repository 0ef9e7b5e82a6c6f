"""Small pieces every service needs: health/readiness, a metrics endpoint, SIGTERM, dead letters.

- ``Health``: liveness/readiness flags that ``/healthz`` and ``/readyz`` report.
- ``AdminServer``: ``/healthz``, ``/readyz`` and ``/metrics`` (Prometheus) on their own port,
  in a daemon thread, for services with a blocking loop (archiver, aggregator, detector).
  Async services mount the same handlers in aiohttp with ``admin_routes``.
- ``StopFlag``: SIGTERM/SIGINT set a flag the run loop polls; it never raises in the loop.
- ``DeadLetters``: produces ``DeadLetterRecord``s to ``modelmon.deadletter.v1`` and counts them.

Metrics go to a ``CollectorRegistry`` owned by the service instance (never the global one),
so several services or test instances can live in one process.
"""

from __future__ import annotations

import base64
import logging
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest

from modelmon.events import DeadLetterRecord

log = logging.getLogger(__name__)


class Health:
    """Liveness and readiness of a service, as probes see them."""

    def __init__(self) -> None:
        self.alive = True
        self.ready = False
        self.detail = "starting"

    def set_ready(self, ready: bool, detail: str = "") -> None:
        self.ready = ready
        self.detail = detail or ("ready" if ready else "not ready")

    def probe(self, path: str) -> tuple[int, bytes]:
        """(status, body) for ``/healthz`` or ``/readyz``."""
        ok = self.alive if path == "/healthz" else self.ready
        body = b"ok\n" if ok else (self.detail or "not ready").encode() + b"\n"
        return (200 if ok else 503), body


def render_metrics(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)


class _Handler(BaseHTTPRequestHandler):
    health: Health
    registry: CollectorRegistry

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path in ("/healthz", "/readyz"):
            status, body, ctype = *self.health.probe(path), "text/plain; charset=utf-8"
        elif path == "/metrics":
            status, body, ctype = 200, render_metrics(self.registry), CONTENT_TYPE_LATEST
        else:
            status, body, ctype = 404, b"not found\n", "text/plain; charset=utf-8"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Probes are frequent: no access log."""


class AdminServer:
    """``/healthz``, ``/readyz``, ``/metrics`` on ``host:port`` in a daemon thread.

    ``host`` defaults to loopback; in a cluster bind ``0.0.0.0`` (each service's
    ``--admin-host``) so kubelet probes and Prometheus can reach it.
    """

    def __init__(
        self, health: Health, registry: CollectorRegistry, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        handler = type("AdminHandler", (_Handler,), {"health": health, "registry": registry})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="admin-http", daemon=True
        )

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> AdminServer:
        self._thread.start()
        log.info("admin endpoints on %s:%d (/healthz /readyz /metrics)", self.host, self.port)
        return self

    def stop(self) -> None:
        if self._thread.is_alive():  # shutdown() waits for serve_forever: never if not started
            self._server.shutdown()
            self._thread.join(5)
        self._server.server_close()


class StopFlag:
    """Set by SIGTERM/SIGINT (or ``set()``); the run loop checks ``is_set()`` between batches."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def install(self) -> StopFlag:
        """Install handlers; only possible from the main thread (entry points)."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        return self

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        self._event.set()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float) -> bool:
        return self._event.wait(timeout)


def dead_letter_record(
    *,
    service: str,
    original: bytes,
    error: BaseException,
    failed_at: datetime,
    model_id: str | None = None,
    source: tuple[str, int, int] | None = None,
) -> DeadLetterRecord:
    """A dead-letter record (pure): the reason is the error's message, bytes kept as base64."""
    topic, partition, offset = source if source else (None, None, None)
    return DeadLetterRecord(
        model_id=model_id,
        service=service,
        reason=str(error) or type(error).__name__,
        error_type=type(error).__name__,
        source_topic=topic,
        source_partition=partition,
        source_offset=offset,
        original=base64.b64encode(original).decode("ascii"),
        failed_at=failed_at,
    )


#: Redacts dead-lettered bytes (``modelmon.redaction.redact_bytes`` with a policy); None
#: when they cannot be redacted, and then the record carries none of them.
RedactFn = Callable[[bytes], bytes | None]
WITHHELD = " [original withheld: it could not be redacted]"

#: Produces one message: (topic, key, value). A confluent-kafka Producer's bound ``produce``
#: fits (``lambda t, k, v: producer.produce(t, key=k, value=v)``).
ProduceFn = Callable[[str, bytes | None, bytes], None]


class DeadLetters:
    """Sends bad input to the dead-letter topic and counts it per service and error type."""

    def __init__(
        self,
        produce: ProduceFn,
        topic: str,
        service: str,
        registry: CollectorRegistry,
        *,
        redact: RedactFn | None = None,
    ) -> None:
        self._produce = produce
        self._redact = redact
        self.topic = topic
        self.service = service
        self.counter = Counter(
            "modelmon_dead_letters",
            "Inputs sent to the dead-letter topic",
            ["service", "error_type"],
            registry=registry,
        )

    def send(
        self,
        original: bytes,
        error: BaseException,
        *,
        model_id: str | None = None,
        source: tuple[str, int, int] | None = None,
    ) -> DeadLetterRecord:
        redacted = original if self._redact is None else self._redact(original)
        record = dead_letter_record(
            service=self.service,
            original=redacted or b"",
            error=error,
            failed_at=datetime.now(UTC),
            model_id=model_id,
            source=source,
        )
        if redacted is None:
            record = record.model_copy(update={"reason": record.reason + WITHHELD})
        key = model_id.encode() if model_id else None
        self._produce(self.topic, key, record.model_dump_json().encode())
        self.counter.labels(self.service, record.error_type).inc()
        log.warning(
            "dead-lettered input: %s",
            record.reason,
            extra={"model": model_id, "error_type": record.error_type, "source": source},
        )
        return record


def admin_routes(health: Health, registry: CollectorRegistry, prefix: str = "") -> list[Any]:
    """The same three endpoints as aiohttp routes (``app.add_routes(admin_routes(...))``)."""
    from aiohttp import web

    async def probe(request: web.Request) -> web.Response:
        status, body = health.probe("/" + request.path.rsplit("/", 1)[-1])
        return web.Response(status=status, body=body, content_type="text/plain")

    async def metrics(request: web.Request) -> web.Response:
        body = render_metrics(registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    return [
        web.get(f"{prefix}/healthz", probe),
        web.get(f"{prefix}/readyz", probe),
        web.get(f"{prefix}/metrics", metrics),
    ]
