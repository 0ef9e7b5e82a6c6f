"""The ingest application: auth, limits, parse, produce (waiting for Kafka's ack), answer."""

from __future__ import annotations

import asyncio
import hmac
import logging
import threading
import time
from dataclasses import replace
from typing import Any

from aiohttp import web
from confluent_kafka import KafkaException, Producer
from prometheus_client import CollectorRegistry, Counter

from modelmon.errors import ConfigurationError, TransientError
from modelmon.http_limits import ClientGone, HttpLimits, gone_quietly, read_body
from modelmon.limits import EventTimeBounds
from modelmon.lograte import RateLimitedLog
from modelmon.redaction import RedactionPolicy, UnredactableError, redact_event
from modelmon.registry import ModelCatalog
from modelmon.service import DeadLetters, Health, admin_routes

from .guard import dead_letter_capped, parse_off_loop
from .parse import LineError

log = logging.getLogger(__name__)
MAX_ERRORS = 20


def error(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


class Ingest:
    """``POST /v1/capture``: 202 once every event is acknowledged by Kafka."""

    def __init__(
        self,
        producer: Producer,
        topic: str,
        dead_letters: DeadLetters,
        registry: CollectorRegistry,
        *,
        token: str | None,
        max_body_bytes: int,
        max_event_bytes: int,
        redaction: RedactionPolicy,
        feature_names: dict[str, list[str]] | None = None,
        catalog: ModelCatalog | None = None,
        require_registered: bool = True,
        ack_timeout: float = 30.0,
        insecure: bool = False,
        limits: HttpLimits | None = None,
        bounds: EventTimeBounds | None = None,
    ) -> None:
        if not token and not insecure:
            raise ConfigurationError(
                "ingest needs a bearer token: set MODELMON_INGEST__TOKEN, or run it open on "
                "purpose with --insecure / MODELMON_INGEST__INSECURE=true"
            )
        self.bounds = bounds  # issue 19: event-time horizons (main.py: the settings' limits)
        self._warnings = RateLimitedLog(log)  # issue 19: a repeated warning, not a flood
        self.producer, self.topic, self.dead_letters = producer, topic, dead_letters
        self.token = token.encode() if token else None
        self.max_body_bytes, self.max_event_bytes = max_body_bytes, max_event_bytes
        self.limits = replace(limits or HttpLimits(), max_body_bytes=max_body_bytes)
        self.redaction = redaction
        self.feature_names = feature_names or {}
        self.catalog = catalog
        self.require_registered = require_registered and catalog is not None
        self.ack_timeout = ack_timeout
        self.requests = Counter(
            "modelmon_ingest_requests", "Ingest requests", ["status"], registry=registry
        )
        self.accepted = Counter("modelmon_ingest_events", "Events accepted", registry=registry)
        self.rejected = Counter(
            "modelmon_ingest_rejected_documents", "Documents rejected", registry=registry
        )
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="ingest-poll", daemon=True)

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.producer.poll(0.1)

    async def start(self, app: web.Application) -> None:
        self._poller.start()
        if self.token is None:
            log.warning(
                "INSECURE: ingest authentication is OFF (--insecure): anyone who reaches this "
                "port can write capture events; set MODELMON_INGEST__TOKEN to require a token"
            )

    async def stop(self, app: web.Application) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.producer.flush, 10)
        self._stop.set()

    def _authorized(self, request: web.Request) -> bool:
        if self.token is None:
            return True
        given = request.headers.get("Authorization", "")
        scheme, _, value = given.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            value.strip().encode(), self.token
        )

    async def handle(self, request: web.Request) -> web.Response:
        response = await self._handle(request)
        self.requests.labels(str(response.status)).inc()
        return response

    async def _handle(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            resp = error(401, "missing or wrong bearer token (Authorization: Bearer <token>)")
            resp.headers["WWW-Authenticate"] = 'Bearer realm="modelmon"'
            return resp
        try:
            body = await read_body(request, self.limits)
        except ClientGone as exc:
            return gone_quietly(exc)
        if isinstance(body, web.Response):
            return body
        if not body.strip():
            return error(400, "empty body: send one JSON event or NDJSON lines")
        names = await self._feature_names()
        parsed = await parse_off_loop(  # issue 19: a large body never stalls the event loop
            body, request.headers.get("Content-Type", "application/json"),
            model=request.query.get("model"), variant=request.query.get("variant", "AllTraffic"),
            feature_names=names, max_event_bytes=self.max_event_bytes,
        )  # fmt: skip
        if self.catalog is not None and self.require_registered:
            parsed.reject_unknown(self.catalog.models)
        if self.bounds is not None:  # issue 19
            parsed.reject_out_of_bounds(self.bounds, int(time.time() * 1000))
        parsed.events = self._redacted(parsed, names)
        if parsed.errors:
            self.rejected.inc(len(parsed.errors))
            dead_letter_capped(self.dead_letters, parsed.errors)  # issue 19: capped per request
            return error(
                400,
                f"{len(parsed.errors)} of {parsed.documents} documents invalid; nothing accepted",
                errors=[{"line": e.line, "error": e.error} for e in parsed.errors[:MAX_ERRORS]],
            )
        return await self._produce([e for _, e in parsed.events], parsed.documents)

    def _redacted(self, parsed: Any, names: dict[str, list[str]]) -> list[Any]:
        """The parsed events redacted; an event that cannot be becomes its line's error."""
        kept = []
        for line, event in parsed.events:
            try:
                kept.append((line, redact_event(event, self.redaction, names.get(event.model_id))))
            except UnredactableError as exc:
                parsed.errors.append(LineError(line, str(exc), parsed.raw.get(line, b"")))
        bad = {e.line for e in parsed.errors}
        parsed.errors.sort(key=lambda e: e.line)
        return [(ln, e) for ln, e in kept if ln not in bad]

    async def _feature_names(self) -> dict[str, list[str]]:
        """CSV column names: settings first, else the registered config's feature list."""
        if self.catalog is None:
            return self.feature_names
        try:
            await asyncio.get_running_loop().run_in_executor(None, self.catalog.refresh)
        except TransientError as exc:
            log.warning("model registry unavailable, using the last copy: %s", exc)
        registered = {
            m: [f.name for f in entry.config.features]
            for m, entry in self.catalog.models.items()
            if entry.config.features
        }
        return {**registered, **self.feature_names}

    async def _produce(self, events: list[Any], documents: int) -> web.Response:
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[None]] = []
        try:
            for event in events:
                fut: asyncio.Future[None] = loop.create_future()
                self.producer.produce(
                    self.topic, event.model_dump_json(exclude_none=True).encode(),
                    event.model_id.encode(), on_delivery=_resolver(loop, fut),
                )  # fmt: skip
                futures.append(fut)
            await asyncio.wait_for(asyncio.gather(*futures), self.ack_timeout)
        except (BufferError, KafkaException, TimeoutError) as exc:
            self._warnings.warn(
                "kafka", time.monotonic(), "ingest could not write to Kafka: %s", exc
            )
            resp = error(503, f"Kafka unavailable, retry later: {exc or type(exc).__name__}")
            resp.headers["Retry-After"] = "5"
            return resp
        self.accepted.inc(len(events))
        return web.json_response(
            {"accepted": len(events), "documents": documents,
             "event_ids": [e.event_id for e in events]},
            status=202,
        )  # fmt: skip


