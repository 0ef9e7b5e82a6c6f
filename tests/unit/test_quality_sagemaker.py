"""Model quality against SageMaker's own files: reference numbers, formats and ground truth."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelmon.errors import BaselineError, InvalidEventError
from modelmon.quality import files
from modelmon.quality.labels import (
    LabelEvent,
    class_name,
    from_ground_truth,
    parse_label_event,
    to_ground_truth,
)
from modelmon.quality.pairs import Pairs
from modelmon.quality.problem import QualitySpec

REFERENCE = Path(__file__).resolve().parents[1] / "fixtures" / "sagemaker_reference"


def _json(name: str) -> Any:
    return json.loads((REFERENCE / name).read_text(encoding="utf-8"))


def _rows(name: str) -> list[dict[str, str]]:
    with (REFERENCE / name).open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_regression_baseline_reproduces_sagemaker_statistics_and_constraints() -> None:
    rows = _rows("model_quality_baseline_dataset.csv")
    pairs = Pairs(
        [str(i) for i in range(len(rows))],
        [float(r["Label"]) for r in rows],
        [float(r["Prediction"]) for r in rows],
    )
    state = QualitySpec("Regression").empty().add(pairs)
    ours = files.statistics("Regression", state.metrics(), state.count)
    theirs = _json("model_quality_statistics.json")
    assert ours["dataset"] == theirs["dataset"]
    for name, entry in theirs["regression_metrics"].items():
        assert ours["regression_metrics"][name]["value"] == pytest.approx(entry["value"], rel=1e-12)
        assert ours["regression_metrics"][name]["standard_deviation"] == "NaN"  # 100 < 200
    constraints = files.suggest_constraints("Regression", state.metrics())
    reference = _json("model_quality_constraints.json")["regression_constraints"]
    assert list(constraints["regression_constraints"]) == list(reference)
    for name, rule in reference.items():
        ours_rule = constraints["regression_constraints"][name]
        assert ours_rule["comparison_operator"] == rule["comparison_operator"]
        assert ours_rule["threshold"] == pytest.approx(rule["threshold"], rel=1e-12)
    assert files.check(reference, state.metrics()) == []
    bad = _json("model_quality_constraints_bad_case.json")["regression_constraints"]
    (violation,) = files.check(bad, state.metrics())
    assert violation["metric_name"] == "mse"
    assert violation["constraint_check_type"] == "GreaterThanThreshold"


#: The churn notebook's violations quote the baseline built from validation_with_predictions.csv
#: (201 rows; the prediction column is probability >= 0.8) as each constraint's threshold.
CHURN_BASELINE = {
    "auc": 0.9395127993393898,
    "precision": 1.0,
    "true_positive_rate": 0.5714285714285714,
    "f1": 0.7272727272727273,
    "accuracy": 0.9402985074626866,
    "false_positive_rate": 0.0,
    "true_negative_rate": 1.0,
    "false_negative_rate": 0.4285714285714286,
    "recall": 0.5714285714285714,
    "f2": 0.625,
}


def _churn_state(threshold: float = 0.5, with_prediction: bool = True) -> Any:
    rows = _rows("validation_with_predictions.csv")
    preds = [int(r["prediction"]) if with_prediction else None for r in rows]
    pairs = Pairs(
        [str(i) for i in range(len(rows))],
        [int(r["label"]) for r in rows],
        preds,
        np.array([float(r["probability"]) for r in rows]),
    )
    return QualitySpec("BinaryClassification", threshold=threshold).empty().add(pairs)


def test_binary_baseline_reproduces_the_churn_notebook_thresholds() -> None:
    for state in (_churn_state(), _churn_state(threshold=0.8, with_prediction=False)):
        metrics = state.metrics()
        for name, value in CHURN_BASELINE.items():
            assert metrics[name]["value"] == pytest.approx(value, abs=1e-12), name
        assert state.count == 201
        assert isinstance(metrics["auc"]["standard_deviation"], float)  # >= 200 samples


def test_violation_wording_matches_sagemaker() -> None:
    reference = _json("model_quality_constraint_violations.json")["violations"]
    constraints = {
        name: {
            "threshold": value,
            "comparison_operator": files.SUGGESTED["BinaryClassification"][name],
        }
        for name, value in CHURN_BASELINE.items()
    }
    measured = {}
    for v in reference:  # the notebook's monitored values, read back from its descriptions
        value, std = v["description"].split(" with ")[1].split(" was ")[0].split(" +/- ")
        name = next(n for n in CHURN_BASELINE if files.camel(n) == v["metric_name"])
        measured[name] = {"value": float(value), "standard_deviation": float(std)}
    ours = files.check(constraints, measured)
    assert sorted(ours, key=lambda v: v["metric_name"]) == sorted(
        reference, key=lambda v: v["metric_name"]
    )


def test_suggested_binary_constraints_are_sagemakers_eleven() -> None:
    constraints = files.suggest_constraints("BinaryClassification", _churn_state().metrics())
    body = constraints["binary_classification_constraints"]
    assert set(body) == set(files.SUGGESTED["BinaryClassification"])
    assert len(body) == 11
    assert files.read_constraints(constraints) == ("BinaryClassification", body)
    with pytest.raises(BaselineError):
        files.read_constraints({"version": 0.0, "foo": {}})
    with pytest.raises(BaselineError):
        files.read_constraints(
            {"regression_constraints": {"mae": {"threshold": 1, "comparison_operator": "Eq"}}}
        )


def test_binary_statistics_have_sagemakers_keys() -> None:
    reference = _json("model_monitor_model_quality_binary_classification.json")
    ours = files.statistics("BinaryClassification", _churn_state().metrics(), 201)
    theirs = reference["binary_classification_metrics"]
    assert set(ours["binary_classification_metrics"]) == set(theirs)
    json.dumps(ours, allow_nan=False)  # "NaN" strings, never bare NaN


def test_model_card_example_reproduced_from_its_confusion_matrix() -> None:
    # 4 pairs: actual 0 -> predicted 0 once, 1 twice; actual 1 -> predicted 1 once
    pairs = Pairs(["a", "b", "c", "d"], [0, 0, 0, 1], [0, 1, 1, 1], np.array([0.1, 0.2, 0.3, 0.9]))
    metrics = QualitySpec("BinaryClassification").empty().add(pairs).metrics()
    theirs = _json("model_monitor_model_quality_binary_classification.json")
    for name, entry in theirs["binary_classification_metrics"].items():
        if name in ("confusion_matrix",):
            assert metrics[name] == entry
        elif isinstance(entry, dict) and "value" in entry and name != "auc":
            assert metrics[name]["value"] == pytest.approx(entry["value"], abs=1e-12), name


def test_ground_truth_records_become_label_events() -> None:
    when = datetime(2026, 1, 2, 3, tzinfo=UTC)
    lines = (REFERENCE / "actuals.jsonl").read_text(encoding="utf-8").splitlines()
    events = [from_ground_truth(json.loads(line), "churn", when) for line in lines if line]
    assert len(events) == 44 and {e.label for e in events} == {0, 1}
    assert all(e.source == "sagemaker" for e in events)
    first = json.loads(lines[0])
    assert events[0].inference_id == first["eventMetadata"]["eventId"]
    assert to_ground_truth(events[0])["groundTruthData"] == first["groundTruthData"]
    assert parse_label_event(events[0].model_dump_json()) == events[0]
    json_record = {
        "groundTruthData": {"data": '{"label": "yes"}', "encoding": "JSON"},
        "eventMetadata": {"eventId": "e1"},
    }
    assert from_ground_truth(json_record, "churn", when).label == "yes"
    for bad in ({"eventMetadata": {"eventId": "x"}}, {"groundTruthData": {"data": "1"}}):
        with pytest.raises(InvalidEventError):
            from_ground_truth(bad, "churn", when)
    with pytest.raises(InvalidEventError):
        parse_label_event(b'{"inference_id": "x"}')


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (1, "1"),
        (1.0, "1"),
        ("1", "1"),
        (" 1.0 ", "1"),
        (True, "1"),
        (False, "0"),
        ("yes", "yes"),
        (0.25, "0.25"),
        ("nan", "nan"),
    ],
)
def test_class_names_are_canonical(value: object, name: str) -> None:
    assert class_name(value) == name


def test_multi_label_is_not_a_class() -> None:
    with pytest.raises(InvalidEventError):
        class_name(["a", "b"])


def test_label_event_defaults() -> None:
    event = LabelEvent(inference_id="i", model_id="m", label="x", label_time=datetime.now(UTC))
    assert event.event_id and event.schema_version == 1
