"""Pure read models of the per-window evaluation series: model quality and bias drift (the
label join's) and feature-attribution drift (the detector's).

Each series stores one JSON document per evaluated window (``QualityEvaluation.to_json``,
``BiasEvaluation.to_json``, ``AttributionEvaluation.to_json``); these functions reshape one
into what the API answers, with the model's quality constraints beside each metric. No I/O
and no clock.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from modelmon.api.schema import (
    AttributionFeature,
    AttributionLabel,
    AttributionWindow,
    BiasMetric,
    BiasWindow,
    QualityMetric,
    QualityWindow,
)
from modelmon.api.views import utc
from modelmon.bias.checks import ideal_value
from modelmon.errors import BaselineError
from modelmon.quality import files
from modelmon.quality.problem import METRICS_KEY


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _rules(constraints: Mapping[str, Any] | None) -> dict[str, Any]:
    if not constraints:
        return {}
    try:
        return files.read_constraints(constraints)[1]
    except (BaselineError, KeyError, TypeError, AttributeError):
        return {}  # a registry entry is validated on registration; never fail a read on it


def quality_window(doc: Mapping[str, Any], constraints: Mapping[str, Any] | None) -> QualityWindow:
    """One stored quality evaluation: its scalar metrics with their constraint and verdict."""
    problem = str(doc.get("problem_type", ""))
    stats = doc.get("statistics") or {}
    body = stats.get(METRICS_KEY.get(problem, ""), {}) if isinstance(stats, Mapping) else {}
    rules = _rules(constraints)
    violations = [v for v in doc.get("violations", []) if isinstance(v, Mapping)]
    broken = {str(v.get("metric_name")) for v in violations}
    metrics = []
    for name, entry in sorted(body.items()) if isinstance(body, Mapping) else []:
        if not isinstance(entry, Mapping) or "value" not in entry:
            continue
        if isinstance(entry["value"], Mapping | list):
            continue  # a confusion matrix, not a scalar
        rule = rules.get(name) or {}
        metrics.append(
            QualityMetric(
                name=name,
                value=_number(entry.get("value")),
                standard_deviation=_number(entry.get("standard_deviation")),
                threshold=_number(rule.get("threshold")),
                comparison_operator=rule.get("comparison_operator"),
                violated=files.camel(name) in broken or name in broken,
            )
        )
    return QualityWindow(
        window_start=utc(int(doc["window_start_ms"])),
        window_end=utc(int(doc["window_end_ms"])),
        problem_type=problem,
        predictions=int(doc.get("predictions", 0)),
        labelled=int(doc.get("labelled", 0)),
        coverage=float(doc.get("coverage", 1.0)),
        metrics=metrics,
        violations=[{str(k): str(v) for k, v in entry.items()} for entry in violations],
    )


def bias_window(doc: Mapping[str, Any]) -> BiasWindow:
    """One stored bias evaluation; documents written before the flat ``metrics`` rows existed
    are read from their analysis.json (post-training, no baseline or interval)."""
    rows = doc.get("metrics")
    if not isinstance(rows, list):
        rows = _rows_from_analysis(doc.get("analysis") or {}, doc.get("violations") or [])
    return BiasWindow(
        window_start=utc(int(doc["window_start_ms"])),
        window_end=utc(int(doc["window_end_ms"])),
        joined=int(doc.get("joined", 0)),
        skipped=int(doc.get("skipped", 0)),
        check="interval" if doc.get("check") == "interval" else "point",
        confidence_level=_number(doc.get("confidence_level")),
        violations=len(doc.get("violations") or []),
        metrics=[BiasMetric.model_validate(r) for r in rows],
    )


def _rows_from_analysis(analysis: Mapping[str, Any], violations: list[Any]) -> list[Any]:
    broken = {(v.get("facet"), v.get("facet_value"), v.get("metric_name")) for v in violations}
    section = analysis.get("post_training_bias_metrics") or {}
    rows = []
    for facet, values in (section.get("facets") or {}).items():
        for entry in values:
            for m in entry.get("metrics", []):
                key = (facet, entry.get("value_or_threshold"), m.get("name"))
                rows.append({
                    "stage": "post_training", "facet": facet,
                    "facet_value": str(entry.get("value_or_threshold")), "metric": m.get("name"),
                    "value": m.get("value"), "error": m.get("error"),
                    "ideal": ideal_value(str(m.get("name"))), "checked": True,
                    "violated": key in broken, "sensitive": 0, "rest": 0,
                })  # fmt: skip
    return rows


def attribution_window(doc: Mapping[str, Any]) -> AttributionWindow:
    """One stored attribution evaluation: per label its NDCG check and top features (a
    label without a check, e.g. no baseline, is listed unchecked; documents stored before the
    top features were kept have none)."""
    checks = [c for c in doc.get("checks") or [] if isinstance(c, Mapping)]
    top = doc.get("top_features")
    top = top if isinstance(top, Mapping) else {}
    labels = []
    for label in sorted({str(c.get("label")) for c in checks} | {str(k) for k in top}):
        check = next((c for c in checks if str(c.get("label")) == label), {})
        features = [f for f in top.get(label) or [] if isinstance(f, Mapping)]
        labels.append(
            AttributionLabel(
                label=label,
                ndcg=_number(check.get("ndcg")),
                threshold=_number(check.get("threshold")),
                violated=bool(check.get("violated", False)),
                top_features=[
                    AttributionFeature(
                        feature=str(f.get("feature")),
                        value=_number(f.get("value")) or 0.0,
                        baseline=_number(f.get("baseline")),
                    )
                    for f in features
                ],
            )
        )
    return AttributionWindow(
        window_start=utc(int(doc["window_start_ms"])),
        window_end=utc(int(doc["window_end_ms"])),
        attributions=max(0, int(doc.get("attributions", 0))),
        violations=sum(1 for label in labels if label.violated),
        labels=labels,
    )
