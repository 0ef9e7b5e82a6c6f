"""CloudWatch datums of a window's attributions, as SageMaker publishes explainability.

SageMaker Developer Guide ``clarify-feature-attribute-drift-cw.md``: namespace
``aws/sagemaker/Endpoints/explainability-metrics`` (``aws/sagemaker/ModelMonitoring/
explainability-metrics`` for batch transform); metric ``feature_<name>`` per feature (its
global SHAP value) and ``ExpectedValue``; dimensions Endpoint, MonitoringSchedule,
ExplainabilityMethod (``KernelShap``), Label, ValueType (``GlobalShapValues`` |
``ExpectedValue``). modelmon adds one metric SageMaker does not publish, ``AttributionNDCG``
(ValueType ``NDCG``): the window's NDCG, which the explainability alarm watches.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Final

from modelmon.alerting.cloudwatch import MAX_NAME_LENGTH, MetricDatum
from modelmon.attribution.checks import LabelCheck

ENDPOINT_NAMESPACE: Final = "aws/sagemaker/Endpoints/explainability-metrics"
BATCH_NAMESPACE: Final = "aws/sagemaker/ModelMonitoring/explainability-metrics"
METHOD: Final = "KernelShap"
NDCG_METRIC: Final = "AttributionNDCG"
_MAX_DIMENSION = 1024


def label_dimensions(
    endpoint: str, schedule: str, label: str, value_type: str
) -> tuple[tuple[str, str], ...]:
    return (
        ("Endpoint", endpoint),
        ("MonitoringSchedule", schedule),
        ("ExplainabilityMethod", METHOD),
        ("Label", label[:_MAX_DIMENSION]),
        ("ValueType", value_type),
    )


def explainability_metric_data(
    checks: Sequence[LabelCheck],
    *,
    endpoint: str,
    schedule: str,
    timestamp: datetime,
    expected_values: dict[str, float] | None = None,
) -> list[MetricDatum]:
    """``feature_<name>`` per feature and label, ``ExpectedValue`` when known, and the NDCG."""
    data = []
    for check in checks:
        dims = label_dimensions(endpoint, schedule, check.label, "GlobalShapValues")
        for feature, value in sorted(check.live.items()):
            name = f"feature_{feature}"
            if len(name) <= MAX_NAME_LENGTH and math.isfinite(value):
                data.append(
                    MetricDatum(name=name, dimensions=dims, timestamp=timestamp, value=value)
                )
        expected = (expected_values or {}).get(check.label)
        if expected is not None and math.isfinite(expected):
            dims = label_dimensions(endpoint, schedule, check.label, "ExpectedValue")
            data.append(
                MetricDatum(
                    name="ExpectedValue", dimensions=dims, timestamp=timestamp, value=expected
                )
            )
        if check.evaluated:
            dims = label_dimensions(endpoint, schedule, check.label, "NDCG")
            data.append(
                MetricDatum(
                    name=NDCG_METRIC, dimensions=dims, timestamp=timestamp, value=check.ndcg
                )
            )
    return data
