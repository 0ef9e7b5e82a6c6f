"""``modelmon alarms`` on the AWS emulator and ``modelmon alerts tail`` on real Kafka."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from click.testing import CliRunner

from modelmon.adapters.kafka import make_producer
from modelmon.cli import cli
from modelmon.config import FeatureConfig, ModelConfig, WindowConfig
from modelmon.events import (
    AlertEvent,
    CheckOutcome,
    FeatureMetrics,
    WindowEvaluated,
    WindowResult,
    alert_key,
)
from modelmon.keys import Keys
from modelmon.registry import Registry
from modelmon.settings import Settings

T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)
T1 = datetime(2026, 1, 1, 13, tzinfo=UTC)


def _alert(model: str, feature: str, value: float, state: str = "ALARM") -> AlertEvent:
    key = alert_key(model, "AllTraffic", "baseline_drift_check", feature)
    return AlertEvent(
        event_id=f"{key}/2026-01-01T12:00:00Z/{state}",
        alert_key=key,
        model_id=model,
        window_start=T0,
        window_end=T1,
        check_type="baseline_drift_check",
        feature=feature,
        value=value,
        threshold=0.1,
        method="linf_robust",
        state=state,  # type: ignore[arg-type]
        description="drift",
        detected_at=T1,
    )


def _window(model: str) -> WindowEvaluated:
    result = WindowResult(
        model_id=model,
        window_start=T0,
        window_end=T1,
        evaluated_at=T1,
        event_count=50,
        features={
            "age": FeatureMetrics(inferred_type="Integral", count=50, missing=0, completeness=1.0)
        },
        checks=[
            CheckOutcome(
                check_type="baseline_drift_check",
                feature="age",
                violated=True,
                value=0.3,
                threshold=0.1,
            )
        ],
    )
    return WindowEvaluated(event_id=f"{model}/w", model_id=model, result=result)


def test_alerts_tail_prints_one_line_per_alert_of_the_model(
    settings: Settings, new_topic: Callable[..., str]
) -> None:
    topic = new_topic()
    model, other = f"m-{uuid.uuid4().hex[:8]}", f"o-{uuid.uuid4().hex[:8]}"
    producer = make_producer(settings.kafka)
    events: list[Any] = [
        _alert(model, "age", 0.3),
        _alert(other, "age", 0.9),
        _window(model),
        b"garbage",
        _alert(model, "age", 0.05, state="OK"),
    ]
    for e in events:
        raw = e if isinstance(e, bytes) else e.model_dump_json().encode()
        producer.produce(topic, key=b"k", value=raw)
    assert producer.flush(30) == 0

    runner = CliRunner()
    base = ["alerts", "tail", "--topic", topic, "--from-beginning", "--model", model]
    out = runner.invoke(cli, [*base, "--max", "2"], catch_exceptions=False)
    assert out.exit_code == 0
    assert "skipping a message that is not an alerts-topic event: b'garbage'" in out.stderr
    assert out.stdout.splitlines() == [
        f"2026-01-01T13:00:00Z WARNING  ALARM {model}/AllTraffic | baseline_drift_check age"
        " | 0.3 > 0.1 (linf_robust) | window 2026-01-01T12:00:00Z..2026-01-01T13:00:00Z",
        f"2026-01-01T13:00:00Z WARNING  RESOLVED {model}/AllTraffic | baseline_drift_check age"
        " | 0.05 <= 0.1 (linf_robust) | window 2026-01-01T12:00:00Z..2026-01-01T13:00:00Z",
    ]
    as_json = runner.invoke(
        cli, [*base, "--json", "--windows", "--max", "3"], catch_exceptions=False
    )
    lines = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [(d["type"], d.get("state")) for d in lines] == [
        ("alert", "ALARM"),
        ("window_evaluated", None),
        ("alert", "OK"),
    ]


def test_alarms_create_is_idempotent_and_list_delete_find_them(
    settings: Settings,
    redis_client: Any,
    redis_prefix: str,
    boto_client: Callable[[str], Any],
    monkeypatch: Any,
) -> None:
    monkeypatch.setenv("MODELMON_REDIS__KEY_PREFIX", redis_prefix)
    model = f"m-{uuid.uuid4().hex[:8]}"
    config = ModelConfig(
        model_id=model,
        window=WindowConfig(size_seconds=3600),
        features=[
            FeatureConfig(name="age", drift_threshold=0.2, completeness_threshold=0.95),
            FeatureConfig(name="income"),
        ],
    )
    Registry(redis_client, Keys(redis_prefix)).register(config)
    sns = boto_client("sns")
    arn = sns.create_topic(Name=f"alarms-{model}")["TopicArn"]
    runner = CliRunner()
    try:
        for _ in range(2):
            out = runner.invoke(
                cli,
                ["alarms", "create", "--model", model, "--sns-topic", arn],
                catch_exceptions=False,
            )
            assert out.exit_code == 0, out.output
        cw = boto_client("cloudwatch")
        found = cw.describe_alarms(AlarmNamePrefix=f"modelmon-{model}-")["MetricAlarms"]
        assert sorted(
            (a["MetricName"], a["Statistic"], a["ComparisonOperator"], a["Threshold"])
            for a in found
        ) == [
            ("feature_baseline_drift_age", "Maximum", "GreaterThanThreshold", 0.2),
            ("feature_baseline_drift_income", "Maximum", "GreaterThanThreshold", 0.1),
            ("feature_non_null_age", "Minimum", "LessThanThreshold", 0.95),
        ]
        for a in found:
            assert a["AlarmActions"] == [arn] and a["OKActions"] == [arn]
            assert a["Namespace"] == "aws/sagemaker/Endpoints/data-metrics" and a["Period"] == 3600
            assert sorted((d["Name"], d["Value"]) for d in a["Dimensions"]) == [
                ("Endpoint", model),
                ("MonitoringSchedule", "modelmon"),
            ]
        listed = runner.invoke(cli, ["alarms", "list", "--model", model], catch_exceptions=False)
        assert len(listed.output.splitlines()) == 3
        gone = runner.invoke(cli, ["alarms", "delete", "--model", model], catch_exceptions=False)
        assert gone.output.strip() == f"deleted 3 alarm(s) of {model}"
        assert cw.describe_alarms(AlarmNamePrefix=f"modelmon-{model}-")["MetricAlarms"] == []
    finally:
        sns.delete_topic(TopicArn=arn)
