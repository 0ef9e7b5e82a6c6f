"""CloudWatch alarms on the model-quality metrics the label join publishes.

One alarm per constraint of the model's ``quality.constraints``: metric = the statistic name
under ``aws/sagemaker/Endpoints/model-metrics`` (dimensions Endpoint, MonitoringSchedule), the
constraint's operator and threshold — as AWS's model-quality notebook creates them by hand.
Missing data (labels not in yet) does not breach.
"""

from __future__ import annotations

from typing import Any

from modelmon.alerting.alarms import MAX_ALARM_NAME, alarm_prefix, period_seconds
from modelmon.alerting.cloudwatch import dimensions
from modelmon.config import ModelConfig
from modelmon.quality.evaluate import MODEL_METRICS_NAMESPACE
from modelmon.quality.files import read_constraints


def quality_alarm_specs(
    config: ModelConfig, actions: list[str], evaluation_periods: int = 1
) -> list[dict[str, Any]]:
    """The ``put_metric_alarm`` requests for the model's quality constraints (may be none)."""
    if config.quality is None or not config.quality.constraints:
        return []
    _, rules = read_constraints(config.quality.constraints)
    route = config.alerts.cloudwatch
    specs = []
    for metric, rule in sorted(rules.items()):
        op = rule["comparison_operator"]
        specs.append(
            {
                "AlarmName": (alarm_prefix(config.model_id) + f"quality_{metric}")[:MAX_ALARM_NAME],
                "AlarmDescription": (
                    f"modelmon: model quality {metric} of model {config.model_id} "
                    f"({'<' if op == 'LessThanThreshold' else '>'} {rule['threshold']})"
                ),
                "Namespace": MODEL_METRICS_NAMESPACE,
                "MetricName": metric,
                "Dimensions": [
                    {"Name": n, "Value": v} for n, v in dimensions(config.model_id, route, config)
                ],
                "Statistic": "Average",
                "Period": period_seconds(config.window.size_seconds),
                "EvaluationPeriods": evaluation_periods,
                "DatapointsToAlarm": evaluation_periods,
                "ComparisonOperator": op,
                "Threshold": float(rule["threshold"]),
                "TreatMissingData": "notBreaching",
                "AlarmActions": list(actions),
                "OKActions": list(actions),
                "ActionsEnabled": True,
            }
        )
    return specs
