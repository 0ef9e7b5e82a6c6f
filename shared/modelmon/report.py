"""report.html: a self-contained page (inline CSS and plotly.js, no external assets) of one run.

A summary table (feature, type, completeness, distances, checks), the violations, and per
feature the baseline-vs-current distribution plots with every distance computed. The plots are
drawn by plotly.js, the dashboard's library, from ``modelmon.plots`` overlays (one way to draw
a distribution); the script is inlined from the ``plotly`` package, so the page works offline.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from string import Template

import numpy as np

from modelmon import plots
from modelmon.checks import Baseline, BaselineDistribution, Evaluation
from modelmon.events import CheckOutcome, FeatureMetrics
from modelmon.page import escape as _e
from modelmon.plots import Overlay
from modelmon.profile import CategoricalProfile, DatasetProfile, FeatureProfile
from modelmon.readers import ReadStats

#: Draws every ``.plot`` placeholder once plotly.js has loaded (static: no mode bar, no zoom).
DRAW = """document.querySelectorAll('.plot').forEach(function (el) {
  var fig = JSON.parse(el.dataset.figure);
  fig.layout.width = 460;
  Plotly.newPlot(el, fig.data, fig.layout, {staticPlot: true});
});"""


def plotly_js() -> str:
    """plotly.min.js from the ``plotly`` package (4.8 MB: the price of a page that works
    offline, inlined in a report written once per run)."""
    import plotly

    return (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_text("utf-8")


def plotly_asset_name() -> str:
    """The file name a shared copy of plotly.js takes beside many reports (versioned, so an
    upgrade never serves a page an older script)."""
    import plotly

    return f"plotly-{plotly.__version__}.min.js"


def _plotly_script(src: str | None) -> str:
    """plotly.js inline (a self-contained page), or a ``<script src>`` to a shared copy."""
    if src is not None:
        return f'<script src="{_e(src)}"></script>'
    return "<script>" + plotly_js().replace("</script", "<\\/script") + "</script>"


def _fmt(value: float | None, digits: int = 4) -> str:
    if value is None or not np.isfinite(value):
        return "–"
    return f"{value:.{digits}g}"


# ----- plots (plotly, the dashboard's library) -------------------------------------------------
def _plot(over: Overlay, title: str) -> str:
    """A placeholder the page's inline plotly.js fills with the overlay's figure."""
    if not over.labels:
        return "<p>no values to plot</p>"
    renamed = Overlay(
        over.kind, over.labels,
        {("current" if k == "window" else k): v for k, v in over.shares.items()},
        over.counts, over.error_bound, over.edges, over.cdfs, over.categories_total,
    )  # fmt: skip
    figure = json.dumps(plots.figure(renamed, title), allow_nan=False)
    return f"<div class=plot role=img aria-label='{_e(title)}' data-figure='{_e(figure)}'></div>"


def numeric_plot(base: BaselineDistribution, cur: FeatureProfile) -> str:
    """Shares of baseline and current values in equal-width bins over both ranges."""
    over = plots.overlay(base, cur)
    bound = f" (each CDF value within ±{over.error_bound:.2g})" if over.error_bound else ""
    return _plot(over, "share of values per bin" + bound)


def categorical_plot(base: BaselineDistribution, cur: CategoricalProfile) -> str:
    over = plots.overlay(base, cur)
    shares = dict(zip(over.shares.keys(), over.shares.values(), strict=True))
    bf, cf = shares.get("baseline", [0.0] * len(over.labels)), shares["window"]
    title = f"share of values, top {len(over.labels)} of {over.categories_total} categories"
    rows = "".join(
        f"<tr><td>{_e(k)}</td><td class=num>{b:.2%}</td><td class=num>{c:.2%}</td></tr>"
        for k, b, c in zip(over.labels, bf, cf, strict=True)
    )
    table = f"<table><tr><th>value</th><th>baseline</th><th>current</th></tr>{rows}</table>"
    return _plot(over, title) + table


# ----- tables ---------------------------------------------------------------------------------
def _check_cell(outcomes: Sequence[CheckOutcome]) -> str:
    bad = [o.check_type for o in outcomes if o.violated]
    if bad:
        return "<span class=fail>" + ", ".join(_e(b) for b in bad) + "</span>"
    return "<span class=pass>passed</span>" if outcomes else "–"


def _summary(
    baseline: Baseline, evaluation: Evaluation, by_feature: Mapping[str, list[CheckOutcome]]
) -> str:
    rows = []
    names = list(dict.fromkeys([*baseline.feature_names, *by_feature, *evaluation.features]))
    for name in names:
        m = evaluation.features.get(name)
        outcomes = by_feature.get(name, [])
        drift = next((o for o in outcomes if o.check_type == "baseline_drift_check"), None)
        base_stats = baseline.statistics.feature(name)
        base_c = baseline.constraints.feature(name)
        dist = "–"
        if drift and drift.method:
            dist = f"{_e(drift.method)}: {_fmt(drift.value)} (threshold {_fmt(drift.threshold)})"
        cls = " class=violated" if any(o.violated for o in outcomes) else ""
        rows.append(
            f"<tr{cls}><td><a href='#f-{_e(name)}'>{_e(name)}</a></td>"
            f"<td>{_e(base_stats.inferred_type if base_stats else '–')} / "
            f"{_e(m.inferred_type if m else '–')}</td>"
            f"<td class=num>{_fmt(base_c.completeness if base_c else None)} / "
            f"{_fmt(m.completeness if m else None)}</td>"
            f"<td>{dist}</td><td>{_check_cell(outcomes)}</td></tr>"
        )
    return (
        "<table><tr><th>feature</th><th>type (baseline / current)</th>"
        "<th>completeness (baseline / current)</th><th>drift (method: value)</th>"
        "<th>checks</th></tr>" + "".join(rows) + "</table>"
    )


def _violations(evaluation: Evaluation) -> str:
    if not evaluation.violations:
        return ""
    rows = "".join(
        f"<tr><td>{_e(v.feature)}</td><td>{_e(v.check_type)}</td><td>{_e(v.description)}</td></tr>"
        for v in evaluation.violations
    )
    return (
        "<h2>Violations</h2><table><tr><th>feature_name</th><th>constraint_check_type</th>"
        f"<th>description</th></tr>{rows}</table>"
    )


def _feature_section(
    name: str, baseline: Baseline, current: DatasetProfile, evaluation: Evaluation
) -> str:
    m = evaluation.features.get(name)
    cur = current.features.get(name)
    base = baseline.distribution(name)
    head = f"<h3 id='f-{_e(name)}'>{_e(name)}</h3>"
    if cur is None:
        return head + "<p class=fail>missing from the current data</p>"
    if base is None:
        plot = "<p>not in the baseline (extra column), or the baseline has no distribution</p>"
    elif isinstance(cur, CategoricalProfile) and base.kind == "categorical":
        plot = categorical_plot(base, cur)
    elif base.kind == "numeric" and cur.kind == "numeric":
        plot = numeric_plot(base, cur)
    else:
        plot = f"<p>baseline is {base.kind}, current data is {cur.kind}: not comparable</p>"
    stats = _figures_table(baseline, name, m) if m is not None else ""
    return f"{head}<div class=feature><div>{plot}</div><div>{stats}</div></div>"


def _baseline_figures(baseline: Baseline, name: str) -> dict[str, object]:
    feature = baseline.statistics.feature(name)
    if feature is None:
        return {}
    num, text = feature.numerical_statistics, feature.string_statistics
    common = feature.common
    out: dict[str, object] = {"rows with a value": common.num_present,
                              "missing": common.num_missing}  # fmt: skip
    if num is not None:
        out.update(mean=_fmt(num.mean), std=_fmt(num.std_dev), min=_fmt(num.min), max=_fmt(num.max))
    if text is not None:
        out["distinct (estimate)"] = _fmt(text.distinct_count)
    return out


def _figures_table(baseline: Baseline, name: str, m: FeatureMetrics) -> str:
    """Baseline and current figures side by side, then every distance."""
    base = _baseline_figures(baseline, name)
    current: dict[str, object] = {
        "rows with a value": m.count, "missing": m.missing, "type mismatches": m.type_mismatches,
        "mean": _fmt(m.mean), "std": _fmt(m.std), "min": _fmt(m.min), "max": _fmt(m.max),
        "distinct (estimate)": _fmt(m.distinct_estimate),
    }  # fmt: skip
    rows = [
        f"<tr><th>{_e(k)}</th><td class=num>{_e(base.get(k, '–'))}</td>"
        f"<td class=num>{_e(v)}</td></tr>"
        for k, v in current.items()
        if v != "–" or base.get(k, "–") != "–"
    ]
    rows += [
        f"<tr><th>distance {_e(k)}</th><td></td><td class=num>{_fmt(v)}</td></tr>"
        for k, v in sorted(m.distances.items())
    ]
    head = "<tr><th></th><th>baseline</th><th>current</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _input_section(stats: ReadStats | None) -> str:
    if stats is None:
        return ""
    lines = "".join(f"<li>{_e(line.strip())}</li>" for line in stats.summary_lines())
    return f"<h2>Input</h2><ul>{lines}</ul>"


def render_report(
    baseline: Baseline,
    current: DatasetProfile,
    evaluation: Evaluation,
    *,
    title: str = "modelmon data-quality report",
    meta: str = "",
    read_stats: ReadStats | None = None,
    plotly_src: str | None = None,
) -> str:
    """The whole report page as a string; ``plotly_src``: load plotly.js from that (relative)
    URL instead of inlining it (the detector's per-window reports share one copy)."""
    by_feature: dict[str, list[CheckOutcome]] = {}
    for outcome in evaluation.checks:
        by_feature.setdefault(outcome.feature, []).append(outcome)
    n_bad = len(evaluation.violations)
    verdict = (
        f"<span class='verdict bad'>{n_bad} violation(s)</span>"
        if n_bad
        else "<span class='verdict ok'>no violations</span>"
    )
    names = list(dict.fromkeys([*baseline.feature_names, *current.features]))
    notes = "".join(f"<li>{_e(n)}</li>" for n in evaluation.notes)
    template = Template(
        resources.files("modelmon").joinpath("templates/report.html").read_text("utf-8")
    )
    return template.substitute(
        title=_e(title),
        meta=_e(meta or f"{evaluation.row_count} rows checked"),
        verdict=verdict,
        input_section=_input_section(read_stats),
        summary=_summary(baseline, evaluation, by_feature),
        violations_section=_violations(evaluation),
        features="".join(_feature_section(n, baseline, current, evaluation) for n in names),
        notes_section=f"<h2>Notes</h2><ul class=notes>{notes}</ul>" if notes else "",
        plotly_script=_plotly_script(plotly_src),
        draw_js=DRAW,
    )
