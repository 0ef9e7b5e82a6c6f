"""The API's read models of the per-window series: quality windows beside the model's
constraints, bias windows from the stored rows (and from older documents without them),
attribution windows (NDCG per label, top features) as the detector stores them."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from modelmon.api.label_views import attribution_window, bias_window, quality_window
from modelmon.attribution.analysis import LabelExplanation, analysis_document
from modelmon.attribution.evaluate import AttributionSettings, evaluate_attributions
from modelmon.attribution.state import state_of_events
from modelmon.bias.analysis import analysis_json
from modelmon.bias.config import BiasConfig
from modelmon.bias.state import state_from_rows
from modelmon.bias.stream import IntervalOptions, evaluate_bias
from modelmon.quality.evaluate import evaluate
from modelmon.quality.pairs import Pairs
from modelmon.quality.problem import QualitySpec

CONFIG = BiasConfig.model_validate({
    "label": "y", "label_values_or_threshold": [1], "predicted_label": "prediction",
    "facet": [{"name_or_index": "sex"}],  # every value, one-vs-rest
})  # fmt: skip
CONSTRAINTS = {
    "binary_classification_constraints": {
        "accuracy": {"threshold": 0.8, "comparison_operator": "LessThanThreshold"},
        "recall": {"threshold": 0.1, "comparison_operator": "LessThanThreshold"},
    }
}
row = st.fixed_dictionaries({
    "sex": st.sampled_from(["f", "m", "x"]), "y": st.sampled_from([0, 1]),
    "prediction": st.sampled_from([0, 1]),
})  # fmt: skip


def _stored(doc: dict[str, Any]) -> dict[str, Any]:
    """As Redis holds it: the label join's JSON, read back."""
    return dict(json.loads(json.dumps(doc, allow_nan=False)))


@settings(max_examples=40, deadline=None)
@given(st.lists(row, min_size=1, max_size=60), st.lists(row, min_size=1, max_size=60),
       st.booleans())  # fmt: skip
def test_bias_rows_match_the_evaluation(rows, base_rows, interval) -> None:  # type: ignore[no-untyped-def]
    def state(r: list[dict[str, Any]]) -> Any:
        return state_from_rows(CONFIG, r, joined=True).merge(state_from_rows(CONFIG, r, False))

    baseline = analysis_json(CONFIG, state(base_rows))
    found = evaluate_bias("m", (0, 5000), CONFIG, state(rows), baseline,
                          IntervalOptions(0.9, 100, interval))  # fmt: skip
    window = bias_window(_stored(found.to_json()))
    assert window.joined == len(rows) and window.violations == len(found.violations)
    assert window.check == ("interval" if interval else "point")
    violated = {(m.facet, m.facet_value, m.metric) for m in window.metrics if m.violated}
    assert violated == {(v.facet, v.facet_value, v.metric_name) for v in found.violations}
    assert all(m.checked == (m.stage == "post_training") for m in window.metrics)
    for m in window.metrics:
        if m.low is not None:
            assert m.high is not None and m.low <= m.high
    posts = [m for m in window.metrics if m.stage == "post_training"]
    assert len(posts) == sum(len(r.metrics) for r in found.reports)


def test_older_bias_documents_are_read_from_their_analysis() -> None:
    rows = [{"sex": "f", "y": 1, "prediction": 1}, {"sex": "m", "y": 0, "prediction": 0}] * 5
    state = state_from_rows(CONFIG, rows, joined=True)
    doc = _stored(evaluate_bias("m", (0, 5000), CONFIG, state, None).to_json())
    del doc["metrics"], doc["intervals"], doc["check"], doc["confidence_level"]
    window = bias_window(doc)
    assert window.check == "point" and window.confidence_level is None
    assert {m.stage for m in window.metrics} == {"post_training"}
    assert {(m.facet_value, m.metric) for m in window.metrics} >= {("f", "DPPL"), ("m", "DI")}


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0, 1]), st.sampled_from([0, 1])), min_size=1,
                max_size=80))  # fmt: skip
