"""The API application: routes, auth, problem bodies, request size limit and the dashboard.

``create_app`` takes its store and token check from the caller (the service's wiring, or a
test), so the whole application runs in-process against a real Redis in the tests.
"""

from __future__ import annotations

import logging
import time
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from prometheus_client import CollectorRegistry
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelmon import __version__
from modelmon.api import label_routes as _label_routes  # noqa: F401 (registers its routes)
from modelmon.api.auth import TokenAuth
from modelmon.api.captures import CaptureSource
from modelmon.api.routes import Context, router
from modelmon.api.store import MonitorStore
from modelmon.errors import ConfigurationError, DependencyUnavailableError, ModelmonError

log = logging.getLogger(__name__)

PROBLEM = "application/problem+json"
STATIC = resources.files("modelmon.api") / "static"


def problem(status: int, title: str, detail: str, errors: list[dict[str, str]] | None = None,
            headers: dict[str, str] | None = None) -> JSONResponse:  # fmt: skip
    """An RFC 9457 problem details response."""
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    body["detail"] = detail
    body["errors"] = errors or []
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(p) for p in loc)


async def _validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [{"field": _field(e["loc"]), "detail": str(e["msg"])} for e in exc.errors()]
    names = ", ".join(e["field"] for e in errors) or "request"
    return problem(422, "Invalid request", f"invalid {names}", errors)


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else "request refused"
    field = (exc.headers or {}).get("X-Problem-Field")
    headers = {k: v for k, v in (exc.headers or {}).items() if k != "X-Problem-Field"}
    if exc.status_code == 400 and not field:
        field = "body"
    errors = [{"field": field, "detail": detail}] if field else []
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(_allowed(request))
    return problem(exc.status_code, _TITLES.get(exc.status_code, "Error"), detail, errors,
                   headers or None)  # fmt: skip


_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
}


def _allowed(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette's 405 names only one route's)."""
    from starlette.routing import Match

    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


async def _modelmon(request: Request, exc: Exception) -> Response:
    if isinstance(exc, DependencyUnavailableError):
        log.warning("dependency down: %s", exc)
        return problem(503, "Dependency unavailable", str(exc), headers={"Retry-After": "5"})
    fields = getattr(exc, "fields", None)
    if isinstance(exc, ConfigurationError):
        errors = [{"field": f"body.{f}".rstrip("."), "detail": d} for f, d in fields or []]
        detail = "; ".join(f"{e['field']}: {e['detail']}" for e in errors) or str(exc)
        return problem(422, "Invalid content", detail, errors)
    log.exception("request failed")
    return problem(500, "Internal error", type(exc).__name__)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("request failed")
    return problem(500, "Internal error", type(exc).__name__)


class BodyLimit:
    """Refuses request bodies over ``limit`` bytes with 413, by header or while streaming."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(
            413, "Request too large", f"the body exceeds {self.limit} bytes",
            [{"field": "body", "detail": f"at most {self.limit} bytes"}],
        )  # fmt: skip
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass


def create_app(
    store: MonitorStore,
    auth: TokenAuth,
    *,
    max_body_bytes: int = 16 * 1024 * 1024,
    cors_origins: list[str] | None = None,
    poll_seconds: float = 5.0,
    heatmap_windows: int = 60,
    registry: CollectorRegistry | None = None,
    captures: CaptureSource | None = None,
) -> FastAPI:
    app = FastAPI(
        title="modelmon API",
        version=__version__,
        description="Models, baselines, window results, distributions, violations and alerts "
        "of a modelmon deployment. Every error is an RFC 9457 problem body.",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
    )
    app.state.ctx = Context(store, auth, heatmap_windows, captures)
    app.include_router(router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(ModelmonError, _modelmon)
    app.add_exception_handler(Exception, _unexpected)
    if cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware, allow_origins=cors_origins, allow_headers=["Authorization"]
        )
    app.add_middleware(BodyLimit, limit=max_body_bytes)
    _probes(app, store, registry or CollectorRegistry())
    _dashboard(app, poll_seconds)
    return app


def _probes(app: FastAPI, store: MonitorStore, registry: CollectorRegistry) -> None:
    """``/healthz`` (the process answers) and ``/readyz`` (Redis answers) without a token, for
    load balancers in front of the API; request latency per route goes to ``registry``, which
    the runtime's admin server exposes on ``/metrics`` (never on the API's own port)."""
    from prometheus_client import Histogram

    latency = Histogram(
        "modelmon_api_request_seconds", "API requests by route and status",
        ["route", "status"], registry=registry,
    )  # fmt: skip

    @app.middleware("http")
    async def measure(request: Request, call_next: Any) -> Response:
        started = time.perf_counter()
        response: Response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "unmatched")
        latency.labels(route, str(response.status_code)).observe(time.perf_counter() - started)
        return response

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> Response:
        return Response(b"ok\n", media_type="text/plain")

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> Response:
        if store.ping():
            return Response(b"ok\n", media_type="text/plain")
        return Response(b"redis unreachable\n", status_code=503, media_type="text/plain")


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, with every error response declared as a problem body."""
    if app.openapi_schema:
        return app.openapi_schema
    from fastapi.openapi.utils import get_openapi

    doc = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    problem_ref = {"$ref": "#/components/schemas/Problem"}
    for item in doc.get("paths", {}).values():
        for operation in item.values():
            for code, response in operation.get("responses", {}).items():
                if code[:1] in "45":
                    response["content"] = {PROBLEM: {"schema": problem_ref}}
    schemas = doc.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    app.openapi_schema = doc
    return doc


def plotly_js() -> Path:
    """plotly.min.js as shipped inside the ``plotly`` package (served locally, no CDN)."""
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def _dashboard(app: FastAPI, poll_seconds: float) -> None:
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    page = page.replace("{{POLL_MS}}", str(int(poll_seconds * 1000)))
    assets = {"app.js": "text/javascript", "app.css": "text/css"}

    @app.get("/", include_in_schema=False)
    def index() -> HTMLResponse:
        return HTMLResponse(page, headers={"Cache-Control": "no-cache"})

    @app.get("/static/plotly.min.js", include_in_schema=False)
    def plotly_asset() -> FileResponse:
        return FileResponse(plotly_js(), media_type="text/javascript")

    @app.get("/static/{name}", include_in_schema=False)
    def asset(name: str) -> Response:
        if name not in assets:
            raise HTTPException(404, f"no asset {name!r}")
        body = (STATIC / name).read_bytes()
        return Response(body, media_type=assets[name], headers={"Cache-Control": "no-cache"})