def _resolver(loop: asyncio.AbstractEventLoop, fut: asyncio.Future[None]) -> Any:
    def done(err: Any, msg: Any) -> None:
        loop.call_soon_threadsafe(_settle, fut, err)

    return done


def _settle(fut: asyncio.Future[None], err: Any) -> None:
    if fut.done():
        return
    if err is None:
        fut.set_result(None)
    else:
        fut.set_exception(KafkaException(err))


def make_app(
    ingest: Ingest,
    health: Health,
    registry: CollectorRegistry,
    labels_topic: str = "modelmon.labels.v1",
) -> web.Application:
    from .labels import LabelIngest

    app = web.Application(client_max_size=ingest.max_body_bytes)
    app.on_startup.append(ingest.start)
    app.on_cleanup.append(ingest.stop)
    app.router.add_post("/v1/capture", ingest.handle)
    app.router.add_post("/v1/labels", LabelIngest(ingest, labels_topic).handle)
    app.add_routes(probe_routes(health, registry))
    return app


def probe_routes(health: Health, registry: CollectorRegistry) -> list[Any]:
    """/healthz and /readyz (unauthenticated, no data): /metrics is on the admin port only."""
    return [r for r in admin_routes(health, registry) if r.path != "/metrics"]


def make_admin_app(health: Health, registry: CollectorRegistry) -> web.Application:
    """/healthz /readyz /metrics on their own port (``ingest.admin_port``)."""
    admin = web.Application()
    admin.add_routes(admin_routes(health, registry))
    return admin
