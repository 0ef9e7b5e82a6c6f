"""The bias section of a run's report.html: per facet value, each metric beside its baseline.

A self-contained page (inline CSS, no scripts or external assets), every value escaped. A row
is marked when its metric violates the baseline (``bias_drift_check``); a metric Clarify could
not compute shows its error text.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from modelmon.bias.analysis import BiasBaseline
from modelmon.bias.checks import BiasViolation, format_value, ideal_value
from modelmon.bias.report import FacetValueReport, MetricValue
from modelmon.page import FLAGGED_ROWS_STYLE, page, table
from modelmon.page import escape as _e


def _value(value: float | None) -> str:
    if value is None:
        return "–"
    return format_value(value) if math.isinf(value) else f"{value:.4g}"


Interval = tuple[float, float]


def bias_section(
    stage: str,
    reports: Sequence[FacetValueReport],
    baseline: BiasBaseline | None,
    violations: Sequence[BiasViolation],
    intervals: Mapping[tuple[str, str, str], Interval] | None = None,
    level: float = 0.95,
    checked: bool = True,
) -> str:
    """One table per (facet, facet value): metric, value, [interval,] baseline, ideal, verdict.

    ``intervals``: (facet, facet value, metric) -> confidence interval at ``level``;
    ``checked`` False: the stage is reported, not checked (the stream's pre-training)."""
    bad = {(v.facet, v.facet_value, v.metric_name) for v in violations}
    headers = ["metric", "value", "baseline", "ideal", "check"]
    if intervals is not None:
        headers.insert(2, f"{level:.4g} interval")
    parts = [f"<h2>Bias metrics ({_e(stage.replace('_', '-'))})</h2>"]
    for report in reports:
        joined_d, joined_a, captured_d, captured_a = report.counts
        rows = []
        for m in report.metrics:
            cell = None
            if intervals is not None:
                found = intervals.get((report.facet, report.value_or_threshold, m.name))
                cell = "–" if found is None else f"[{_value(found[0])}, {_value(found[1])}]"
            rows.append(_row(stage, report, m, baseline, bad, cell, checked))
        parts.append(
            f"<h3>{_e(report.facet)} = {_e(report.value_or_threshold)}</h3>"
            f"<p>joined pairs: {joined_d} sensitive, {joined_a} rest; captured predictions: "
            f"{captured_d} sensitive, {captured_a} rest</p>" + table(headers, rows, sep="\n")
        )
    return "\n".join(parts)


def _row(
    stage: str,
    report: FacetValueReport,
    m: MetricValue,
    baseline: BiasBaseline | None,
    bad: set[tuple[str, str, str]],
    interval: str | None = None,
    checked: bool = True,
) -> str:
    found = None
    if baseline is not None:
        found = baseline.lookup(stage, report.facet, report.value_or_threshold, m.name)
    violated = (report.facet, report.value_or_threshold, m.name) in bad
    if violated:
        verdict = "violation"
    elif not checked:
        verdict = "not checked"
    else:
        verdict = "ok" if found is not None and found.value is not None else "no baseline"
    value = _value(m.value) if m.error is None else f'<span class="err">{_e(m.error)}</span>'
    extra = f"<td>{_e(interval)}</td>" if interval is not None else ""
    return (
        f'<tr class="{"bad" if violated else ""}"><td title="{_e(m.description)}">'
        f"{_e(m.name)}</td><td>{value}</td>{extra}"
        f"<td>{_value(found.value if found else None)}</td>"
        f"<td>{ideal_value(m.name):g}</td><td>{verdict}</td></tr>"
    )


def bias_report_page(title: str, sections: Sequence[str], meta: str = "") -> str:
    """A whole report.html around one or more sections."""
    return page(title, sections, meta, FLAGGED_ROWS_STYLE)
