"""The ``/api/v1`` routes. Each one reads through ``MonitorStore`` and answers a model from
``modelmon.api.schema`` built by the pure functions of ``modelmon.api.views``."""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Depends, Path, Query, Request, Security
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from modelmon.api import schema as s
from modelmon.api import views
from modelmon.api.auth import Role, TokenAuth
from modelmon.api.captures import CaptureSource, recent_captures
from modelmon.api.store import DAY_MS, MonitorStore, Span, feature_points_json
from modelmon.checks import Baseline
from modelmon.checks.baseline import BASELINE_FILES
from modelmon.config import endpoint_name
from modelmon.errors import BaselineError
from modelmon.events import MODEL_ID_PATTERN, CaptureEvent, WindowResult
from modelmon.keys import WindowRef
from modelmon.plots import overlay
from modelmon.registry import check_baseline_files, config_from_mapping

MAX_PAGE = 1000
MAX_SERIES_PAGE = 20_000  # a week of one-minute windows fits one page
MAX_SCAN = 1440  # windows read to derive violations and alert transitions


@dataclass
class Context:
    store: MonitorStore
    auth: TokenAuth
    heatmap_windows: int = 60
    captures: CaptureSource | None = None
    baselines: dict[str, tuple[int, Baseline]] = field(default_factory=dict)

    def baseline(self, model_id: str) -> Baseline | None:
        """The model's stored baseline, parsed once per baseline version."""
        meta = self.store.baseline_meta(model_id)
        if meta is None:
            return None
        cached = self.baselines.get(model_id)  # one read: other threads may replace it
        if cached is not None and cached[0] == meta.version:
            return cached[1]
        files = self.store.registry.baseline_files(model_id)
        if files is None:
            return None
        baseline = Baseline.from_files(files, f"registry:{model_id}")
        self.baselines[model_id] = (meta.version, baseline)
        return baseline


_bearer = HTTPBearer(auto_error=False, description="a read or admin token")
Bearer = Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": s.Problem, "description": text}
    for code, text in (
        (401, "no or unknown bearer token"),
        (404, "no such model, feature, window or file"),
        (422, "invalid parameters or body (each field named in `errors`)"),
        (503, "Redis is unreachable"),
    )
}
_ADMIN_ERRORS = {
    **_ERRORS,
    400: {"model": s.Problem, "description": "the body is not JSON"},
    403: {"model": s.Problem, "description": "a read token on an admin endpoint"},
    413: {"model": s.Problem, "description": "request body too large"},
}


def _ctx(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def _role(request: Request) -> Role:
    role = _ctx(request).auth.role(request.headers.get("authorization"))
    if role is None:
        raise HTTPException(
            401,
            "a valid bearer token is required (Authorization: Bearer <token>)",
            headers={"WWW-Authenticate": "Bearer", "X-Problem-Field": "header.Authorization"},
        )
    return role


def read_access(request: Request, _: Bearer) -> Context:
    _role(request)
    return _ctx(request)


def admin_access(request: Request, _: Bearer) -> Context:
    if _role(request) != "admin":
        raise HTTPException(
            403, "this endpoint needs an admin token",
            headers={"X-Problem-Field": "header.Authorization"},
        )  # fmt: skip
    return _ctx(request)


Read = Annotated[Context, Depends(read_access)]
Admin = Annotated[Context, Depends(admin_access)]
ModelIdPath = Annotated[str, Path(pattern=MODEL_ID_PATTERN, description="a registered model id")]
FeaturePath = Annotated[str, Path(min_length=1, max_length=256)]
Start = Annotated[datetime | None, Query(description="from this time (inclusive, UTC)")]
End = Annotated[datetime | None, Query(description="until this time (exclusive, UTC)")]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]


def known_query(request: Request) -> None:
    """Refuse query parameters the operation does not take (a typo such as ``?limt=`` would
    otherwise be ignored silently)."""
    dependant = getattr(request.scope.get("route"), "dependant", None)
    if dependant is None:
        return
    allowed = _query_names(dependant)
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        raise _bad(f"query.{unknown[0]}", f"unknown query parameter {unknown[0]!r}")


