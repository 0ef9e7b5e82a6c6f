"""Bias drift in the label join, pure: per-window bias state and its evaluation.

The label join (``services/labeljoin``) keeps, per (model, window of the prediction's event
time, join partition), a ``BiasState`` beside the quality state, written in the same fenced
flush: every newly captured prediction of a bias model counts once with ``joined=False``
(DPPL and DI on all traffic), every joined pair once with ``joined=True`` (the confusion
matrices the label-based metrics need). A window is evaluated as the quality window is: the
partitions' states merged, Clarify's post-training metrics per facet value
(``facet_reports``), ``bias_drift_check`` violations against the bias baseline
(``bias_violations``), alert events (ALARM per violated metric, OK per met one), CloudWatch
datums (``bias_metric_data``) and SageMaker's report files.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from modelmon.alerting.cloudwatch import MetricDatum
from modelmon.bias.analysis import BiasBaseline, json_value, parse_analysis, stage_section
from modelmon.bias.checks import (
    CHECK_TYPE,
    BiasViolation,
    bias_violations,
    ideal_value,
    violations_json,
)
from modelmon.bias.cloudwatch import bias_metric_data
from modelmon.bias.config import BiasConfig
from modelmon.bias.html import bias_report_page, bias_section
from modelmon.bias.report import (
    FacetValueReport,
    MetricInterval,
    facet_intervals,
    facet_reports,
)
from modelmon.bias.state import BiasState, state_from_columns
from modelmon.events import AlertEvent, series_alert

STAGE: Final = "post_training"
PRE_STAGE: Final = "pre_training"


@dataclass(frozen=True)
class IntervalOptions:
    """Confidence intervals of a window's metrics (``BiasSection``'s fields)."""

    level: float = 0.95
    replicates: int = 1000
    #: a violation needs the whole interval outside the allowed range (else the point rule)
    check: bool = False


def _columns(
    config: BiasConfig, predictions: Sequence[Any], labels: Sequence[Any] | None
) -> dict[str, list[Any]]:
    """Columns of rows given as prediction JoinRecords (and their labels): the facet and group
    inputs the record carries, the prediction (the score when the config names a probability
    column) and the label."""
    pred_col, is_probability = config.prediction_column()
    names = [f.name for f in config.facet]
    if config.group_variable is not None:
        names.append(config.column(config.group_variable))
    columns: dict[str, list[Any]] = {
        name: [(r.f or {}).get(name) for r in predictions] for name in dict.fromkeys(names)
    }
    columns[pred_col] = [r.s if is_probability else r.y for r in predictions]
    if labels is not None:
        columns[config.label_name] = list(labels)
    return columns


def delta_state(
    config: BiasConfig, captured: Sequence[Any], pairs: Sequence[tuple[Any, Any]]
) -> BiasState:
    """The bias counts a batch adds to one window: captured predictions (``joined=False``)
    and joined (prediction, label) pairs (``joined=True``)."""
    state = BiasState()
    if captured:
        state = state.merge(state_from_columns(config, _columns(config, captured, None), False))
    if pairs:
        preds = [p for p, _ in pairs]
        joined = state_from_columns(config, _columns(config, preds, [y for _, y in pairs]), True)
        state = state.merge(joined)
    return state


def add_delta(
    blob: bytes | None, config: BiasConfig, captured: Sequence[Any], pairs: Sequence[Any]
) -> bytes:
    """A partition's stored state (``b''``/None: none yet) with a batch's counts merged in."""
    stored = BiasState.deserialize(blob) if blob else BiasState()
    return stored.merge(delta_state(config, captured, pairs)).serialize()


@dataclass(frozen=True)
class BiasEvaluation:
    """One (model, window)'s bias metrics (post-training, checked; pre-training on the joined
    labels, reported), their confidence intervals and the violations."""

    model_id: str
    window_start_ms: int
    window_end_ms: int
    label: str
    label_value: str
    reports: tuple[FacetValueReport, ...]
    violations: tuple[BiasViolation, ...]
    joined: int
    skipped: int
    pre_reports: tuple[FacetValueReport, ...] = ()
    intervals: tuple[MetricInterval, ...] = ()
    confidence_level: float = 0.95
    check: str = "point"
    #: (stage, facet, facet value, metric) -> the baseline's value (None: Clarify's error)
    baselines: Mapping[tuple[str, str, str, str], float | None] = field(default_factory=dict)

    def analysis(self) -> dict[str, Any]:
        """Clarify's analysis.json of the window (post-training, and pre-training if any)."""
        doc: dict[str, Any] = {"version": "1.0"}
        if self.pre_reports:
            doc["pre_training_bias_metrics"] = stage_section(
                self.label, self.label_value, list(self.pre_reports)
            )
        section = stage_section(self.label, self.label_value, list(self.reports))
        doc["post_training_bias_metrics"] = section
        return doc

    def to_json(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id,
            "window_start_ms": self.window_start_ms,
            "window_end_ms": self.window_end_ms,
            "joined": self.joined,
            "skipped": self.skipped,
            "analysis": self.analysis(),
            "violations": [v.to_json() for v in self.violations],
            "confidence_level": self.confidence_level,
            "check": self.check,
            "intervals": [i.to_json() for i in self.intervals if _finite(i)],
            "metrics": self.metric_rows(),
        }

    def metric_rows(self) -> list[dict[str, Any]]:
        """One flat row per (stage, facet value, metric): value (±inf as Clarify's strings),
        its interval, the baseline's value, the ideal, and whether it violates."""
        bounds = {(i.stage, i.facet, i.facet_value, i.metric): i for i in self.intervals}
        broken = {(v.facet, v.facet_value, v.metric_name) for v in self.violations}
        rows = []
        for stage, reports in ((STAGE, self.reports), (PRE_STAGE, self.pre_reports)):
            for report in reports:
                for metric in report.metrics:
                    key = (stage, report.facet, report.value_or_threshold, metric.name)
                    interval = bounds.get(key)
                    finite = interval is not None and _finite(interval)
                    rows.append({
                        "stage": stage, "facet": report.facet,
                        "facet_value": report.value_or_threshold, "metric": metric.name,
                        "value": json_value(metric.value), "error": metric.error,
                        "low": interval.low if finite and interval else None,
                        "high": interval.high if finite and interval else None,
                        "baseline": json_value(self.baselines.get(key)),
                        "ideal": ideal_value(metric.name),
                        "checked": stage == STAGE,
                        "violated": stage == STAGE and key[1:] in broken,
                        "sensitive": report.counts[0], "rest": report.counts[1],
                    })  # fmt: skip
        return rows


