"""The ``/api/v1`` routes of the per-window evaluation series: model quality and bias drift
(the label join's) and feature-attribution drift (the detector's NDCG series), each a page of
windows and the newest one (registered on ``modelmon.api.routes.router``; answers built by
``modelmon.api.label_views``)."""

from __future__ import annotations

from collections.abc import Callable
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
    _page,
    _span,
    router,
)

#: A stored window's document and the model's registry entry -> the window's answer.
WindowView = Callable[[Any, Any], Any]


def series_routes(
    series: str, series_model: Any, window_model: Any, view: WindowView, *, what: str,
    summary: str, latest_summary: str,
) -> None:  # fmt: skip
    """``GET /models/{model_id}/<series>`` (a page of windows in a time range) and
    ``.../<series>/latest`` (the newest window; 404 while there is none), read-token
    protected, over the store's series ``series``; ``what`` names it in the 404."""

    @router.get(
        f"/models/{{model_id}}/{series}", response_model=series_model, summary=summary,
        name=f"{series}_series",
    )  # fmt: skip
    def window_series(
        ctx: Read, model_id: ModelIdPath, start: Start = None, end: End = None,
        offset: Offset = 0, limit: Limit = 100,
    ) -> Any:  # fmt: skip
        span = _span(start, end, offset, limit)
        entry = _entry(ctx, model_id)
        raw, total = ctx.store.window_series(model_id, series, span)
        items = [view(orjson.loads(r), entry) for r in raw]
        return series_model(model_id=model_id, page=_page(items, total, span))

    @router.get(
        f"/models/{{model_id}}/{series}/latest", response_model=window_model,
        summary=latest_summary, name=f"{series}_latest",
    )  # fmt: skip
    def latest_window(ctx: Read, model_id: ModelIdPath) -> Any:
        entry = _entry(ctx, model_id)
        raw = ctx.store.latest_window(model_id, series)
        if raw is None:
            raise _missing("path.model_id", f"model {model_id!r} has no {what} window yet")
        return view(orjson.loads(raw), entry)


def _constraints(entry: Any) -> Any:
    quality = entry.config.quality
    return quality.constraints if quality is not None else None


series_routes(
    "quality", s.QualitySeries, s.QualityWindow,
    lambda doc, entry: label_views.quality_window(doc, _constraints(entry)),
    what="model-quality",
    summary="Model quality per window (the label join), each metric beside its constraint",
    latest_summary="The newest window's model quality",
)  # fmt: skip
series_routes(
    "bias", s.BiasSeries, s.BiasWindow, lambda doc, entry: label_views.bias_window(doc),
    what="bias",
    summary="Bias drift per window: Clarify's metrics per facet value, baseline, interval",
    latest_summary="The newest window's bias metrics per facet value",
)  # fmt: skip
series_routes(
    "attribution", s.AttributionSeries, s.AttributionWindow,
    lambda doc, entry: label_views.attribution_window(doc),
    what="feature-attribution",
    summary="Feature-attribution drift per window: NDCG per label against the explainability "
    "baseline, threshold, verdict and the window's top features by mean |SHAP|",
    latest_summary="The newest window's feature-attribution NDCG and top features",
)  # fmt: skip
