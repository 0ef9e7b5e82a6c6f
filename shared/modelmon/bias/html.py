"""The bias section of a run's report.html: per facet value, each metric beside its baseline.

A self-contained page (inline CSS, no scripts or external assets), every value escaped. A row
is marked when its metric violates the baseline (``bias_drift_check``); a metric Clarify could
not compute shows its error text.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

from modelmon.bias.analysis import BiasBaseline
from modelmon.bias.checks import BiasViolation, format_value, ideal_value
from modelmon.bias.report import FacetValueReport, MetricValue

_STYLE = (
    "body{font:14px system-ui,sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse;margin:.5em 0 1.5em}"
    "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}"
    "th:first-child,td:first-child{text-align:left}"
    "tr.bad td{background:#fde2e1}.err{color:#777;font-style:italic}"
)


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _value(value: float | None) -> str:
    if value is None:
        return "–"
    return format_value(value) if math.isinf(value) else f"{value:.4g}"


def bias_section(
    stage: str,
    reports: Sequence[FacetValueReport],
    baseline: BiasBaseline | None,
    violations: Sequence[BiasViolation],
) -> str:
    """One table per (facet, facet value): metric, value, baseline, ideal, verdict."""
    bad = {(v.facet, v.facet_value, v.metric_name) for v in violations}
    parts = [f"<h2>Bias metrics ({_e(stage.replace('_', '-'))})</h2>"]
    for report in reports:
        joined_d, joined_a, captured_d, captured_a = report.counts
        parts.append(
            f"<h3>{_e(report.facet)} = {_e(report.value_or_threshold)}</h3>"
            f"<p>joined pairs: {joined_d} sensitive, {joined_a} rest; captured predictions: "
            f"{captured_d} sensitive, {captured_a} rest</p>"
            "<table><tr><th>metric</th><th>value</th><th>baseline</th><th>ideal</th>"
            "<th>check</th></tr>"
        )
        for m in report.metrics:
            parts.append(_row(stage, report, m, baseline, bad))
        parts.append("</table>")
    return "\n".join(parts)


def _row(
    stage: str,
    report: FacetValueReport,
    m: MetricValue,
    baseline: BiasBaseline | None,
    bad: set[tuple[str, str, str]],
) -> str:
    found = None
    if baseline is not None:
        found = baseline.lookup(stage, report.facet, report.value_or_threshold, m.name)
    violated = (report.facet, report.value_or_threshold, m.name) in bad
    if violated:
        verdict = "violation"
    else:
        verdict = "ok" if found is not None and found.value is not None else "no baseline"
    value = _value(m.value) if m.error is None else f'<span class="err">{_e(m.error)}</span>'
    return (
        f'<tr class="{"bad" if violated else ""}"><td title="{_e(m.description)}">'
        f"{_e(m.name)}</td><td>{value}</td>"
        f"<td>{_value(found.value if found else None)}</td>"
        f"<td>{ideal_value(m.name):g}</td><td>{verdict}</td></tr>"
    )


def bias_report_page(title: str, sections: Sequence[str], meta: str = "") -> str:
    """A whole report.html around one or more sections."""
    body = "\n".join(sections)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{_e(title)}</title>"
        f"<style>{_STYLE}</style></head><body><h1>{_e(title)}</h1><p>{_e(meta)}</p>"
        f"{body}</body></html>\n"
    )
