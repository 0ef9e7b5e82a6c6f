"""The proxy's aiohttp application: forward unchanged, answer unchanged, capture afterwards."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from prometheus_client import CollectorRegistry, Counter, Histogram

from modelmon.capture.client import CaptureClient
from modelmon.capture.metrics import register_drop_counter
from modelmon.errors import PermanentError
from modelmon.http_limits import ClientGone, HttpLimits, gone_quietly, read_body
from modelmon.redaction import redact_event
from modelmon.service import DeadLetters, Health, admin_routes

from .capture import MAX_DECOMPRESSED, ContentTypes, Exchange, exchange_events

log = logging.getLogger(__name__)

#: RFC 7230 hop-by-hop headers, plus the ones aiohttp recomputes for the body it sends.
HOP_BY_HOP = frozenset(
    h.lower()
    for h in (
        "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "TE",
        "Trailer", "Trailers", "Transfer-Encoding", "Upgrade", "Proxy-Connection",
        "Content-Length", "Host",
    )
)  # fmt: skip
_AUTO = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")


def forwardable(headers: Any) -> CIMultiDict[str]:
    """Headers minus hop-by-hop ones (and those named in ``Connection``)."""
    named = {h.strip().lower() for h in headers.get("Connection", "").split(",") if h.strip()}
    return CIMultiDict((k, v) for k, v in headers.items() if k.lower() not in HOP_BY_HOP | named)


class ProxyMetrics:
    def __init__(self, registry: CollectorRegistry, client: CaptureClient) -> None:
        self.requests = Counter(
            "modelmon_proxy_requests", "Requests proxied", ["status"], registry=registry
        )
        self.unreachable = Counter(
            "modelmon_proxy_upstream_unreachable", "Upstream unreachable (502)", registry=registry
        )
        self.latency = Histogram(
            "modelmon_proxy_upstream_seconds", "Upstream response time", registry=registry
        )
        self.captured = Counter(
            "modelmon_proxy_captured_events", "Events captured", registry=registry
        )
        self.skipped = Counter(
            "modelmon_proxy_uncaptured_requests",
            "Requests not captured (content type not configured)",
            registry=registry,
        )
        self.capture_errors = Counter(
            "modelmon_proxy_capture_errors", "Capture failures (request served)", registry=registry
        )
        register_drop_counter(client, registry)


class CaptureProxy:
    """Forwards every request to ``upstream`` and captures configured content types."""

    def __init__(
        self,
        upstream: str,
        client: CaptureClient,
        dead_letters: DeadLetters,
        registry: CollectorRegistry,
        *,
        types: ContentTypes,
        inference_id_header: str = "X-Inference-Id",
        feature_names: Sequence[str] | None = None,
        timeout: float = 60.0,
        limits: HttpLimits | None = None,
        max_decompressed_bytes: int = MAX_DECOMPRESSED,
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.client, self.dead_letters = client, dead_letters
        self.types = types
        self.inference_id_header = inference_id_header
        self.feature_names = list(feature_names or [])
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.limits = limits or HttpLimits()
        self.max_decompressed_bytes = max_decompressed_bytes
        self.metrics = ProxyMetrics(registry, client)
        self.session: aiohttp.ClientSession | None = None

    async def start(self, app: web.Application) -> None:
        self.session = aiohttp.ClientSession(
            auto_decompress=False,
            timeout=self.timeout,
            connector=aiohttp.TCPConnector(limit=0, force_close=False),
        )

    async def stop(self, app: web.Application) -> None:
        if self.session is not None:
            await self.session.close()
        await asyncio.get_running_loop().run_in_executor(None, self.client.close)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await read_body(request, self.limits)
        except ClientGone as exc:
            return gone_quietly(exc)
        if isinstance(body, web.Response):
            self.metrics.requests.labels(str(body.status)).inc()
            return body
        headers = forwardable(request.headers)
        skip = [h for h in _AUTO if h not in request.headers]
        assert self.session is not None
        started = time.perf_counter()
        try:
            async with self.session.request(
                request.method, self.upstream + request.rel_url.raw_path_qs,
                headers=headers, data=body if body else None, allow_redirects=False,
                skip_auto_headers=skip,
            ) as upstream:  # fmt: skip
                answer = await self._read_answer(upstream)
                status, reason, up_headers = upstream.status, upstream.reason, upstream.headers
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.metrics.unreachable.inc()
            self.metrics.requests.labels("502").inc()
            log.warning("upstream unreachable: %s", exc)
            return web.json_response(
                {"error": "upstream unreachable", "detail": str(exc)}, status=502
            )
        latency = time.perf_counter() - started
        self.metrics.latency.observe(latency)
        self.metrics.requests.labels(str(status)).inc()
        exchange = Exchange(
            request.headers.get("Content-Type"), body, up_headers.get("Content-Type"), answer,
            status, latency * 1000.0, request.headers.get(self.inference_id_header),
            datetime.now(UTC), request.path, request.headers.get("Content-Encoding"),
            up_headers.get("Content-Encoding"),
        )  # fmt: skip
        asyncio.get_running_loop().call_soon(self.capture, exchange)
        response = web.Response(
            status=status, reason=reason, body=answer, headers=forwardable(up_headers)
        )
        return response

    async def _read_answer(self, upstream: aiohttp.ClientResponse) -> bytes:
        """The upstream body within the body cap (a bigger one is a ClientError: 502)."""
        limit = self.limits.max_body_bytes
        chunks, size = [], 0
        async for chunk in upstream.content.iter_any():
            size += len(chunk)
            if size > limit:
                raise aiohttp.ClientPayloadError(f"upstream response exceeds {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def capture(self, exchange: Exchange) -> None:
        """Runs after the response is handed back; never raises."""
        try:
            events = exchange_events(
                exchange, model_id=self.client.model_id, variant=self.client.variant,
                types=self.types, feature_names=self.feature_names,
                max_decompressed=self.max_decompressed_bytes,
            )  # fmt: skip
            if not events:
                self.metrics.skipped.inc()
            for event in events:
                event = redact_event(event, self.client.redaction, self.feature_names)
                if self.client.capture_event(event):
                    self.metrics.captured.inc()
        except PermanentError as exc:
            self.metrics.capture_errors.inc()
            try:
                self.dead_letters.send(exchange.request_body, exc, model_id=self.client.model_id)
            except Exception:
                log.exception("dead-letter failed")
        except Exception:
            self.metrics.capture_errors.inc()
            log.exception("capture failed")


#: Runner options for the proxy app: request bodies are forwarded exactly as received.
RUNNER_OPTIONS: dict[str, Any] = {"access_log": None, "auto_decompress": False}


def make_apps(
    proxy: CaptureProxy, health: Health, registry: CollectorRegistry
) -> tuple[web.Application, web.Application]:
    """(proxy app: every path forwarded, admin app: /healthz /readyz /metrics)."""
    app = web.Application(client_max_size=proxy.limits.max_body_bytes)
    app.on_startup.append(proxy.start)
    app.on_cleanup.append(proxy.stop)
    app.router.add_route("*", "/{tail:.*}", proxy.handle)
    admin = web.Application()
    admin.add_routes(admin_routes(health, registry))
    return app, admin