def _query_names(dependant: Any) -> set[str]:
    names = {str(p.alias) for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


router = APIRouter(prefix="/api/v1", responses=_ERRORS, dependencies=[Depends(known_query)])


def _ms(moment: datetime | None, name: str) -> int | None:
    if moment is None:
        return None
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    try:
        return int(aware.timestamp() * 1000)
    except (OverflowError, ValueError, OSError) as exc:
        raise _bad(f"query.{name}", f"time out of range: {exc}") from exc


def _bad(where: str, detail: str) -> HTTPException:
    return HTTPException(422, detail, headers={"X-Problem-Field": where})


def _missing(where: str, detail: str) -> HTTPException:
    return HTTPException(404, detail, headers={"X-Problem-Field": where})


def _span(start: datetime | None, end: datetime | None, offset: int, limit: int) -> Span:
    lo, hi = _ms(start, "start"), _ms(end, "end")
    if lo is not None and hi is not None and lo >= hi:
        raise _bad("query.start", "start must be before end")
    return Span(lo, hi, offset, limit)


def _page(items: list[Any], total: int, span: Span) -> dict[str, Any]:
    nxt = span.offset + len(items)
    return {
        "items": items,
        "total": total,
        "offset": span.offset,
        "limit": span.limit,
        "next_offset": nxt if nxt < total else None,
    }


def _next(span: Span, count: int, total: int) -> int | None:
    nxt = span.offset + count
    return nxt if nxt < total else None


def _raw_json(body: bytes) -> Response:
    return Response(body, media_type="application/json")


def _entry(ctx: Context, model_id: str) -> Any:
    entry = ctx.store.registry.get(model_id)
    if entry is None:
        raise _missing("path.model_id", f"model {model_id!r} is not registered")
    return entry


def _summary(ctx: Context, model_id: str, entry: Any) -> s.ModelSummary:
    last = ctx.store.latest(model_id)
    since = views.ms(last.window_end) - DAY_MS if last else 0
    violations = ctx.store.violations_per_window(model_id, since) if last else {}
    alarms = views.alarm_states(ctx.store.alarm_states(model_id))
    return views.summary(model_id, entry, last, violations, alarms)


# -- models ---------------------------------------------------------------------------------
@router.get("/models", response_model=s.Page[s.ModelSummary], summary="Overview of all models")
def list_models(ctx: Read, offset: Offset = 0, limit: Limit = 100) -> Any:
    entries = ctx.store.registry.all()
    ids = sorted(entries)
    span = Span(offset=offset, limit=limit)
    chosen = ids[offset : offset + limit]
    return _page([_summary(ctx, m, entries[m]) for m in chosen], len(ids), span)


@router.post(
    "/models", response_model=s.Registered, status_code=201, responses=_ADMIN_ERRORS,
    summary="Register (or replace) a model config, validated as `modelmon model register` does",
)  # fmt: skip
def register_model(
    ctx: Admin,
    config: Annotated[dict[str, Any], Body(description="a ModelConfig (model-config schema)")],
) -> Any:
    parsed = config_from_mapping(config)
    version = ctx.store.registry.register(parsed)
    return s.Registered(model_id=parsed.model_id, registry_version=version)


@router.get("/models/{model_id}", response_model=s.ModelDetail, summary="One model")
def get_model(ctx: Read, model_id: ModelIdPath) -> Any:
    entry = _entry(ctx, model_id)
    summary = _summary(ctx, model_id, entry)
    alarms = views.alarm_states(ctx.store.alarm_states(model_id))
    return s.ModelDetail(
        summary=summary, config=entry.config.model_dump(mode="json"), alarms=alarms
    )


# -- baselines ------------------------------------------------------------------------------
@router.get("/models/{model_id}/baseline", response_model=s.BaselineInfo, summary="Baseline")
def get_baseline(ctx: Read, model_id: ModelIdPath) -> Any:
    _entry(ctx, model_id)
    meta = ctx.store.baseline_meta(model_id)
    files = ctx.store.registry.baseline_files(model_id)
    if meta is None or files is None:
        raise _missing("path.model_id", f"model {model_id!r} has no baseline")
    listed = [
        s.BaselineFile(name=n, size=len(b), sha256=hashlib.sha256(b).hexdigest())
        for n, b in sorted(files.items())
    ]
    return s.BaselineInfo(
        model_id=model_id, version=meta.version, source=meta.source,
        changed_at=views.utc(meta.changed_at_ms), files=listed,
    )  # fmt: skip


@router.get(
    "/models/{model_id}/baseline/files/{name}",
    response_class=Response,
    responses={
        200: {
            "description": "the file's bytes (JSON for the .json files)",
            "content": {"application/octet-stream": {}, "application/json": {}},
        }
    },
    summary="Download one baseline file",
)
def get_baseline_file(
    ctx: Read, model_id: ModelIdPath, name: Annotated[str, Path(max_length=64)]
) -> Response:
    files = ctx.store.registry.baseline_files(model_id)
    if files is None or name not in files:
        raise _missing("path.name", f"no baseline file {name!r} for {model_id!r}")
    media = "application/json" if name.endswith(".json") else "application/octet-stream"
    return Response(files[name], media_type=media)


@router.put(
    "/models/{model_id}/baseline", response_model=s.Registered, responses=_ADMIN_ERRORS,
    summary="Store a baseline, validated as `modelmon baseline push` does",
)  # fmt: skip
def put_baseline(ctx: Admin, model_id: ModelIdPath, upload: s.BaselineUpload) -> Any:
    files: dict[str, bytes] = {}
    for name, text in upload.files.items():
        if name not in BASELINE_FILES:
            raise _bad(f"body.files.{name}", f"unknown file; expected {', '.join(BASELINE_FILES)}")
        try:
            files[name] = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise _bad(f"body.files.{name}", f"not base64: {exc}") from exc
    try:
        checked = check_baseline_files(files, f"upload:{model_id}")
    except BaselineError as exc:
        raise _bad("body.files", str(exc)) from exc
    _entry(ctx, model_id)
    version = ctx.store.registry.push_baseline(model_id, checked, source=upload.source)
    return s.Registered(model_id=model_id, registry_version=version)


# -- windows --------------------------------------------------------------------------------
@router.get("/models/{model_id}/windows", response_model=s.WindowPage, summary="Window results")
def list_windows(
    ctx: Read, model_id: ModelIdPath, start: Start = None, end: End = None,
    offset: Offset = 0, limit: Limit = 100, rolling: bool = False,
) -> Any:  # fmt: skip
    span = _span(start, end, offset, limit)
    _entry(ctx, model_id)
    raw, total = ctx.store.results(model_id, span, rolling)
    # The stored JSON is WindowResult.model_dump_json(): spliced as is, not re-validated.
    page = _page([], total, span) | {"next_offset": _next(span, len(raw), total)}
    head = orjson.dumps({"model_id": model_id, "rolling": rolling, "page": page})
    items = b"[" + b",".join(raw) + b"]"
    return _raw_json(head.replace(b'"items":[]', b'"items":' + items, 1))


@router.get("/models/{model_id}/heatmap", response_model=s.HeatMap, summary="Drift heat map")
def heat_map(
    ctx: Read, model_id: ModelIdPath, end: End = None,
    windows: Annotated[int | None, Query(ge=1, le=MAX_SCAN)] = None,
) -> Any:  # fmt: skip
    _entry(ctx, model_id)
    raw = ctx.store.last_results(model_id, windows or ctx.heatmap_windows, _ms(end, "end"))
    return views.heat_map(model_id, [WindowResult.model_validate_json(r) for r in raw])


@router.get(
    "/models/{model_id}/features/{feature}/series",
    response_model=s.FeatureSeries, summary="A feature's metrics and distances over time",
)  # fmt: skip
def feature_series(
    ctx: Read, model_id: ModelIdPath, feature: FeaturePath, start: Start = None,
    end: End = None, offset: Offset = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_SERIES_PAGE)] = 1000,
) -> Any:  # fmt: skip
    span = _span(start, end, offset, limit)
    _entry(ctx, model_id)
    raw, total = ctx.store.feature_series(model_id, feature, span)
    last = ctx.store.latest(model_id)
    drift = next(
        (c for c in (last.checks if last else []) if c.feature == feature
         and c.check_type == views.DRIFT), None,
    )  # fmt: skip
    method = drift.method if drift else None
    body = {
        "model_id": model_id, "feature": feature, "method": method,
        "threshold": drift.threshold if drift else None,
        "higher_is_worse": views.higher_is_worse(method),
        "page": _page([], total, span) | {"next_offset": _next(span, len(raw), total)},
    }  # fmt: skip
    # a week of one-minute windows is 10k points: spliced from the stored JSON
    head = orjson.dumps(body)
    return _raw_json(head.replace(b'"items":[]', b'"items":' + feature_points_json(raw), 1))


