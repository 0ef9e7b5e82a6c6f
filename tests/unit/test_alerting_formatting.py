"""Message formatting, webhook signing, CloudWatch metric data and batching, retry policy."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from modelmon.alerting.cloudwatch import MetricDatum, batches, encoded_size, window_metrics
from modelmon.alerting.formatting import (
    headline,
    json_body,
    slack_body,
    sns_attributes,
    sns_subject,
)
from modelmon.alerting.retry import (
    RejectedDeliveryError,
    RetryableDeliveryError,
    RetryPolicy,
    run_with_retries,
)
from modelmon.alerting.signing import sign, signed_headers, verify
from modelmon.config import CloudWatchRoute
from modelmon.events import AlertEvent, CheckOutcome, FeatureMetrics, WindowResult

ALARM = AlertEvent(
    event_id="credit-risk/AllTraffic/baseline_drift_check/income/2026-01-01T12:00:00Z/ALARM",
    alert_key="credit-risk/AllTraffic/baseline_drift_check/income",
    model_id="credit-risk",
    window_start=datetime(2026, 1, 1, 12, tzinfo=UTC),
    window_end=datetime(2026, 1, 1, 13, tzinfo=UTC),
    check_type="baseline_drift_check",
    feature="income",
    value=0.2711598746081505,
    threshold=0.1,
    method="linf_robust",
    description="Numerical distance: 0.2711598746081505 exceeds numerical threshold: 0.1",
    report_uri="s3://b/reports/credit-risk/constraint_violations.json",
    detected_at=datetime(2026, 1, 1, 13, 1, 5, tzinfo=UTC),
)


def test_headline_names_check_feature_value_and_threshold() -> None:
    assert headline(ALARM) == (
        "ALARM credit-risk/AllTraffic | baseline_drift_check income | 0.2712 > 0.1 (linf_robust)"
        " | window 2026-01-01T12:00:00Z..2026-01-01T13:00:00Z"
    )
    ok = ALARM.model_copy(update={"state": "OK", "value": 0.04})
    assert "RESOLVED credit-risk" in headline(ok) and "0.04 <= 0.1" in headline(ok)
    low = ALARM.model_copy(update={"check_type": "completeness_check", "value": 0.9})
    assert "0.9 < 0.1" in headline(low)


def test_sns_subject_fits_sns_rules() -> None:
    assert sns_subject(ALARM) == "modelmon ALARM: credit-risk baseline_drift_check income"
    long = ALARM.model_copy(update={"feature": "é" + "x" * 200})
    subject = sns_subject(long)
    assert len(subject) == 100 and subject.endswith("...") and subject.isascii()
    assert "?" in subject


def test_json_body_and_attributes() -> None:
    body = json_body(ALARM)
    assert body["notification_id"] == ALARM.event_id and body["resolved"] is False
    assert (body["model_id"], body["feature"], body["value"]) == (
        "credit-risk",
        "income",
        ALARM.value,
    )
    attrs = sns_attributes(ALARM)
    assert attrs["model_id"] == {"DataType": "String", "StringValue": "credit-risk"}
    assert attrs["state"]["StringValue"] == "ALARM"


def test_slack_body_has_fallback_text_and_blocks() -> None:
    body = slack_body(ALARM)
    assert body["text"].startswith(":rotating_light: ALARM credit-risk/AllTraffic")
    types = [b["type"] for b in body["blocks"]]
    assert types == ["header", "section", "section", "context"]
    assert body["blocks"][0]["text"] == {
        "type": "plain_text",
        "text": "ALARM: credit-risk baseline_drift_check on income",
    }
    fields = [f["text"] for f in body["blocks"][1]["fields"]]
    assert "*Value vs threshold*\n0.2712 &gt; 0.1" in fields
    assert len(fields) <= 10
    assert "s3://b/reports" in body["blocks"][3]["elements"][0]["text"]
    long = slack_body(ALARM.model_copy(update={"description": "<" * 5000, "feature": "f" * 300}))
    assert len(long["blocks"][0]["text"]["text"]) == 150
    assert len(long["blocks"][2]["text"]["text"]) == 3000
    assert long["blocks"][2]["text"]["text"].startswith("&lt;&lt;")


def test_signature_matches_hmac_sha256_of_timestamp_dot_body() -> None:
    import hashlib
    import hmac

    body = b'{"a":1}'
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign(b"s3cret", 1700000000, body) == "sha256=" + expected
    headers = signed_headers(b"s3cret", 1700000000, body, "d-1")
    assert headers["X-Modelmon-Signature"] == "sha256=" + expected
    assert headers["X-Modelmon-Delivery"] == "d-1"
    assert verify(b"s3cret", "1700000000", body, headers["X-Modelmon-Signature"], 1700000100)
    assert not verify(b"other", "1700000000", body, headers["X-Modelmon-Signature"], 1700000100)
    assert not verify(
        b"s3cret", "1700000000", body + b" ", headers["X-Modelmon-Signature"], 1700000100
    )
    assert not verify(b"s3cret", "1700000000", body, headers["X-Modelmon-Signature"], 1700001000)
    assert "X-Modelmon-Signature" not in signed_headers(None, 1, body, "d")


def _result() -> WindowResult:
    return WindowResult(
        model_id="credit-risk",
        window_start=datetime(2026, 1, 1, 12, tzinfo=UTC),
        window_end=datetime(2026, 1, 1, 13, tzinfo=UTC),
        evaluated_at=datetime(2026, 1, 1, 13, 1, tzinfo=UTC),
        event_count=1200,
        features={
            "income": FeatureMetrics(
                inferred_type="Fractional",
                count=1200,
                missing=10,
                completeness=1190 / 1200,
                type_mismatches=2,
                mean=5.0,
                min=1.0,
                max=9.0,
                sum=5940.0,
                distances={"linf_robust": 0.27, "psi": 0.31},
            ),
            "state": FeatureMetrics(
                inferred_type="String",
                count=1200,
                missing=12,
                completeness=0.99,
                distances={"linf_categorical_robust": 0.02},
            ),
        },
        checks=[
            CheckOutcome(
                check_type="baseline_drift_check",
                feature="income",
                violated=True,
                value=0.27,
                threshold=0.1,
                method="linf_robust",
            ),
        ],
    )


def test_window_metrics_use_sagemaker_names_dimensions_and_window_end() -> None:
    data = window_metrics(_result(), CloudWatchRoute(schedule_name="hourly"))
    by_name = {d.name: d for d in data}
    assert sorted(by_name) == [
        "feature_baseline_drift_income",
        "feature_baseline_drift_state",
        "feature_data_income",
        "feature_non_null_income",
        "feature_non_null_state",
    ]
    assert by_name["feature_baseline_drift_income"].value == 0.27
    assert by_name["feature_baseline_drift_state"].value == 0.02
    assert by_name["feature_non_null_state"].value == 0.99
    stats = by_name["feature_data_income"].to_aws()["StatisticValues"]
    assert stats == {"SampleCount": 1188, "Sum": 5940.0, "Minimum": 1.0, "Maximum": 9.0}
    aws = by_name["feature_non_null_income"].to_aws()
    assert aws["Dimensions"] == [
        {"Name": "Endpoint", "Value": "credit-risk"},
        {"Name": "MonitoringSchedule", "Value": "hourly"},
    ]
    assert aws["Timestamp"] == datetime(2026, 1, 1, 13, tzinfo=UTC)


def test_non_finite_values_are_not_published() -> None:
    result = _result()
    bad = result.features["state"].model_copy(update={"completeness": 0.5, "distances": {}})
    features = {**result.features, "state": bad}
    nan_check = result.checks[0].model_copy(update={"value": float("nan")})
    data = window_metrics(
        result.model_copy(update={"features": features, "checks": [nan_check]}), CloudWatchRoute()
    )
    assert "feature_baseline_drift_income" not in {d.name for d in data}
    assert "feature_baseline_drift_state" not in {d.name for d in data}


def _datum(i: int) -> MetricDatum:
    return MetricDatum(
        name=f"feature_non_null_f{i}",
        dimensions=(("Endpoint", "e"), ("MonitoringSchedule", "s")),
        timestamp=datetime(2026, 1, 1, tzinfo=UTC),
        value=1.0,
    )


def test_batches_respect_the_metric_count_and_payload_limits() -> None:
    data = [_datum(i) for i in range(2500)]
    assert [len(b) for b in batches(data)] == [1000, 1000, 500]
    size = encoded_size(data[0])
    assert [len(b) for b in batches(data[:10], max_bytes=size * 4)] == [4, 4, 2]
    assert [b[0].name for b in batches(data[:3], max_metrics=2)] == [
        "feature_non_null_f0",
        "feature_non_null_f2",
    ]


def test_backoff_doubles_with_jitter_and_caps() -> None:
    policy = RetryPolicy(attempts=5, base_seconds=1.0, max_seconds=5.0)
    assert [policy.delay(n, 0.0) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 2.5]
    assert [policy.delay(n, 0.999) for n in (1, 4)] == pytest.approx([0.9995, 4.9975])


def test_run_with_retries_retries_then_gives_up_or_stops_on_rejection() -> None:
    calls: list[int] = []
    slept: list[float] = []

    def flaky() -> None:
        calls.append(1)
        if len(calls) < 3:
            raise RetryableDeliveryError("503")

    policy = RetryPolicy(attempts=3, base_seconds=1.0)
    ok = run_with_retries(flaky, policy, slept.append, lambda: 0.0)
    assert (ok.outcome, ok.attempts, slept) == ("delivered", 3, [0.5, 1.0])

    def down() -> None:
        raise RetryableDeliveryError("connection refused")

    failed = run_with_retries(down, policy, lambda _s: None, lambda: 0.0)
    assert (failed.outcome, failed.attempts, str(failed.error)) == (
        "failed",
        3,
        "connection refused",
    )

    def rejected() -> None:
        raise RejectedDeliveryError("HTTP 404")

    refused = run_with_retries(rejected, policy, lambda _s: None, lambda: 0.0)
    assert (refused.outcome, refused.attempts) == ("failed", 1)
    stopped = run_with_retries(down, policy, lambda _s: None, lambda: 0.0, should_stop=lambda: True)
    assert (stopped.outcome, stopped.attempts) == ("interrupted", 1)


def test_slack_digest_lists_every_state_change_of_a_window() -> None:
    from modelmon.alerting.formatting import slack_digest

    notes = [ALARM.model_copy(update={"feature": f"f{i}", "alert_key": f"k{i}"}) for i in range(60)]
    notes.append(ALARM.model_copy(update={"state": "OK", "value": 0.01}))
    body = slack_digest(notes)
    assert body["text"] == (
        ":rotating_light: credit-risk/AllTraffic: 60 check(s) in ALARM, 1 resolved"
        " | window 2026-01-01T12:00:00Z..2026-01-01T13:00:00Z"
    )
    assert len(body["blocks"]) == 50
    assert body["blocks"][1]["text"]["text"].startswith(":rotating_light: ALARM credit-risk")
    assert body["blocks"][-1]["elements"][0]["text"].endswith("| and 13 more")


def test_retry_after_is_honoured_up_to_the_longest_backoff() -> None:
    calls: list[int] = []
    slept: list[float] = []

    def throttled() -> None:
        calls.append(1)
        if len(calls) < 3:
            raise RetryableDeliveryError("HTTP 429", retry_after=7.0 if len(calls) == 1 else 99.0)

    policy = RetryPolicy(attempts=3, base_seconds=1.0, max_seconds=30.0)
    done = run_with_retries(throttled, policy, slept.append, lambda: 0.0)
    assert (done.outcome, slept) == ("delivered", [7.0, 30.0])


def test_drift_metric_without_a_check_uses_the_configured_method() -> None:
    from modelmon.config import FeatureConfig, ModelConfig

    result = _result().model_copy(update={"checks": []})
    config = ModelConfig(
        model_id="credit-risk", features=[FeatureConfig(name="income", drift_method="psi")]
    )
    by_name = {d.name: d.value for d in window_metrics(result, CloudWatchRoute(), config)}
    assert by_name["feature_baseline_drift_income"] == 0.31
    default = {d.name: d.value for d in window_metrics(result, CloudWatchRoute())}
    assert default["feature_baseline_drift_income"] == 0.27  # linf_robust, the numeric default
