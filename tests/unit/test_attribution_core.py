"""Attribution state, Clarify's analysis.json, the check, CloudWatch datums, alarms, HTML."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelmon.attribution.alarms import attribution_alarm_specs
from modelmon.attribution.analysis import analysis_document, parse_analysis
from modelmon.attribution.checks import CHECK_TYPE, check_labels, violations_json
from modelmon.attribution.cloudwatch import ENDPOINT_NAMESPACE
from modelmon.attribution.evaluate import (
    AttributionSettings,
    alert_events,
    cloudwatch_data,
    evaluate_attributions,
    report_files,
)
from modelmon.attribution.html import attribution_page, attribution_section
from modelmon.attribution.state import AttributionState, merged, state_of_events
from modelmon.config import ModelConfig
from modelmon.errors import BaselineError, CorruptBlobError

REFERENCE = Path(__file__).resolve().parents[1] / "fixtures" / "sagemaker_reference"
BASELINE = {
    "version": "1.0",
    "explanations": {
        "kernel_shap": {
            "label0": {
                "global_shap_values": {"income": 0.4, "debt": 0.3, "age": 0.2, "tenure": 0.1},
                "expected_value": 0.25,
            }
        }
    },
}


def reference() -> dict:
    return json.loads((REFERENCE / "clarify_explanability.json").read_text(encoding="utf-8"))


def test_the_reference_explainability_file_loads() -> None:
    analysis = parse_analysis(reference())
    assert analysis.method == "kernel_shap"
    assert set(analysis.labels) == {"label0", "label1"}
    assert analysis.labels["label0"].global_shap_values["Country"] == 0.04632862084382646
    assert analysis.labels["label1"].expected_value == 0.0006380207487381995
    assert "pdp" in analysis.extra
    again = parse_analysis(analysis_document(analysis.labels))
    assert again.labels == analysis.labels


@pytest.mark.parametrize(
    "doc",
    [
        [],
        {},
        {"explanations": {}},
        {"explanations": {"kernel_shap": {"l": {}}}},
        {"explanations": {"kernel_shap": {"l": {"global_shap_values": {"a": "x"}}}}},
        {"explanations": {"kernel_shap": {"l": {"global_shap_values": {}}}}},
    ],
)
def test_a_malformed_analysis_is_a_baseline_error(doc: object) -> None:
    with pytest.raises(BaselineError):
        parse_analysis(doc)  # type: ignore[arg-type]


def _events(rng: np.random.Generator, n: int, weights: dict[str, float]) -> list[dict]:
    return [
        {"attributions": {f: float(w * rng.normal()) for f, w in weights.items()}} for _ in range(n)
    ]


chunks = st.lists(st.integers(0, 40), min_size=1, max_size=5)


@given(chunks, st.integers(0, 2**31))
@settings(max_examples=40, deadline=None)
def test_merged_partitions_equal_one_state_and_survive_bytes(sizes: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    parts = [_events(rng, n, {"a": 1.0, "b": 0.1}) for n in sizes]
    whole = state_of_events([e for p in parts for e in p])
    pieces = [AttributionState.deserialize(state_of_events(p).serialize()) for p in parts]
    combined = merged(pieces)
    for name, fa in whole.labels.get("label0", {}).items():
        other = combined.labels["label0"][name]
        assert other.count == fa.count
        assert other.mean_abs == pytest.approx(fa.mean_abs, rel=1e-12)
        assert other.mean == pytest.approx(fa.mean, rel=1e-9, abs=1e-12)
    assert len(combined) == sum(sizes)


def test_state_skips_non_finite_values_and_rejects_corrupt_bytes() -> None:
    state = AttributionState()
    state.add("label0", {"a": 1.0, "b": math.nan, "c": -2.0})
    assert state.skipped == 1 and state.global_shap("label0") == {"a": 1.0, "c": 2.0}
    with pytest.raises(CorruptBlobError):
        AttributionState.deserialize(b"\x00garbage")


def _window(weights: dict[str, float], n: int = 400, seed: int = 1) -> AttributionState:
    return state_of_events(_events(np.random.default_rng(seed), n, weights))


SETTINGS = AttributionSettings(BASELINE)
SAME = {"income": 0.4, "debt": 0.3, "age": 0.2, "tenure": 0.1}


def test_drift_is_flagged_when_the_ranking_changes_not_when_only_the_scale_does() -> None:
    scaled = evaluate_attributions(
        "m", (0, 60_000), _window({k: v * 7 for k, v in SAME.items()}), SETTINGS
    )
    assert scaled.checks[0].ndcg > 0.99 and not scaled.violated
    shortcut = evaluate_attributions(
        "m", (0, 60_000), _window({**SAME, "tenure": 2.0, "income": 0.05}), SETTINGS
    )
    check = shortcut.checks[0]
    assert check.violated and check.ndcg < 0.9
    doc = violations_json(shortcut.checks)
    assert doc["violations"] == [
        {
            "label": "label0",
            "metric_name": "shap",
            "constraint_check_type": CHECK_TYPE,
            "description": f"Feature attribution drift {check.ndcg!r} exceeds threshold 0.9",
        }
    ]
    files = report_files(shortcut)
    analysis = json.loads(files["analysis.json"])
    assert (
        next(iter(analysis["explanations"]["kernel_shap"]["label0"]["global_shap_values"]))
        == "tenure"
    )
    assert json.loads(files["constraint_violations.json"]) == doc
    now = datetime(2026, 1, 1, tzinfo=UTC)
    (alarm,) = alert_events(shortcut, now)
    assert (alarm.state, alarm.check_type, alarm.value) == ("ALARM", CHECK_TYPE, check.ndcg)
    (ok,) = alert_events(scaled, now)
    assert ok.state == "OK" and ok.alert_key == alarm.alert_key
    looser = evaluate_attributions(
        "m",
        (0, 60_000),
        _window({**SAME, "tenure": 2.0, "income": 0.05}),
        AttributionSettings(BASELINE, threshold=0.5),
    )
    assert not looser.violated


def test_labels_pair_up_by_name_or_the_only_one() -> None:
    baseline = parse_analysis(reference())
    live = {"label1": {"Age": 0.1, "Education-Num": 0.2}}
    (check,) = check_labels(baseline, live)
    assert check.label == "label1" and check.evaluated
    assert check_labels(baseline, {"other": {"Age": 1.0}}) == []
    (mapped,) = check_labels(baseline, {"p": {"Age": 1.0}}, labels={"p": "label1"})
    assert mapped.label == "label1"


def test_cloudwatch_datums_use_sagemakers_names_and_dimensions() -> None:
    evaluation = evaluate_attributions("m", (0, 60_000), _window(SAME), SETTINGS)
    data = cloudwatch_data(evaluation, "ep", "sched")
    names = {d.name for d in data}
    assert {"feature_income", "feature_tenure", "AttributionNDCG"} <= names
    income = next(d for d in data if d.name == "feature_income")
    assert dict(income.dimensions) == {
        "Endpoint": "ep",
        "MonitoringSchedule": "sched",
        "ExplainabilityMethod": "KernelShap",
        "Label": "label0",
        "ValueType": "GlobalShapValues",
    }


def test_alarm_per_baseline_label_on_the_ndcg() -> None:
    config = ModelConfig(model_id="m", explainability={"baseline": reference(), "threshold": 0.8})
    specs = attribution_alarm_specs(config, ["arn:sns"])
    assert [s["AlarmName"] for s in specs] == [
        "modelmon-m-attribution_label0",
        "modelmon-m-attribution_label1",
    ]
    assert specs[0]["Namespace"] == ENDPOINT_NAMESPACE and specs[0]["Threshold"] == 0.8
    assert specs[0]["ComparisonOperator"] == "LessThanThreshold"
    assert attribution_alarm_specs(ModelConfig(model_id="m"), ["arn:sns"]) == []
    with pytest.raises(ValueError, match=r"explainability\.baseline"):
        ModelConfig(model_id="m", explainability={"baseline": {"explanations": {}}})


def test_html_section_ranks_features_and_escapes_names() -> None:
    state = _window({**SAME, "<b>x</b>": 3.0})
    evaluation = evaluate_attributions("m", (0, 60_000), state, SETTINGS)
    page = attribution_page("t", [attribution_section(evaluation, state)])
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page
    assert "NDCG" in page and page.index("&lt;b&gt;") < page.index("income")


feature_names = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12
)
finite = st.floats(-1e6, 1e6, allow_nan=False)


@given(st.dictionaries(feature_names, st.floats(0, 1e6), min_size=1, max_size=12), finite)
@settings(max_examples=60, deadline=None)
def test_analysis_json_round_trips(values: dict[str, float], expected: float) -> None:
    from modelmon.attribution.analysis import LabelExplanation

    doc = analysis_document({"label0": LabelExplanation(values, expected)})
    again = parse_analysis(json.loads(json.dumps(doc)))
    assert again.labels["label0"] == LabelExplanation(values, expected)


@given(st.lists(st.dictionaries(feature_names, finite, max_size=6), min_size=1, max_size=5))
@settings(max_examples=60, deadline=None)
def test_clarify_online_explanations_map_record_by_record(records: list[dict[str, float]]) -> None:
    from modelmon.attribution.clarify import clarify_attributions

    body = {
        "version": "1.0",
        "predictions": {"content_type": "text/csv", "data": "\n".join("1" for _ in records)},
        "explanations": {
            "kernel_shap": [
                [
                    {"feature_header": f, "attributions": [{"attribution": [v, 99.0]}]}
                    for f, v in record.items()
                ]
                for record in records
            ]
        },
    }
    assert clarify_attributions(body) == records
    assert clarify_attributions({"predictions": [1]}) == []