@router.get(
    "/models/{model_id}/features/{feature}/distribution",
    response_model=s.Distribution,
    summary="Baseline vs one window's distribution, from the sketches",
)
def distribution(
    ctx: Read, model_id: ModelIdPath, feature: FeaturePath,
    window_start: Annotated[datetime | None, Query(description="default: the last window")] = None,
) -> Any:  # fmt: skip
    entry = _entry(ctx, model_id)
    start_ms = _ms(window_start, "window_start")
    if start_ms is None:
        last = ctx.store.latest(model_id)
        if last is None:
            raise _missing("path.model_id", f"model {model_id!r} has no evaluated window")
        start_ms = views.ms(last.window_start)
    ref = WindowRef(model_id, entry.config.window.size_seconds * 1000, start_ms)
    profile = ctx.store.window_profile(ref)
    if profile is None:
        raise _missing("query.window_start", "the window's profile has expired or never existed")
    current = profile.features.get(feature)
    if current is None:
        raise _missing("path.feature", f"feature {feature!r} is not in that window")
    baseline = ctx.baseline(model_id)
    over = overlay(baseline.distribution(feature) if baseline else None, current)
    return s.Distribution(
        model_id=model_id, feature=feature, kind=over.kind, window_start=views.utc(start_ms),
        labels=over.labels,
        series=[s.Series(name=n, shares=v, count=over.counts[n]) for n, v in over.shares.items()],
        edges=over.edges,
        cdf=[s.Series(name=n, shares=v, count=over.counts[n]) for n, v in over.cdfs.items()],
        error_bound=over.error_bound, categories_total=over.categories_total,
    )  # fmt: skip


