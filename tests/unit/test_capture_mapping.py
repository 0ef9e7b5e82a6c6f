"""SageMaker capture records <-> CaptureEvent, on the real reference files."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from modelmon.capture.client import sampled
from modelmon.capture.sagemaker import from_sagemaker_record, to_sagemaker_record
from modelmon.errors import InvalidEventError
from modelmon.events import CaptureEvent, Outputs

REFERENCE = Path(__file__).resolve().parents[1] / "fixtures" / "sagemaker_reference"


def _lines(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (REFERENCE / name).read_text().splitlines() if line]


def _record(
    inp: str, enc: str, out: str | None = None, ctype: str = "application/json"
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "endpointInput": {
            "observedContentType": ctype,
            "mode": "INPUT",
            "data": inp,
            "encoding": enc,
        }
    }
    if out is not None:
        data["endpointOutput"] = {
            "observedContentType": ctype,
            "mode": "OUTPUT",
            "data": out,
            "encoding": enc,
        }
    meta = {"eventId": "e1", "inferenceTime": "2024-01-19T19:27:57Z"}
    return {"captureData": data, "eventMetadata": meta, "eventVersion": "0"}


@pytest.mark.parametrize(
    "name", ["churn_capture_sample.jsonl", "json_capture_sample.jsonl", "captured-data.jsonl"]
)
def test_reference_records_map_and_single_instance_ones_round_trip_exactly(name: str) -> None:
    for record in _lines(name):
        events = from_sagemaker_record(record, model_id="ep")
        assert all(e.source == "sagemaker" and e.model_id == "ep" for e in events)
        if len(events) == 1:
            assert to_sagemaker_record(events[0]) == record


def test_csv_rows_are_named_from_the_config_else_c0_to_cn() -> None:
    record = _lines("churn_capture_sample.jsonl")[0]
    (plain,) = from_sagemaker_record(record, model_id="churn")
    assert list(plain.inputs)[:3] == ["_c0", "_c1", "_c2"] and len(plain.inputs) == 69
    assert plain.inputs["_c2"] == 182.9 and plain.inputs["_c0"] == 132
    assert plain.outputs.prediction == 0.036397725343704224
    (named,) = from_sagemaker_record(record, model_id="churn", feature_names=["acct_len", "vmail"])
    assert list(named.inputs)[:3] == ["acct_len", "vmail", "_c2"]
    assert named.event_time == datetime(2022, 4, 18, 0, 21, 48, tzinfo=UTC)


def test_capture_jsonl_with_template_time_is_rejected_clearly() -> None:
    record = _lines("capture.jsonl")[0]  # inferenceTime is the SDK test's "{%s}" placeholder
    with pytest.raises(InvalidEventError, match="inferenceTime is not ISO-8601"):
        from_sagemaker_record(record, model_id="m")


def test_json_instances_features_and_predictions() -> None:
    record = _lines("json_capture_sample.jsonl")[1]
    events = from_sagemaker_record(record, model_id="adult", feature_names=["age", "workclass"])
    assert [e.event_id for e in events] == [
        "9066ac80-dde1-4370-a73e-ab997e2544f1-0", "9066ac80-dde1-4370-a73e-ab997e2544f1-1",
    ]  # fmt: skip
    assert events[1].inputs["age"] == 43 and events[1].inputs["_c2"] == 72338
    assert events[1].outputs == Outputs(prediction=1, probability=0.5041388273239136)
    assert all(e.request is None for e in events)  # multi-instance bodies are not copied k times
    scalars = from_sagemaker_record(_lines("captured-data.jsonl")[0], model_id="m")
    assert [e.inputs for e in scalars] == [{"_c0": 1.0}, {"_c0": 2.0}, {"_c0": 5.0}]
    assert [e.outputs.prediction for e in scalars] == [3.5, 4.0, 5.5]


def test_batch_transform_output_stands_for_the_endpoint_output() -> None:
    """Batch-transform capture (SPEC 1.4) keeps the prediction in batchTransformOutput."""
    record = _record("0.5,1.5", "CSV", "0.75", ctype="text/csv")
    data = record["captureData"]
    data["batchTransformOutput"] = {**data.pop("endpointOutput")}
    [event] = from_sagemaker_record(record, model_id="bt", feature_names=["a", "b"])
    assert event.inputs == {"a": 0.5, "b": 1.5} and event.outputs.prediction == 0.75


@pytest.mark.parametrize(
    ("data", "inputs"),
    [
        ('{"age": 3, "city": "Paris"}', {"age": 3, "city": "Paris"}),
        ('{"features": [1, 2]}', {"_c0": 1, "_c1": 2}),
        ("[[1, 2], [3, 4]]", {"_c0": 1, "_c1": 2}),
        ('{"instances": [{"a": null}]}', {"a": None}),
    ],
)
def test_json_input_shapes(data: str, inputs: dict[str, Any]) -> None:
    assert from_sagemaker_record(_record(data, "JSON"), model_id="m")[0].inputs == inputs


@pytest.mark.parametrize(
    ("data", "enc", "message"),
    [
        ("{oops", "JSON", "not valid JSON"),
        ('{"a": {"b": 1}}', "JSON", "must be JSON scalars"),
        ("aGVsbG8=", "BASE64", "not valid JSON"),  # base64 of 'hello' as application/json
    ],
)
def test_bad_payloads_raise_invalid_event(data: str, enc: str, message: str) -> None:
    with pytest.raises(InvalidEventError, match=message):
        from_sagemaker_record(_record(data, enc), model_id="m")


def test_base64_bodies_are_decoded_by_content_type() -> None:
    record = _record("MSwyLDM=", "BASE64", ctype="text/csv")  # '1,2,3'
    assert from_sagemaker_record(record, model_id="m")[0].inputs == {"_c0": 1, "_c1": 2, "_c2": 3}
    opaque = _record("AAEC", "BASE64", ctype="application/octet-stream")
    with pytest.raises(InvalidEventError, match="carries no readable features"):
        from_sagemaker_record(opaque, model_id="m")


def test_not_a_record_says_where() -> None:
    with pytest.raises(InvalidEventError, match="captureData"):
        from_sagemaker_record({"eventMetadata": {}}, model_id="m")


def test_sdk_event_round_trips_through_the_archive_format() -> None:
    event = CaptureEvent(
        model_id="m", variant="B", inference_id="inf",
        event_time=datetime(2026, 1, 1, 0, 0, 0, 123456, tzinfo=UTC),
        inputs={"a": 1, "b": 2.5, "c": "x", "d": None, "e": True},
        outputs=Outputs.model_validate(
            {"prediction": "yes", "probability": 0.7, "scores": {"yes": 0.7}, "rank": 2}
        ),
        latency_ms=3.5, attributions={"a": 0.2}, metadata={"k": "v"}, source="sdk",
    )  # fmt: skip
    record = to_sagemaker_record(event)
    assert record["eventMetadata"]["inferenceTime"] == "2026-01-01T00:00:00.123456Z"
    assert record["eventMetadata"]["inferenceId"] == "inf"
    assert set(record) == {"captureData", "eventMetadata", "eventVersion"}
    (back,) = from_sagemaker_record(record, model_id="m", variant="B")
    assert back == event


def test_sampling_is_deterministic_and_bounded() -> None:
    assert sampled("x", 100) and not sampled("x", 0)
    assert [sampled(f"id-{i}", 50) for i in range(20)] == [
        sampled(f"id-{i}", 50) for i in range(20)
    ]
    assert sum(sampled(f"id-{i}", 10) for i in range(10_000)) == 1002
