"""The ``/api/v1`` routes of the label join's series: model quality and bias drift per window
(registered on ``modelmon.api.routes.router``; answers built by ``modelmon.api.label_views``)."""

from __future__ import annotations

from typing import Any

import orjson

from modelmon.api import label_views
from modelmon.api import schema as s
from modelmon.api.routes import (
    End,
    Limit,
    ModelIdPath,
    Offset,
    Read,
    Start,
    _entry,
    _missing,
    _next,
    _page,
    _span,
    router,
)


# -- model quality and bias (the label join's series) -----------------------------------------
def _constraints(entry: Any) -> Any:
    quality = entry.config.quality
    return quality.constraints if quality is not None else None


@router.get(
    "/models/{model_id}/quality", response_model=s.QualitySeries,
    summary="Model quality per window (the label join), each metric beside its constraint",
)  # fmt: skip
def quality_series(
    ctx: Read, model_id: ModelIdPath, start: Start = None, end: End = None,
    offset: Offset = 0, limit: Limit = 100,
) -> Any:  # fmt: skip
    span = _span(start, end, offset, limit)
    entry = _entry(ctx, model_id)
    raw, total = ctx.store.label_join_results(model_id, "quality", span)
    constraints = _constraints(entry)
    items = [label_views.quality_window(orjson.loads(r), constraints) for r in raw]
    page = _page(items, total, span) | {"next_offset": _next(span, len(raw), total)}
    return s.QualitySeries(model_id=model_id, page=page)


@router.get(
    "/models/{model_id}/quality/latest", response_model=s.QualityWindow,
    summary="The newest window's model quality",
)  # fmt: skip
def quality_latest(ctx: Read, model_id: ModelIdPath) -> Any:
    entry = _entry(ctx, model_id)
    raw = ctx.store.latest_label_join(model_id, "quality")
    if raw is None:
        raise _missing("path.model_id", f"model {model_id!r} has no model-quality window yet")
    return label_views.quality_window(orjson.loads(raw), _constraints(entry))


@router.get(
    "/models/{model_id}/bias", response_model=s.BiasSeries,
    summary="Bias drift per window: Clarify's metrics per facet value, baseline, interval",
)  # fmt: skip
def bias_series(
    ctx: Read, model_id: ModelIdPath, start: Start = None, end: End = None,
    offset: Offset = 0, limit: Limit = 100,
) -> Any:  # fmt: skip
    span = _span(start, end, offset, limit)
    _entry(ctx, model_id)
    raw, total = ctx.store.label_join_results(model_id, "bias", span)
    items = [label_views.bias_window(orjson.loads(r)) for r in raw]
    page = _page(items, total, span) | {"next_offset": _next(span, len(raw), total)}
    return s.BiasSeries(model_id=model_id, page=page)


@router.get(
    "/models/{model_id}/bias/latest", response_model=s.BiasWindow,
    summary="The newest window's bias metrics per facet value",
)  # fmt: skip
def bias_latest(ctx: Read, model_id: ModelIdPath) -> Any:
    _entry(ctx, model_id)
    raw = ctx.store.latest_label_join(model_id, "bias")
    if raw is None:
        raise _missing("path.model_id", f"model {model_id!r} has no bias window yet")
    return label_views.bias_window(orjson.loads(raw))
