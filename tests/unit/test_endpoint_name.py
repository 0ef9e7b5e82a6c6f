"""One rule for a model's endpoint name (issue 22, item 3): the configured ``endpoint_name``,
else the model id, in capture archive paths, report paths and CloudWatch dimensions alike."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from modelmon.alerting.alarms import alarm_specs
from modelmon.alerting.cloudwatch import dimensions
from modelmon.archive.layout import object_key, parse_key
from modelmon.config import (
    ENDPOINT_NAME_MAX_LENGTH,
    ENDPOINT_NAME_PATTERN,
    ModelConfig,
    endpoint_name,
)
from modelmon.events import MODEL_ID_PATTERN
from modelmon.keys import WindowRef
from modelmon.profile import ProfileTracker
from modelmon.streaming import detection

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
model_ids = st.from_regex(MODEL_ID_PATTERN, fullmatch=True)
endpoints = st.none() | st.from_regex(ENDPOINT_NAME_PATTERN, fullmatch=True).filter(
    lambda name: len(name) <= ENDPOINT_NAME_MAX_LENGTH
)


def _view(model: str) -> detection.WindowView:
    tracker = ProfileTracker({"x": "numeric"})
    tracker.update({"x": [1.0]})
    return detection.single(WindowRef(model, 3_600_000, T0 + 3_600_000), tracker.snapshot(), 0)


@given(model=model_ids, endpoint=endpoints)
def test_archive_reports_and_cloudwatch_use_the_same_name(model: str, endpoint: str | None) -> None:
    config = ModelConfig(model_id=model, endpoint_name=endpoint, schedule_name="hourly")
    name = endpoint_name(model, config)
    assert name == (endpoint or model)
    report = detection.report_path(config, _view(model), 3_600_000)
    assert report == f"{name}/hourly/2026/01/01/01/"
    assert dict(dimensions(model, config.alerts.cloudwatch, config))["Endpoint"] == name
    [spec] = alarm_specs(config, ["x"], [])
    assert {"Name": "Endpoint", "Value": name} in spec["Dimensions"]
    key = object_key("cap", name, "AllTraffic", datetime(2026, 1, 1, 1, tzinfo=UTC), "0" * 36)
    parsed = parse_key(key)
    assert parsed is not None and parsed.model == name


def test_no_config_means_the_model_id() -> None:
    assert endpoint_name("churn", None) == "churn"


def test_the_older_cloudwatch_spelling_is_read_into_endpoint_name() -> None:
    old = {"model_id": "churn", "alerts": {"cloudwatch": {"endpoint_name": "churn-prod"}}}
    assert ModelConfig.model_validate(old).endpoint_name == "churn-prod"
    same = {**old, "endpoint_name": "churn-prod"}
    assert ModelConfig.model_validate(same).endpoint_name == "churn-prod"
    with pytest.raises(ValidationError, match="keep endpoint_name only"):
        ModelConfig.model_validate({**old, "endpoint_name": "other"})


@pytest.mark.parametrize("bad", ["", "-lead", "a_b", "a.b", "../x", "a/b", "x" * 64])
def test_an_endpoint_name_is_sagemakers_and_never_a_path(bad: str) -> None:
    with pytest.raises(ValidationError):
        ModelConfig(model_id="m", endpoint_name=bad)
