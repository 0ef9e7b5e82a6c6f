"""One way to draw a distribution: the data of a baseline-vs-current overlay, from sketches.

The dashboard (through the API) and report.html both draw these with plotly, so a feature's
distribution looks the same wherever it is shown. Shares come from the KLL CDF (numeric, each
within the sketch's ``rank_error``) or the frequent-items counts (categorical, each within
``frequency_error``); the overlay states the larger bound of its two sides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Literal

import numpy as np

from modelmon.profile import CategoricalProfile, NumericProfile
from modelmon.profile.sagemaker import CategoricalCounts, WeightedSample

NUMERIC_BINS = 20
TOP_CATEGORIES = 15
BASE_COLOR, CURRENT_COLOR = "#4e79a7", "#f28e2b"

Numeric = NumericProfile | WeightedSample
Categorical = CategoricalProfile | CategoricalCounts
Side = Numeric | Categorical


@dataclass(frozen=True)
class Overlay:
    """Bars per label for each named side; numeric overlays also carry CDFs at the edges."""

    kind: Literal["numeric", "categorical"]
    labels: list[str]
    shares: dict[str, list[float]]
    counts: dict[str, float]
    error_bound: float
    edges: list[float] = field(default_factory=list)
    cdfs: dict[str, list[float]] = field(default_factory=dict)
    categories_total: int = 0


def _finite(values: list[float]) -> list[float]:
    return [v for v in values if v is not None and math.isfinite(v)]


def numeric_overlay(sides: dict[str, Numeric], bins: int = NUMERIC_BINS) -> Overlay:
    """Shares per equal-width bin over the union of the sides' ranges (empty sides skipped)."""
    live = {name: s for name, s in sides.items() if s.count > 0}
    ends = _finite([s.min for s in live.values()] + [s.max for s in live.values()])
    if not live or not ends:
        return Overlay("numeric", [], {}, {}, 0.0)
    lo, hi = min(ends), max(ends)
    if hi <= lo:
        hi = lo + 1.0
    edges = np.linspace(lo, hi, bins + 1)
    shares, cdfs = {}, {}
    for name, side in live.items():
        cdf = np.nan_to_num(side.view.cdf(edges), nan=0.0)
        cdfs[name] = [float(c) for c in cdf]
        shares[name] = np.diff(np.concatenate([[0.0], cdf[1:]])).clip(0).tolist()
    labels = [f"{edges[i]:.4g}–{edges[i + 1]:.4g}" for i in range(bins)]
    return Overlay(
        "numeric",
        labels,
        shares,
        {name: float(s.count) for name, s in live.items()},
        max(s.rank_error for s in live.values()),
        [float(e) for e in edges],
        cdfs,
    )


def categorical_overlay(sides: dict[str, Categorical], top: int = TOP_CATEGORIES) -> Overlay:
    """Shares of the ``top`` categories most frequent on either side."""
    freqs = {name: s.frequencies() for name, s in sides.items()}
    every: set[str] = set().union(*[f.keys() for f in freqs.values()]) if freqs else set()
    ranked = sorted(every, key=lambda k: (-max(f.get(k, 0.0) for f in freqs.values()), k))
    chosen = ranked[:top]
    return Overlay(
        "categorical",
        chosen,
        {name: [f.get(k, 0.0) for k in chosen] for name, f in freqs.items()},
        {name: float(s.count) for name, s in sides.items()},
        max((s.frequency_error for s in sides.values()), default=0.0),
        categories_total=len(ranked),
    )


def overlay(baseline: Any, current: NumericProfile | CategoricalProfile) -> Overlay:
    """The overlay of a baseline distribution (any kind, or None) and a window's profile; a
    baseline of the other kind than the window is left out rather than misdrawn."""
    if isinstance(current, NumericProfile):
        sides: dict[str, Any] = {"baseline": baseline} if isinstance(baseline, Numeric) else {}
        return numeric_overlay({**sides, "window": current})
    base: dict[str, Categorical] = (
        {"baseline": baseline} if isinstance(baseline, Categorical) else {}
    )
    return categorical_overlay({**base, "window": current})


def figure(over: Overlay, title: str) -> dict[str, Any]:
    """A plotly figure (as JSON-able dict) of an overlay: grouped bars, baseline first."""
    colors = [BASE_COLOR, CURRENT_COLOR]
    edges = over.edges
    # numeric: bars at bin centres on a numeric axis; the bin's range shows on hover
    x: list[Any] = (
        [lo / 2 + hi / 2 for lo, hi in pairwise(edges)]  # (lo + hi) / 2 overflows near 1e308
        if over.kind == "numeric"
        else list(over.labels)
    )
    data = [
        {
            "type": "bar",
            "name": name,
            "x": x,
            "y": values,
            "text": over.labels,
            "textposition": "none",
            "marker": {"color": colors[i % 2]},
            "hovertemplate": "%{text}: %{y:.2%}<extra>" + name + "</extra>",
        }
        for i, (name, values) in enumerate(over.shares.items())
    ]
    layout = {
        "title": {"text": title, "font": {"size": 13}},
        "barmode": "group",
        "yaxis": {"tickformat": ".0%", "title": {"text": "share of values"}},
        "xaxis": {"automargin": True},
        "margin": {"l": 50, "r": 10, "t": 36, "b": 40},
        "height": 260,
        "legend": {"orientation": "h"},
    }
    return {"data": data, "layout": layout}
