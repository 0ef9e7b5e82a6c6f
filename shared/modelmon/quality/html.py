"""report.html of one model-quality window (the label join writes it beside statistics.json).

A self-contained page (inline CSS, no scripts), every value escaped: each scalar metric with
its standard deviation, the model's constraint on it and the verdict (violations marked), and
the window's label coverage.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from modelmon.errors import BaselineError
from modelmon.page import FLAGGED_ROWS_STYLE, page, table
from modelmon.page import escape as _e
from modelmon.page import number as _number
from modelmon.quality import files
from modelmon.quality.evaluate import QualityEvaluation


def _rules(constraints: Mapping[str, Any] | None) -> dict[str, Any]:
    if not constraints:
        return {}
    try:
        return files.read_constraints(constraints)[1]
    except BaselineError:
        return {}


def quality_report_html(
    evaluation: QualityEvaluation, constraints: Mapping[str, Any] | None
) -> str:
    """The window's model-quality page."""
    rules = _rules(constraints)
    broken = {v.get("metric_name") for v in evaluation.violations}
    rows = []
    for name, entry in sorted(evaluation.metrics.items()):
        if not isinstance(entry, Mapping) or isinstance(entry.get("value"), Mapping | list):
            continue  # a confusion matrix or curve, not a scalar
        rule = rules.get(name)
        bad = files.camel(name) in broken or name in broken
        limit = "–"
        if rule is not None:
            sign = "≥" if rule["comparison_operator"] == "LessThanThreshold" else "≤"
            limit = f"{sign} {_number(rule['threshold'])}"
        verdict = "violation" if bad else ("ok" if rule is not None else "–")
        rows.append(
            f'<tr class="{"bad" if bad else ""}"><td>{_e(name)}</td>'
            f"<td>{_number(entry.get('value'))}</td>"
            f"<td>{_number(entry.get('standard_deviation'))}</td>"
            f"<td>{_e(limit)}</td><td>{verdict}</td></tr>"
        )
    section = "<h2>Model quality</h2>" + table(
        ["metric", "value", "sd", "constraint", "check"], rows
    )
    start = datetime.fromtimestamp(evaluation.window_start_ms / 1000, UTC)
    end = datetime.fromtimestamp(evaluation.window_end_ms / 1000, UTC)
    meta = (
        f"model {evaluation.model_id} ({evaluation.problem_type}), window {start.isoformat()} - "
        f"{end.isoformat()}: {evaluation.labelled} of {evaluation.predictions} predictions "
        f"labelled ({evaluation.coverage:.0%}); {len(evaluation.violations)} violation(s)"
    )
    return page(f"Model quality: {evaluation.model_id}", [section], meta, FLAGGED_ROWS_STYLE)
