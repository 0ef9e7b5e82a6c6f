"""CloudWatch alarms on modelmon's metrics, for users who want CloudWatch to page them too.

modelmon decides violations itself (and notifies through SNS and webhooks); these alarms are
the SageMaker-style alternative on real AWS: one per feature on ``feature_baseline_drift_<f>``
(Maximum > drift threshold) and, where a completeness threshold is configured, one on
``feature_non_null_<f>`` (Minimum < threshold), with the SNS topic as alarm and OK action.
``put_metric_alarm`` creates or replaces by name, so creating twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from modelmon.alerting.cloudwatch import dimensions
from modelmon.config import ModelConfig

MAX_ALARM_NAME = 255
MAX_PERIOD = 86400


def alarm_prefix(model_id: str) -> str:
    """Every alarm of a model starts with this (``alarms list/delete`` find them by it)."""
    return f"modelmon-{model_id}-"


def period_seconds(window_seconds: int) -> int:
    """The window size as a CloudWatch period: a multiple of 60 s, at most one day."""
    minutes = max(1, -(-window_seconds // 60))
    return min(MAX_PERIOD, minutes * 60)


def alarm_specs(
    config: ModelConfig, features: Iterable[str], actions: list[str], evaluation_periods: int = 1
) -> list[dict[str, Any]]:
    """The ``put_metric_alarm`` requests for a model's features, sorted by alarm name."""
    route = config.alerts.cloudwatch
    common: dict[str, Any] = {
        "Namespace": route.namespace,
        "Dimensions": [
            {"Name": n, "Value": v} for n, v in dimensions(config.model_id, route, config)
        ],
        "Period": period_seconds(config.window.size_seconds),
        "EvaluationPeriods": evaluation_periods,
        "DatapointsToAlarm": evaluation_periods,
        "TreatMissingData": "notBreaching",
        "AlarmActions": list(actions),
        "OKActions": list(actions),
        "ActionsEnabled": True,
    }
    specs: list[dict[str, Any]] = []
    for feature in sorted(set(features)):
        own = config.feature(feature)
        drift = own.drift_threshold if own and own.drift_threshold is not None else None
        threshold = drift if drift is not None else config.drift.threshold
        specs.append(
            _spec(
                config,
                feature,
                "feature_baseline_drift",
                "Maximum",
                "GreaterThanThreshold",
                threshold,
                "baseline drift",
                common,
            )
        )
        if own is not None and own.completeness_threshold is not None:
            specs.append(
                _spec(
                    config,
                    feature,
                    "feature_non_null",
                    "Minimum",
                    "LessThanThreshold",
                    own.completeness_threshold,
                    "completeness",
                    common,
                )
            )
    return sorted(specs, key=lambda s: str(s["AlarmName"]))


def _spec(
    config: ModelConfig,
    feature: str,
    metric: str,
    stat: str,
    op: str,
    threshold: float,
    what: str,
    common: dict[str, Any],
) -> dict[str, Any]:
    name = f"{metric}_{feature}"
    return {
        **common,
        "AlarmName": (alarm_prefix(config.model_id) + name)[:MAX_ALARM_NAME],
        "AlarmDescription": (
            f"modelmon: {what} of feature {feature} of model {config.model_id} "
            f"({stat} {'>' if op.startswith('Greater') else '<'} {threshold})"
        ),
        "MetricName": name,
        "Statistic": stat,
        "ComparisonOperator": op,
        "Threshold": float(threshold),
    }


def baseline_features(statistics_json: bytes) -> list[str]:
    """Feature names of a SageMaker ``statistics.json``."""
    import json

    doc = json.loads(statistics_json)
    return [str(f["name"]) for f in doc.get("features", []) if "name" in f]