def _finite(interval: MetricInterval) -> bool:
    return math.isfinite(interval.low) and math.isfinite(interval.high)


def joined_rows(state: BiasState) -> int:
    """Joined pairs counted in a state (every facet counts every row: the first one's total)."""
    facet = next(iter(state.facets.values()), None)
    return 0 if facet is None else int(facet.total()[:4].sum())


def evaluate_bias(
    model_id: str,
    window: tuple[int, int],
    config: BiasConfig,
    state: BiasState,
    baseline_doc: Mapping[str, Any] | None,
    options: IntervalOptions | None = None,
) -> BiasEvaluation:
    """The window's metrics per facet value, intervals (``options``; None: defaults, point
    rule) and ``bias_drift_check`` violations of the post-training metrics."""
    opts = options or IntervalOptions()
    asked = config.stage_methods()
    stages = {STAGE: asked.get(STAGE)}  # always checked, as SageMaker's model bias monitor
    if PRE_STAGE in asked:
        stages[PRE_STAGE] = asked[PRE_STAGE]
    reports = facet_reports(config, state, STAGE, stages[STAGE])
    pre: list[FacetValueReport] = []
    if PRE_STAGE in stages:
        pre = facet_reports(config, state, PRE_STAGE, stages[PRE_STAGE])
    intervals: list[MetricInterval] = []
    if opts.replicates >= 2:
        intervals = facet_intervals(config, state, stages, opts.level, opts.replicates)
    violations: list[BiasViolation] = []
    baselines: dict[tuple[str, str, str, str], float | None] = {}
    if baseline_doc is not None:
        baselines = _baseline_values(parse_analysis(dict(baseline_doc)), reports, pre)
        by_key = {
            (i.facet, i.facet_value, i.metric): (i.low, i.high)
            for i in intervals
            if i.stage == STAGE
        }
        violations = bias_violations(
            parse_analysis(dict(baseline_doc)), STAGE, reports, by_key if opts.check else None
        )
    return BiasEvaluation(
        model_id, window[0], window[1], config.label_name, config.label_value_or_threshold(),
        tuple(reports), tuple(violations), joined_rows(state), state.skipped, tuple(pre),
        tuple(intervals), opts.level, "interval" if opts.check else "point", baselines,
    )  # fmt: skip


def _baseline_values(
    baseline: BiasBaseline,
    post: Sequence[FacetValueReport],
    pre: Sequence[FacetValueReport],
) -> dict[tuple[str, str, str, str], float | None]:
    out: dict[tuple[str, str, str, str], float | None] = {}
    for stage, reports in ((STAGE, post), (PRE_STAGE, pre)):
        for report in reports:
            for metric in report.metrics:
                found = baseline.lookup(stage, report.facet, report.value_or_threshold, metric.name)
                if found is not None:
                    key = (stage, report.facet, report.value_or_threshold, metric.name)
                    out[key] = found.value
    return out


