"""A quality window's evaluation: metrics, label coverage, violations, alerts, CloudWatch data.

Pure: the label-join service reads the window's partials and counters, calls ``evaluate`` and
sends what ``alert_events`` and ``cloudwatch_metric_data`` return through the existing alert
path (``modelmon.alerts.v1``) and CloudWatch (``aws/sagemaker/Endpoints/model-metrics``, metric
name = statistic name, dimensions Endpoint and MonitoringSchedule, as SageMaker publishes them).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Final, cast

from modelmon.events import AlertEvent, series_alert
from modelmon.quality import files
from modelmon.quality.problem import ProblemType, QualityState

MODEL_METRICS_NAMESPACE: Final = "aws/sagemaker/Endpoints/model-metrics"
CHECK_TYPE: Final = "model_quality_check"


@dataclass(frozen=True)
class QualityEvaluation:
    """One evaluation of one (model, window): every metric, its coverage and violations."""

    model_id: str
    window_start_ms: int
    window_end_ms: int
    problem_type: str
    predictions: int
    labelled: int
    expired: int
    metrics: dict[str, Any]
    violations: list[dict[str, str]]

    @property
    def coverage(self) -> float:
        """Labelled / predictions of the window (1.0 when no prediction was seen)."""
        return self.labelled / self.predictions if self.predictions else 1.0

    def to_json(self) -> dict[str, Any]:
        body = asdict(self)
        body["coverage"] = self.coverage
        problem = cast("ProblemType", self.problem_type)
        body["statistics"] = files.statistics(problem, self.metrics, self.labelled)
        del body["metrics"]
        return body


def evaluate(
    model_id: str,
    problem_type: str,
    window: tuple[int, int],
    state: QualityState,
    counts: Mapping[str, int],
    constraints: Mapping[str, Any] | None,
) -> QualityEvaluation:
    metrics = state.metrics()
    rules: dict[str, Any] = {}
    if constraints:
        _, rules = files.read_constraints(constraints)
    return QualityEvaluation(
        model_id=model_id,
        window_start_ms=window[0],
        window_end_ms=window[1],
        problem_type=problem_type,
        predictions=int(counts.get("predictions", 0)),
        labelled=state.count,
        expired=int(counts.get("expired", 0)),
        metrics=metrics,
        violations=files.check(rules, metrics) if rules else [],
    )


def _when(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def alert_events(
    evaluation: QualityEvaluation,
    constraints: Mapping[str, Any],
    detected_at: datetime,
    severity: str = "warning",
    variant: str = "AllTraffic",
) -> list[AlertEvent]:
    """ALARM per violated constraint and OK per met one (alerting keeps the state machine)."""
    _, rules = files.read_constraints(constraints)
    broken = {v["metric_name"]: v for v in evaluation.violations}
    events = []
    for name, rule in rules.items():
        entry = evaluation.metrics.get(name)
        if not isinstance(entry, Mapping) or not isinstance(entry.get("value"), int | float):
            continue
        violation = broken.get(files.camel(name))
        state = "ALARM" if violation else "OK"
        description = (
            violation["description"]
            if violation
            else f"Metric {files.camel(name)} with {entry['value']} is not "
            f"{rule['comparison_operator']} '{rule['threshold']}'"
        )
        events.append(
            series_alert(
                evaluation,
                "q",
                evaluation.labelled,
                CHECK_TYPE,
                name,
                state,
                description=f"{description} (label coverage {evaluation.coverage:.1%})",
                detected_at=detected_at,
                variant=variant,
                value=float(entry["value"]),
                threshold=float(rule["threshold"]),
                severity=severity,
            )
        )
    return events


def cloudwatch_metric_data(
    evaluation: QualityEvaluation, endpoint: str, schedule: str
) -> list[dict[str, Any]]:
    """PutMetricData entries: one per scalar metric (name = statistic name) plus coverage."""
    dims = [
        {"Name": "Endpoint", "Value": endpoint},
        {"Name": "MonitoringSchedule", "Value": schedule},
    ]
    when = _when(evaluation.window_end_ms)
    values = {
        name: entry["value"]
        for name, entry in evaluation.metrics.items()
        if isinstance(entry, Mapping) and isinstance(entry.get("value"), int | float)
    }
    values["label_coverage"] = evaluation.coverage
    return [
        {"MetricName": name, "Dimensions": dims, "Value": float(v), "Timestamp": when}
        for name, v in values.items()
        if math.isfinite(float(v))
    ]


def report_path(endpoint: str, schedule: str, evaluation: QualityEvaluation) -> str:
    """``{endpoint}/{schedule}/yyyy/mm/dd/hh/[MMSS/]model-quality/``: beside the data-quality
    reports of the same window (the detector's layout), in their own folder."""
    window = (evaluation.window_start_ms, evaluation.window_end_ms)
    return window_folder(endpoint, schedule, window) + "model-quality/"


def window_folder(endpoint: str, schedule: str, window: tuple[int, int]) -> str:
    """``{endpoint}/{schedule}/yyyy/mm/dd/hh/[MMSS/]`` of a window (MMSS below an hour)."""
    start = _when(window[0])
    path = f"{endpoint}/{schedule}/{start:%Y/%m/%d/%H}/"
    if window[1] - window[0] < 3_600_000:
        path += f"{start:%M%S}/"
    return path


def report_files(evaluation: QualityEvaluation) -> dict[str, str]:
    """SageMaker's model-quality statistics.json and constraint_violations.json."""
    problem = cast("ProblemType", evaluation.problem_type)
    stats = files.statistics(problem, evaluation.metrics, evaluation.labelled)
    stats["dataset"]["label_coverage"] = evaluation.coverage  # ours: labelled / predictions
    return {
        "statistics.json": files.dumps(stats),
        "constraint_violations.json": files.dumps(files.violations_file(evaluation.violations)),
    }