def test_quality_metrics_carry_their_constraint_and_verdict(pairs) -> None:  # type: ignore[no-untyped-def]
    labels, predictions = [p[0] for p in pairs], [p[1] for p in pairs]
    state = (
        QualitySpec("BinaryClassification")
        .empty()
        .add(Pairs([str(i) for i in range(len(pairs))], labels, predictions))
    )
    found = evaluate("m", "BinaryClassification", (0, 5000), state,
                     {"predictions": 2 * len(pairs)}, CONSTRAINTS)  # fmt: skip
    window = quality_window(_stored(found.to_json()), CONSTRAINTS)
    metrics = {m.name: m for m in window.metrics}
    accuracy = sum(a == b for a, b in pairs) / len(pairs)
    assert metrics["accuracy"].value is not None
    assert abs(metrics["accuracy"].value - accuracy) < 1e-9
    assert metrics["accuracy"].threshold == 0.8
    assert metrics["accuracy"].violated == (accuracy < 0.8)
    assert metrics["precision"].threshold is None and not metrics["precision"].violated
    assert window.labelled == len(pairs) and window.coverage == 0.5
    assert window.violations == found.violations
    assert quality_window(_stored(found.to_json()), None).metrics[0].threshold is None


def test_the_quality_window_page_marks_violations_and_escapes() -> None:
    from modelmon.quality.html import quality_report_html

    state = (
        QualitySpec("BinaryClassification")
        .empty()
        .add(Pairs([str(i) for i in range(10)], [1, 0] * 5, [1] * 10))
    )
    found = evaluate("<m>", "BinaryClassification", (0, 5000), state, {"predictions": 20},
                     CONSTRAINTS)  # fmt: skip
    page = quality_report_html(found, CONSTRAINTS)
    assert "&lt;m&gt;" in page and "<m>" not in page
    assert 'class="bad"><td>accuracy</td><td>0.5</td>' in page
    assert "≥ 0.8" in page and "1 violation(s)" in page and "10 of 20" in page
    assert "≥" not in quality_report_html(found, None)


# -- feature attribution (the detector's NDCG series) -----------------------------------------
shap_rows = st.lists(
    st.dictionaries(st.sampled_from([f"f{i}" for i in range(14)]),
                    st.floats(-5, 5, allow_nan=False), min_size=1),
    min_size=1, max_size=30,
)  # fmt: skip
baseline_values = st.dictionaries(
    st.sampled_from([f"f{i}" for i in range(14)]), st.floats(0, 3, allow_nan=False), min_size=1
)


@settings(max_examples=60, deadline=None)
@given(shap_rows, baseline_values | st.none(), st.floats(0.5, 1.0))
def test_attribution_windows_match_the_evaluation(rows, baseline, threshold) -> None:  # type: ignore[no-untyped-def]
    state = state_of_events([{"attributions": r} for r in rows])
    doc = None
    if baseline is not None:
        doc = analysis_document({"label0": LabelExplanation(baseline)})
    found = evaluate_attributions("m", (0, 60_000), state, AttributionSettings(doc, threshold))
    window = attribution_window(_stored(found.to_json()))
    assert window.attributions == found.attributions
    assert window.violations == len(found.violated)
    (label,) = window.labels
    assert label.label == "label0"
    live = found.live["label0"]
    expected = sorted(live.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    assert [(f.feature, f.value) for f in label.top_features] == expected
    if found.checks:
        (check,) = found.checks
        assert label.ndcg == (check.ndcg if check.evaluated else None)
        assert (label.threshold, label.violated) == (threshold, check.violated)
        assert all(f.baseline == check.baseline.get(f.feature) for f in label.top_features)
    else:
        assert label.ndcg is None and label.threshold is None and not label.violated
        assert all(f.baseline is None for f in label.top_features)


def test_an_attribution_window_stored_before_top_features_reads_without_them() -> None:
    check = {"label": "label0", "ndcg": 0.7, "threshold": 0.9, "violated": True}
    doc = {"model_id": "m", "window_start_ms": 0, "window_end_ms": 60_000, "attributions": 7,
           "checks": [check]}  # fmt: skip
    window = attribution_window(doc)
    assert window.violations == 1 and window.attributions == 7
    assert window.labels[0].model_dump() == {
        "label": "label0", "ndcg": 0.7, "threshold": 0.9, "violated": True, "top_features": [],
    }  # fmt: skip
