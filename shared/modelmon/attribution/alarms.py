"""CloudWatch alarms on feature-attribution drift: one per label of the explainability
baseline, on ``AttributionNDCG`` (``aws/sagemaker/Endpoints/explainability-metrics``,
dimensions Endpoint, MonitoringSchedule, ExplainabilityMethod, Label, ValueType=NDCG) below
the model's threshold (0.9 by default, SageMaker's). Missing data does not breach.
"""

from __future__ import annotations

from typing import Any

from modelmon.alerting.alarms import MAX_ALARM_NAME, alarm_prefix, period_seconds
from modelmon.alerting.cloudwatch import dimensions
from modelmon.attribution.analysis import parse_analysis
from modelmon.attribution.cloudwatch import ENDPOINT_NAMESPACE, METHOD, NDCG_METRIC
from modelmon.config import ModelConfig


def attribution_alarm_specs(
    config: ModelConfig, actions: list[str], evaluation_periods: int = 1
) -> list[dict[str, Any]]:
    """The ``put_metric_alarm`` requests for the model's explainability baseline (may be none)."""
    section = config.explainability
    if section is None or not section.baseline:
        return []
    baseline = parse_analysis(section.baseline)
    base = dimensions(config.model_id, config.alerts.cloudwatch, config)
    specs = []
    for label in sorted(baseline.labels):
        dims = (*base, ("ExplainabilityMethod", METHOD), ("Label", label), ("ValueType", "NDCG"))
        specs.append(
            {
                "AlarmName": (alarm_prefix(config.model_id) + f"attribution_{label}")[
                    :MAX_ALARM_NAME
                ],
                "AlarmDescription": (
                    f"modelmon: feature attribution drift of model {config.model_id}, label "
                    f"{label} (NDCG < {section.threshold})"
                ),
                "Namespace": ENDPOINT_NAMESPACE,
                "MetricName": NDCG_METRIC,
                "Dimensions": [{"Name": n, "Value": v} for n, v in dims],
                "Statistic": "Minimum",
                "Period": period_seconds(config.window.size_seconds),
                "EvaluationPeriods": evaluation_periods,
                "DatapointsToAlarm": evaluation_periods,
                "ComparisonOperator": "LessThanThreshold",
                "Threshold": float(section.threshold),
                "TreatMissingData": "notBreaching",
                "AlarmActions": list(actions),
                "OKActions": list(actions),
                "ActionsEnabled": True,
            }
        )
    return specs
