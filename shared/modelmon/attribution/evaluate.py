"""One window's feature-attribution drift evaluation, shared by the streaming detector and
the batch CLI (pure): the window's global SHAP values from its merged ``AttributionState``,
the NDCG per label against the explainability baseline (``checks``), and what leaves it —
report files, alert events and CloudWatch datums.

Report files go to ``{endpoint}/{schedule}/yyyy/mm/dd/hh/[MMSS/]model-explainability/``
(beside the window's data-quality reports, as ``model-quality/`` and ``model-bias/`` do):
``analysis.json`` (Clarify's shape, the window's global SHAP values) and
``constraint_violations.json`` (``feature_attribution_drift_check``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from modelmon.alerting.cloudwatch import MetricDatum
from modelmon.attribution.analysis import (
    ExplainabilityAnalysis,
    LabelExplanation,
    analysis_document,
    parse_analysis,
)
from modelmon.attribution.checks import (
    CHECK_TYPE,
    DEFAULT_THRESHOLD,
    LabelCheck,
    check_labels,
    violations_json,
)
from modelmon.attribution.cloudwatch import explainability_metric_data
from modelmon.attribution.state import DEFAULT_LABEL, AttributionState
from modelmon.events import AlertEvent, series_alert

FOLDER: Final = "model-explainability/"
#: Features per label the stored summary keeps (the window's highest mean |SHAP| first).
TOP_FEATURES: Final = 10


@dataclass(frozen=True, slots=True)
class AttributionSettings:
    """What the evaluation needs of the model's ``explainability`` config section."""

    baseline: dict[str, Any] | None = None
    threshold: float = DEFAULT_THRESHOLD
    label: str = DEFAULT_LABEL
    baseline_label: str | None = None

    @staticmethod
    def of(section: Any) -> AttributionSettings | None:
        """From a ``ModelConfig.explainability`` (None stays None)."""
        if section is None:
            return None
        return AttributionSettings(
            section.baseline, section.threshold, section.label, section.baseline_label
        )


@dataclass(frozen=True)
class AttributionEvaluation:
    model_id: str
    window_start_ms: int
    window_end_ms: int
    live: dict[str, dict[str, float]]  # label -> global SHAP values of the window
    checks: list[LabelCheck] = field(default_factory=list)
    attributions: int = 0  # events with attributions in the window
    baseline: ExplainabilityAnalysis | None = None

    @property
    def violated(self) -> list[LabelCheck]:
        return [c for c in self.checks if c.violated]

    def analysis(self) -> dict[str, Any]:
        """The window's analysis.json (Clarify's shape)."""
        labels = {label: LabelExplanation(values) for label, values in sorted(self.live.items())}
        return analysis_document(labels)

    def to_json(self) -> dict[str, Any]:
        """A summary for reports and the API: the NDCG per label and, per label, the window's
        ``TOP_FEATURES`` features by mean |SHAP| beside their baseline values."""
        return {
            "model_id": self.model_id,
            "window_start_ms": self.window_start_ms,
            "window_end_ms": self.window_end_ms,
            "attributions": self.attributions,
            "checks": [
                {
                    "label": c.label,
                    "ndcg": c.ndcg if c.evaluated else None,
                    "threshold": c.threshold,
                    "violated": c.violated,
                }
                for c in self.checks
            ],
            "top_features": self.top_features(),
        }

    def top_features(self, n: int = TOP_FEATURES) -> dict[str, list[dict[str, Any]]]:
        """Per checked label (the baseline's name) the window's ``n`` features with the
        highest mean |SHAP| (ties by name), each with its baseline value (null: not in the
        baseline); labels without a check have no baseline values."""

        def ranked(values: Mapping[str, float], baseline: Mapping[str, float]) -> list[Any]:
            top = sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
            return [{"feature": f, "value": v, "baseline": baseline.get(f)} for f, v in top]

        found = {c.label: ranked(c.live, c.baseline) for c in self.checks}
        for label, values in sorted(self.live.items()):
            if not any(c.live == values for c in self.checks):
                found.setdefault(label, ranked(values, {}))
        return found


def evaluate_attributions(
    model_id: str,
    window: tuple[int, int],
    state: AttributionState,
    settings: AttributionSettings,
) -> AttributionEvaluation:
    """The window's global SHAP values and, with a baseline, its NDCG checks."""
    live = {label: state.global_shap(label) for label in sorted(state.labels)}
    live = {label: values for label, values in live.items() if values}
    baseline = parse_analysis(settings.baseline) if settings.baseline else None
    checks: list[LabelCheck] = []
    if baseline is not None and live:
        mapping = None
        if settings.baseline_label is not None:
            mapping = {settings.label: settings.baseline_label}
        checks = check_labels(baseline, live, settings.threshold, mapping)
    return AttributionEvaluation(model_id, window[0], window[1], live, checks, len(state), baseline)


def _when(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def alert_events(
    evaluation: AttributionEvaluation,
    detected_at: datetime,
    severity: str = "warning",
    variant: str = "AllTraffic",
) -> list[AlertEvent]:
    """ALARM per label whose NDCG is below the threshold, OK per evaluated label that is not
    (alerting keeps the state machine per label). ``value`` is the NDCG, ``threshold`` the
    threshold: the alarm reads ``value < threshold``."""
    events = []
    for check in evaluation.checks:
        if not check.evaluated:
            continue
        state = "ALARM" if check.violated else "OK"
        description = (
            check.description
            if check.violated
            else f"Feature attribution NDCG {check.ndcg:.4f} meets threshold {check.threshold}"
        )
        events.append(
            series_alert(
                evaluation,
                "a",
                evaluation.attributions,
                CHECK_TYPE,
                check.label,
                state,
                description=description,
                detected_at=detected_at,
                variant=variant,
                value=check.ndcg,
                threshold=check.threshold,
                method="ndcg",
                severity=severity,
            )
        )
    return events


def cloudwatch_data(
    evaluation: AttributionEvaluation, endpoint: str, schedule: str
) -> list[MetricDatum]:
    """The window's explainability datums (``cloudwatch.explainability_metric_data``)."""
    checks = evaluation.checks
    if not checks:  # no baseline: still publish the global SHAP values
        checks = [
            LabelCheck(label, float("nan"), DEFAULT_THRESHOLD, {}, values)
            for label, values in evaluation.live.items()
        ]
    return explainability_metric_data(
        checks, endpoint=endpoint, schedule=schedule, timestamp=_when(evaluation.window_end_ms)
    )


def report_files(evaluation: AttributionEvaluation) -> dict[str, str]:
    """analysis.json and constraint_violations.json of the window (SageMaker's shapes)."""

    def dumps(doc: Any) -> str:
        return json.dumps(doc, indent=2, allow_nan=False) + "\n"

    return {
        "analysis.json": dumps(evaluation.analysis()),
        "constraint_violations.json": dumps(violations_json(evaluation.checks)),
    }
