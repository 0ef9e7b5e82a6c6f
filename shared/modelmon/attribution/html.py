"""The attribution section of a report: baseline vs window global SHAP per feature, ranked,
with the NDCG per label (pure; inline CSS, every value escaped).

Rows are in the window's ranking; each shows the feature's window mean |SHAP| and rank, its
baseline mean |SHAP| and rank, the signed mean and the 5th/50th/95th percentile of its signed
attribution (KLL sketch: rank error at most ``state.RANK_ERROR``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from modelmon.attribution.evaluate import AttributionEvaluation
from modelmon.attribution.state import RANK_ERROR, AttributionState, FeatureAttribution
from modelmon.page import escape as _e
from modelmon.page import number as _n
from modelmon.page import page, table

#: Added to ``page.BASE_STYLE``: feature names left-aligned, rows whose rank moved marked.
STYLE = (
    "th:first-child,td:first-child,td.f{text-align:left}"
    "tr.moved td{background:#fff4d6}.bad{color:#b00020;font-weight:600}"
)
HEADERS = (
    "feature", "window mean |SHAP|", "window rank", "baseline mean |SHAP|", "baseline rank",
    "signed mean", "p5", "p50", "p95",
)  # fmt: skip


def _ranks(values: Mapping[str, float]) -> dict[str, int]:
    ordered = sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))
    return {name: i + 1 for i, (name, _) in enumerate(ordered)}


def _label_table(
    live: Mapping[str, float],
    baseline: Mapping[str, float],
    features: Mapping[str, FeatureAttribution],
) -> str:
    live_rank, base_rank = _ranks(live), _ranks(baseline)
    names = sorted(set(live) | set(baseline), key=lambda n: (live_rank.get(n, 10**9), n))
    rows = []
    for name in names:
        fa = features.get(name)
        q = fa.quantiles((0.05, 0.5, 0.95)) if fa is not None else [math.nan] * 3
        moved = name in live_rank and live_rank.get(name) != base_rank.get(name)
        rows.append(
            f'<tr class="{"moved" if moved else ""}"><td class="f">{_e(name)}</td>'
            f"<td>{_n(live.get(name))}</td><td>{live_rank.get(name, '–')}</td>"
            f"<td>{_n(baseline.get(name))}</td><td>{base_rank.get(name, '–')}</td>"
            f"<td>{_n(fa.mean if fa else None)}</td>"
            + "".join(f"<td>{_n(v)}</td>" for v in q)
            + "</tr>"
        )
    return table(HEADERS, rows)


def attribution_section(evaluation: AttributionEvaluation, state: AttributionState) -> str:
    """The section's HTML (a fragment: an ``h2`` and one table per label)."""
    parts = [
        "<h2>Feature attribution</h2>",
        f"<p>{evaluation.attributions} events with attributions; quantiles from a KLL sketch "
        f"(rank error &le; {RANK_ERROR:.4f}).</p>",
    ]
    checks = {c.label: c for c in evaluation.checks}
    if evaluation.baseline is None:
        parts.append("<p>No explainability baseline: no feature_attribution_drift_check.</p>")
    for label in sorted(set(evaluation.live) | set(checks)):
        check = checks.get(label)
        if check is None and len(checks) == 1 and len(evaluation.live) == 1:
            check = next(iter(checks.values()))
        heading = f"<h3>{_e(label)}"
        if check is not None and check.evaluated:
            cls = "bad" if check.violated else ""
            verdict = "below" if check.violated else "at or above"
            heading += (
                f' — <span class="{cls}">NDCG {check.ndcg:.4f}</span>, {verdict} the '
                f"threshold {check.threshold:g}"
            )
        parts.append(heading + "</h3>")
        live = evaluation.live.get(label, check.live if check else {})
        parts.append(
            _label_table(live, check.baseline if check else {}, state.labels.get(label, {}))
        )
    return "\n".join(parts)


def attribution_page(title: str, sections: Sequence[str], meta: str = "") -> str:
    """A whole report.html around one or more sections."""
    return page(title, sections, meta, STYLE)
