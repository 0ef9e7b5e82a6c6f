"""CloudWatch alarms on the bias metrics the label join publishes (``bias_drift_check``).

One alarm per (facet, facet value, post-training metric) with a finite baseline value in the
model's ``bias.baseline``: "worse than the baseline" is ``|value - ideal| > |baseline - ideal|``
(SageMaker's rule, ``modelmon.bias.checks``), so the alarm watches the metric-math expression
``ABS(m - ideal)`` of ``bias_metric_<NAME>`` under ``aws/sagemaker/Endpoints/bias-metrics``
(dimensions Endpoint, MonitoringSchedule, BiasStage, Label, LabelValue, Facet, FacetValue)
against ``|baseline - ideal|``. Missing data (too few labels) does not breach.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

from modelmon.alerting.alarms import MAX_ALARM_NAME, alarm_prefix, period_seconds
from modelmon.alerting.cloudwatch import dimensions
from modelmon.bias.analysis import parse_analysis
from modelmon.bias.checks import ideal_value
from modelmon.bias.cloudwatch import BIAS_STAGES, ENDPOINT_NAMESPACE
from modelmon.config import ModelConfig


def _name(config: ModelConfig, facet: str, value: str, metric: str) -> str:
    """Readable and unique: a digest of the key ends the name when it is cut to the limit."""
    digest = hashlib.sha256(f"{facet}|{value}|{metric}".encode()).hexdigest()[:8]
    head = alarm_prefix(config.model_id) + f"bias_{metric}_{facet}={value}"
    return head[: MAX_ALARM_NAME - 9] + "-" + digest


def bias_alarm_specs(
    config: ModelConfig, actions: list[str], evaluation_periods: int = 1
) -> list[dict[str, Any]]:
    """The ``put_metric_alarm`` requests for the model's bias baseline (may be none)."""
    if config.bias is None or not config.bias.baseline:
        return []
    bias = config.bias.analysis_config
    baseline = parse_analysis(config.bias.baseline)
    base_dims = dimensions(config.model_id, config.alerts.cloudwatch, config)
    specs = []
    for m in baseline.metrics:
        if m.stage != "post_training" or m.value is None or not math.isfinite(m.value):
            continue
        ideal = ideal_value(m.name)
        dims = (*base_dims, ("BiasStage", BIAS_STAGES["post_training"]),
                ("Label", bias.label_name), ("LabelValue", bias.label_value_or_threshold()),
                ("Facet", m.facet), ("FacetValue", m.value_or_threshold))  # fmt: skip
        stat = {
            "Metric": {
                "Namespace": ENDPOINT_NAMESPACE,
                "MetricName": f"bias_metric_{m.name}",
                "Dimensions": [{"Name": n, "Value": v} for n, v in dims],
            },
            "Period": period_seconds(config.window.size_seconds),
            "Stat": "Average",
        }
        specs.append(
            {
                "AlarmName": _name(config, m.facet, m.value_or_threshold, m.name),
                "AlarmDescription": (
                    f"modelmon: bias {m.name} of model {config.model_id}, facet {m.facet}="
                    f"{m.value_or_threshold}, farther from {ideal:g} than the baseline {m.value:g}"
                ),
                "Metrics": [
                    {"Id": "m", "MetricStat": stat, "ReturnData": False},
                    {
                        "Id": "e",
                        "Expression": f"ABS(m - {ideal:g})",
                        "ReturnData": True,
                        "Label": f"|bias_metric_{m.name} - {ideal:g}|",
                    },
                ],
                "EvaluationPeriods": evaluation_periods,
                "DatapointsToAlarm": evaluation_periods,
                "ComparisonOperator": "GreaterThanThreshold",
                "Threshold": abs(m.value - ideal),
                "TreatMissingData": "notBreaching",
                "AlarmActions": list(actions),
                "OKActions": list(actions),
                "ActionsEnabled": True,
            }
        )
    return specs
