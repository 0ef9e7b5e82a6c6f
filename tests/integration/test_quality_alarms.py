"""``modelmon alarms create`` covers the model-quality metrics (moto CloudWatch)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from click.testing import CliRunner

from modelmon.cli import cli
from modelmon.config import ModelConfig
from modelmon.keys import Keys
from modelmon.registry import Registry


def test_alarms_create_covers_quality_constraints(
    redis_client: Any, redis_prefix: str, boto_client: Callable[[str], Any], monkeypatch: Any
) -> None:
    monkeypatch.setenv("MODELMON_REDIS__KEY_PREFIX", redis_prefix)
    model = f"q-{uuid.uuid4().hex[:8]}"
    constraints = {
        "version": 0.0,
        "binary_classification_constraints": {
            "f2": {"threshold": 0.62, "comparison_operator": "LessThanThreshold"},
            "false_positive_rate": {
                "threshold": 0.1,
                "comparison_operator": "GreaterThanThreshold",
            },
        },
    }
    config = ModelConfig.model_validate({
        "model_id": model, "window": {"size_seconds": 600},
        "quality": {"problem_type": "BinaryClassification", "constraints": constraints},
    })  # fmt: skip
    Registry(redis_client, Keys(redis_prefix)).register(config)
    arn = boto_client("sns").create_topic(Name=f"alarms-{model}")["TopicArn"]
    cw = boto_client("cloudwatch")
    try:
        for _ in range(2):  # idempotent
            out = CliRunner().invoke(
                cli, ["alarms", "create", "--model", model, "--sns-topic", arn],
                catch_exceptions=False,
            )  # fmt: skip
            assert out.exit_code == 0, out.output
        found = cw.describe_alarms(AlarmNamePrefix=f"modelmon-{model}-")["MetricAlarms"]
        assert sorted(
            (a["Namespace"], a["MetricName"], a["ComparisonOperator"], a["Threshold"], a["Period"])
            for a in found
        ) == [
            ("aws/sagemaker/Endpoints/model-metrics", "f2", "LessThanThreshold", 0.62, 600),
            ("aws/sagemaker/Endpoints/model-metrics", "false_positive_rate",
             "GreaterThanThreshold", 0.1, 600),
        ]  # fmt: skip
        assert sorted((d["Name"], d["Value"]) for d in found[0]["Dimensions"]) == [
            ("Endpoint", model), ("MonitoringSchedule", "modelmon"),
        ]  # fmt: skip
    finally:
        CliRunner().invoke(cli, ["alarms", "delete", "--model", model])


def test_alarms_create_covers_bias_baseline(
    redis_client: Any, redis_prefix: str, boto_client: Callable[[str], Any], monkeypatch: Any
) -> None:
    """One metric-math alarm per finite post-training baseline metric: |m - ideal| > |b - ideal|."""
    monkeypatch.setenv("MODELMON_REDIS__KEY_PREFIX", redis_prefix)
    model = f"b-{uuid.uuid4().hex[:8]}"
    metric = {"name": "DPPL", "description": "d", "value": -0.2}
    di = {"name": "DI", "description": "d", "value": 1.25}
    inf = {"name": "AD", "description": "d", "value": "Infinity"}
    facet = {"value_or_threshold": "f", "metrics": [metric, di, inf]}
    baseline = {"version": "1.0", "post_training_bias_metrics": {
        "label": "y", "label_value_or_threshold": "1", "facets": {"sex": [facet]}}}  # fmt: skip
    config = ModelConfig.model_validate({
        "model_id": model, "window": {"size_seconds": 600},
        "quality": {"problem_type": "BinaryClassification"},
        "bias": {"analysis_config": {"label": "y", "label_values_or_threshold": [1],
                                     "facet": [{"name_or_index": "sex",
                                                "value_or_threshold": ["f"]}]},
                 "baseline": baseline},
    })  # fmt: skip
    Registry(redis_client, Keys(redis_prefix)).register(config)
    arn = boto_client("sns").create_topic(Name=f"alarms-{model}")["TopicArn"]
    cw = boto_client("cloudwatch")
    try:
        out = CliRunner().invoke(
            cli, ["alarms", "create", "--model", model, "--sns-topic", arn, "--feature", "x"],
            catch_exceptions=False,
        )  # fmt: skip
        assert out.exit_code == 0, out.output
        found = cw.describe_alarms(AlarmNamePrefix=f"modelmon-{model}-bias")["MetricAlarms"]
        got = sorted((a["Metrics"][1]["Expression"], a["Threshold"]) for a in found)
        assert got == [("ABS(m - 0)", 0.2), ("ABS(m - 1)", 0.25)]  # AD's ∞ baseline: no alarm
        stat = next(m for m in found[0]["Metrics"] if m["Id"] == "m")["MetricStat"]
        assert stat["Metric"]["Namespace"] == "aws/sagemaker/Endpoints/bias-metrics"
        assert {d["Name"] for d in stat["Metric"]["Dimensions"]} == {
            "Endpoint", "MonitoringSchedule", "BiasStage", "Label", "LabelValue", "Facet",
            "FacetValue"}  # fmt: skip
    finally:
        CliRunner().invoke(cli, ["alarms", "delete", "--model", model])