def _scan(ctx: Context, model_id: str, start: datetime | None, end: datetime | None) -> list[Any]:
    span = _span(start, end, 0, MAX_SCAN)
    _entry(ctx, model_id)
    raw = ctx.store.last_results(model_id, MAX_SCAN, span.end_ms)
    results = [WindowResult.model_validate_json(r) for r in raw]
    return [
        r for r in results if span.start_ms is None or views.ms(r.window_start) >= span.start_ms
    ]


@router.get(
    "/models/{model_id}/violations", response_model=s.Page[s.Violation],
    summary=f"Violated checks (of the newest {MAX_SCAN} windows in the range)",
)  # fmt: skip
def list_violations(
    ctx: Read, model_id: ModelIdPath, start: Start = None, end: End = None,
    offset: Offset = 0, limit: Limit = 100,
) -> Any:  # fmt: skip
    found = views.violations(_scan(ctx, model_id, start, end))
    span = Span(offset=offset, limit=limit)
    return _page(found[offset : offset + limit], len(found), span)


@router.get(
    "/models/{model_id}/alerts", response_model=s.Page[s.AlertTransition],
    summary=f"Alert history: ALARM and OK transitions (newest {MAX_SCAN} windows in the range)",
)  # fmt: skip
def list_alerts(
    ctx: Read, model_id: ModelIdPath, start: Start = None, end: End = None,
    offset: Offset = 0, limit: Limit = 100,
) -> Any:  # fmt: skip
    found = views.transitions(model_id, _scan(ctx, model_id, start, end))
    span = Span(offset=offset, limit=limit)
    return _page(found[offset : offset + limit], len(found), span)


@router.get(
    "/models/{model_id}/alarms", response_model=s.Page[s.AlarmState],
    summary="Current alarm states, as the alerting service keeps them",
)  # fmt: skip
def list_alarms(ctx: Read, model_id: ModelIdPath, offset: Offset = 0, limit: Limit = 100) -> Any:
    _entry(ctx, model_id)
    found = views.alarm_states(ctx.store.alarm_states(model_id))
    return _page(found[offset : offset + limit], len(found), Span(offset=offset, limit=limit))


@router.get(
    "/models/{model_id}/captures", response_model=s.Page[CaptureEvent],
    summary="A sample of recent captures, read from the archive (redacted as archived)",
)  # fmt: skip
def list_captures(
    ctx: Read, model_id: ModelIdPath, start: Start = None, end: End = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Any:  # fmt: skip
    span = _span(start, end, 0, limit)
    entry = _entry(ctx, model_id)
    if ctx.captures is None:
        raise _missing("path.model_id", "the API has no capture archive configured")
    folder = endpoint_name(model_id, entry.config)
    lo = views.utc(span.start_ms) if span.start_ms is not None else None
    hi = views.utc(span.end_ms) if span.end_ms is not None else None
    found = recent_captures(ctx.captures, model_id, folder, lo, hi, limit)
    return _page(found, len(found), span)
