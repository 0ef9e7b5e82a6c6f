"""The join rules (pure): either order, first label wins, duplicates counted once; routing."""

from __future__ import annotations

import json
import zlib
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelmon.errors import InvalidEventError
from modelmon.quality.evaluate import alert_events, cloudwatch_metric_data, evaluate
from modelmon.quality.join import (
    JoinPartition,
    JoinRecord,
    ModelQuality,
    decode,
    encode,
    models_of,
    partition_of,
    route_capture_bytes,
)
from modelmon.quality.pairs import Pairs
from modelmon.quality.problem import QualitySpec

MODEL = ModelQuality(QualitySpec("BinaryClassification"), window_ms=10_000, horizon_ms=60_000)
MODELS = {"m": MODEL}

inference = st.tuples(st.booleans(), st.lists(st.integers(0, 1), max_size=3), st.booleans())


@settings(max_examples=60, deadline=None)
@given(st.lists(inference, min_size=1, max_size=40), st.randoms(use_true_random=False))
def test_join_counts_do_not_depend_on_arrival_order(specs, rnd) -> None:  # type: ignore[no-untyped-def]
    records = []
    for i, (has_pred, labels, resend) in enumerate(specs):
        if has_pred:
            records.append(JoinRecord("p", "m", f"i{i}", 1000 + i, 1, 0.7))
            if resend:
                records.append(JoinRecord("p", "m", f"i{i}", 1000 + i, 1, 0.7))
        records += [JoinRecord("l", "m", f"i{i}", 2000 + i + j, v) for j, v in enumerate(labels)]
    rnd.shuffle(records)
    part = JoinPartition(watermark=0)
    for r in records:
        part.apply(r, MODELS)
    first_label = {}
    for r in records:
        if r.k == "l":
            first_label.setdefault(r.id, r.y)
    preds = [i for i, s in enumerate(specs) if s[0]]
    joined = [i for i in preds if specs[i][1]]
    c = part.counts
    assert c["joined"] == len(joined)
    assert c["predictions"] == len(preds)
    assert c["duplicate_predictions"] == sum(1 for i in preds if specs[i][2])
    assert c["labels"] == sum(1 for s in specs if s[1])
    assert c["duplicate_labels"] == sum(len(s[1]) - 1 for s in specs if s[1])
    pending = {i for i, e in part.pending.items() if e is not None}
    assert pending == {f"i{i}" for i, s in enumerate(specs) if bool(s[0]) != bool(s[1])}
    got = {}
    for delta in part.windows.values():
        got.update(zip(delta.keys, delta.labels, strict=True))
    assert got == {f"i{i}": first_label[f"i{i}"] for i in joined}


def test_state_read_from_the_store_is_honoured() -> None:
    part = JoinPartition(watermark=0)
    part.learn("a", None, True)  # joined before the last flush: a second label is a duplicate
    part.apply(JoinRecord("l", "m", "a", 5, 1), MODELS)
    assert part.counts["duplicate_labels"] == 1 and part.counts["joined"] == 0
    part.apply(JoinRecord("l", "other", "b", 5, 1), MODELS)
    assert part.counts["unconfigured"] == 1


def test_records_round_trip_and_partition_is_stable() -> None:
    record = JoinRecord("p", "m", "id-1", 123, "cat", 0.5)
    assert decode(encode(record)) == record
    with pytest.raises(InvalidEventError):
        decode(b"\x00garbage")
    assert partition_of("id-1", 6) == zlib.crc32(b"id-1") % 6 == 0  # fixed forever


def test_capture_routing_reads_inference_id_time_and_score() -> None:
    raw = json.dumps({"model_id": "m", "event_id": "e1", "event_time": "2026-01-01T00:00:01Z",
                      "outputs": {"prediction": 0.37}}).encode()  # fmt: skip
    record = route_capture_bytes(raw)
    assert (record.id, record.t, record.y, record.s) == ("e1", 1_767_225_601_000, None, 0.37)
    for bad in (b"{}", b"not json", b'{"model_id": "m", "event_time": "2026-01-01T00:00:00"}'):
        with pytest.raises(InvalidEventError):
            route_capture_bytes(bad)


def test_models_of_reads_quality_configs() -> None:
    from modelmon.config import ModelConfig

    plain = ModelConfig(model_id="a")
    quality = ModelConfig.model_validate(
        {"model_id": "b", "quality": {"problem_type": "Regression", "label_horizon_seconds": 5}}
    )
    models = models_of({"a": plain, "b": quality})
    assert list(models) == ["b"] and models["b"].horizon_ms == 5000


def test_evaluation_alerts_and_cloudwatch_data() -> None:
    state = MODEL.spec.empty().add(
        Pairs([f"k{i}" for i in range(10)], [1] * 5 + [0] * 5, [1] * 10, [0.9] * 10)
    )
    constraints = {
        "binary_classification_constraints": {
            "accuracy": {"threshold": 0.9, "comparison_operator": "LessThanThreshold"},
            "recall": {"threshold": 0.9, "comparison_operator": "LessThanThreshold"},
        }
    }
    counts = {"predictions": 20, "expired": 3}
    result = evaluate("m", "BinaryClassification", (0, 10_000), state, counts, constraints)
    assert result.coverage == 0.5 and result.labelled == 10
    now = datetime(2026, 1, 1, tzinfo=UTC)
    events = {e.feature: e for e in alert_events(result, constraints, now)}
    assert events["accuracy"].state == "ALARM" and events["recall"].state == "OK"
    assert "+/- NaN was LessThanThreshold '0.9'" in events["accuracy"].description
    again = {e.feature: e.event_id for e in alert_events(result, constraints, now)}
    assert again == {k: e.event_id for k, e in events.items()}  # same evaluation, same ids
    data = cloudwatch_metric_data(result, "churn-endpoint", "hourly")
    names = {d["MetricName"] for d in data}
    assert {"accuracy", "auc", "f2", "label_coverage"} <= names and "confusion_matrix" not in names
    assert data[0]["Dimensions"] == [
        {"Name": "Endpoint", "Value": "churn-endpoint"},
        {"Name": "MonitoringSchedule", "Value": "hourly"},
    ]
    assert json.dumps(result.to_json(), allow_nan=False)


def test_quality_alerts_go_through_the_alerting_state_machine() -> None:
    from modelmon.alerting.state import decide, observations
    from modelmon.config import AlertRoutes

    state = MODEL.spec.empty().add(Pairs([f"k{i}" for i in range(4)], [1, 0, 1, 0], [1] * 4))
    rules = {"binary_classification_constraints": {
        "accuracy": {"threshold": 0.9, "comparison_operator": "LessThanThreshold"}}}  # fmt: skip
    now = datetime(2026, 1, 1, tzinfo=UTC)
    bad = evaluate("m", "BinaryClassification", (0, 10_000), state, {}, rules)
    good_state = MODEL.spec.empty().add(Pairs(["a", "b"], [1, 1], [1, 1]))
    good = evaluate("m", "BinaryClassification", (10_000, 20_000), good_state, {}, rules)
    seen = [o for r in (bad, good) for e in alert_events(r, rules, now)
            for o in observations(e, AlertRoutes())]  # fmt: skip
    notes = decide({}, seen, 0).notifications
    assert [(n.check_type, n.feature, n.state) for n in notes] == [
        ("model_quality_check", "accuracy", "ALARM"),
        ("model_quality_check", "accuracy", "OK"),
    ]