def _when(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def alert_feature(facet: str, facet_value: str, metric: str) -> str:
    return f"{facet}={facet_value}/{metric}"


def bias_alert_events(
    evaluation: BiasEvaluation,
    baseline_doc: Mapping[str, Any],
    detected_at: datetime,
    severity: str = "warning",
    variant: str = "AllTraffic",
) -> list[AlertEvent]:
    """ALARM per metric worse than its baseline, OK per finite metric that has a baseline
    value and is not (alerting keeps the state machine per facet value and metric).

    ``value`` and ``threshold`` are the distances from the metric's ideal value (0, or 1 for
    DI) — SageMaker's rule is ``value > threshold`` on them, as the CloudWatch alarm's; the
    description carries the metric and baseline values themselves."""
    baseline: BiasBaseline = parse_analysis(dict(baseline_doc))
    broken = {(v.facet, v.facet_value, v.metric_name): v for v in evaluation.violations}
    events = []
    for report in evaluation.reports:
        for metric in report.metrics:
            found = baseline.lookup(STAGE, report.facet, report.value_or_threshold, metric.name)
            value = metric.value
            if found is None or found.value is None or value is None:
                continue
            if not (math.isfinite(value) and math.isfinite(found.value)):
                continue  # an infinite baseline is never exceeded; an infinite value has no OK
            violation = broken.get((report.facet, report.value_or_threshold, metric.name))
            state = "ALARM" if violation else "OK"
            feature = alert_feature(report.facet, report.value_or_threshold, metric.name)
            ideal = ideal_value(metric.name)
            description = (
                violation.description
                if violation
                else f"Metric value {value:.4g} meets the baseline {found.value:.4g}"
            )
            events.append(
                series_alert(
                    evaluation,
                    "b",
                    evaluation.joined,
                    CHECK_TYPE,
                    feature,
                    state,
                    description=f"{description} ({evaluation.joined} joined pairs)",
                    detected_at=detected_at,
                    variant=variant,
                    value=abs(float(value) - ideal),
                    threshold=abs(float(found.value) - ideal),
                    method=f"|{metric.name} - {ideal:g}|",
                    severity=severity,
                )
            )
    return events


def cloudwatch_data(evaluation: BiasEvaluation, endpoint: str, schedule: str) -> list[MetricDatum]:
    """``bias_metric_<NAME>`` datums with SageMaker's dimensions, at the window's end."""
    return bias_metric_data(
        {STAGE: evaluation.reports}, endpoint=endpoint, schedule=schedule,
        label=evaluation.label, label_value=evaluation.label_value,
        timestamp=_when(evaluation.window_end_ms),
    )  # fmt: skip


def report_files(
    evaluation: BiasEvaluation, baseline_doc: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """SageMaker's model-bias analysis.json and constraint_violations.json of the window, and
    report.html (per facet value: each metric, its interval, its baseline, violations)."""

    def dumps(doc: Any) -> str:
        return json.dumps(doc, indent=2, sort_keys=False, allow_nan=False) + "\n"

    return {
        "analysis.json": dumps(evaluation.analysis()),
        "constraint_violations.json": dumps(violations_json(list(evaluation.violations))),
        "report.html": report_html(evaluation, baseline_doc),
    }


def report_html(evaluation: BiasEvaluation, baseline_doc: Mapping[str, Any] | None) -> str:
    """The window's bias report page (self-contained, every value escaped)."""
    baseline = parse_analysis(dict(baseline_doc)) if baseline_doc is not None else None
    by_stage: dict[str, dict[tuple[str, str, str], tuple[float, float]]] = {}
    for i in evaluation.intervals:
        by_stage.setdefault(i.stage, {})[(i.facet, i.facet_value, i.metric)] = (i.low, i.high)
    level = evaluation.confidence_level
    sections = [
        bias_section(STAGE, evaluation.reports, baseline, evaluation.violations,
                     by_stage.get(STAGE, {}), level),
    ]  # fmt: skip
    if evaluation.pre_reports:
        sections.append(
            bias_section(PRE_STAGE, evaluation.pre_reports, baseline, (),
                         by_stage.get(PRE_STAGE, {}), level, checked=False)
        )  # fmt: skip
    start, end = _when(evaluation.window_start_ms), _when(evaluation.window_end_ms)
    rule = "whole interval outside" if evaluation.check == "interval" else "point value"
    meta = (
        f"model {evaluation.model_id}, window {start.isoformat()} - {end.isoformat()}: "
        f"{evaluation.joined} joined pairs, {evaluation.skipped} skipped; "
        f"{len(evaluation.violations)} violation(s) (rule: {rule} of the baseline's range)"
    )
    return bias_report_page(f"Bias drift: {evaluation.model_id}", sections, meta)
