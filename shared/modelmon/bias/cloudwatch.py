"""CloudWatch datums of a window's bias metrics, under SageMaker Clarify's names.

SageMaker Developer Guide ``clarify-model-monitor-bias-drift-cw.md``: namespace
``aws/sagemaker/Endpoints/bias-metrics`` (``aws/sagemaker/ModelMonitoring/bias-metrics`` for
batch transform), metric ``bias_metric_<NAME>`` (e.g. ``bias_metric_CI``), dimensions
Endpoint, MonitoringSchedule, BiasStage (``Pre-training`` | ``Post-Training``), Label,
LabelValue, Facet, FacetValue. ±∞ is published as ±2.348543e108; a null (a metric Clarify
could not compute) is not published. A pure function: the alerting service publishes the
datums with ``modelmon.alerting.cloudwatch.batches`` and its CloudWatch client.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Final

from modelmon.alerting.cloudwatch import MAX_NAME_LENGTH, MetricDatum
from modelmon.bias.report import FacetValueReport

ENDPOINT_NAMESPACE: Final = "aws/sagemaker/Endpoints/bias-metrics"
BATCH_NAMESPACE: Final = "aws/sagemaker/ModelMonitoring/bias-metrics"
#: What SageMaker publishes in place of ±infinity (2**360, CloudWatch's largest magnitude).
INFINITY_VALUE: Final = 2.348543e108
BIAS_STAGES: Final = {"pre_training": "Pre-training", "post_training": "Post-Training"}
#: CloudWatch dimension values are 1-1024 characters.
_MAX_DIMENSION = 1024


def published_value(value: float | None) -> float | None:
    """The value SageMaker would publish: ±inf clamped, null and NaN left out."""
    if value is None or math.isnan(value):
        return None
    if math.isinf(value):
        return INFINITY_VALUE if value > 0 else -INFINITY_VALUE
    return value


def bias_metric_data(
    reports: Mapping[str, Sequence[FacetValueReport]],
    *,
    endpoint: str,
    schedule: str,
    label: str,
    label_value: str,
    timestamp: datetime,
) -> list[MetricDatum]:
    """One datum per (stage, facet, facet value, metric) with a publishable value.

    ``reports``: stage ("pre_training" / "post_training") -> that stage's facet reports.
    """
    data = []
    for stage, stage_reports in reports.items():
        for report in stage_reports:
            dims = (
                ("Endpoint", endpoint),
                ("MonitoringSchedule", schedule),
                ("BiasStage", BIAS_STAGES[stage]),
                ("Label", label),
                ("LabelValue", label_value),
                ("Facet", report.facet),
                ("FacetValue", report.value_or_threshold),
            )
            if any(not 0 < len(v) <= _MAX_DIMENSION for _, v in dims):
                continue
            for metric in report.metrics:
                value = published_value(metric.value)
                name = f"bias_metric_{metric.name}"
                if value is None or len(name) > MAX_NAME_LENGTH:
                    continue
                data.append(
                    MetricDatum(name=name, dimensions=dims, timestamp=timestamp, value=value)
                )
    return data
