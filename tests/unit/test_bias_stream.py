"""Bias drift in the label join, pure: per-window state from captured predictions and joined
pairs, the evaluation, alert events through the alerting state machine, the model config."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from modelmon.bias.analysis import analysis_json
from modelmon.bias.config import BiasConfig
from modelmon.bias.report import facet_reports
from modelmon.bias.state import BiasState, state_from_rows
from modelmon.bias.stream import (
    IntervalOptions,
    add_delta,
    bias_alert_events,
    cloudwatch_data,
    delta_state,
    evaluate_bias,
    report_files,
)
from modelmon.config import ModelConfig
from modelmon.quality.join import JoinPartition, JoinRecord, models_of, route_capture_bytes

BIAS: dict[str, Any] = {
    "label": "y", "label_values_or_threshold": [1], "predicted_label": "prediction",
    "facet": [{"name_or_index": "sex", "value_or_threshold": ["f"]},
              {"name_or_index": "age", "value_or_threshold": [40], "threshold": True}],
    "group_variable": "region",
}  # fmt: skip
CONFIG = BiasConfig.model_validate(BIAS)

row = st.fixed_dictionaries({
    "sex": st.sampled_from(["f", "m", None]), "age": st.integers(18, 80),
    "region": st.sampled_from(["n", "s"]), "y": st.sampled_from([0, 1, None]),
    "prediction": st.sampled_from([0, 1]),
})  # fmt: skip


def _record(i: int, r: dict[str, Any]) -> JoinRecord:
    facets = {k: r[k] for k in ("sex", "age", "region")}
    return JoinRecord("p", "m", f"i{i}", 1000 + i, r["prediction"], None, facets)


def _cells(state: BiasState) -> dict[Any, Any]:
    """Every non-empty count of a state, and each facet's largest value (threshold facets)."""
    out: dict[Any, Any] = {}
    for name, facet in state.facets.items():
        for key, cells in facet.cells.items():
            if cells.any():
                out[(name, key)] = tuple(int(c) for c in cells)
        if facet.cells:
            out[name] = facet.max_value
    return out


@settings(max_examples=40, deadline=None)
@given(st.lists(row, max_size=60), st.lists(st.integers(1, 10), min_size=1, max_size=8))
def test_batches_merged_equal_one_batch_equal_the_batch_monitor(rows, cuts) -> None:  # type: ignore[no-untyped-def]
    """Any split into flushes gives the state a batch read of the same rows gives."""
    records = [_record(i, r) for i, r in enumerate(rows)]
    pairs = [(rec, r["y"]) for rec, r in zip(records, rows, strict=True)]
    blob: bytes = b""
    at = 0
    for size in cuts * (len(rows) + 1):
        if at >= len(rows):
            break
        blob = add_delta(blob, CONFIG, records[at : at + size], pairs[at : at + size])
        at += size
    streamed = BiasState.deserialize(blob) if blob else BiasState()
    assert _cells(streamed) == _cells(delta_state(CONFIG, records, pairs))
    joined = state_from_rows(CONFIG, rows, joined=True)
    captured = state_from_rows(CONFIG, rows, joined=False)
    expected = joined.merge(captured)
    assert _cells(streamed) == _cells(expected)
    for stage in ("post_training", "pre_training"):  # every metric, as `monitor` computes it
        assert facet_reports(CONFIG, streamed, stage) == facet_reports(CONFIG, expected, stage)


def _state(shift: float, n: int = 400) -> BiasState:
    rows = []
    for i in range(n):
        sex = "f" if i % 3 == 0 else "m"
        label = i % 2
        positive = (i * 7 % 10) / 10 < (0.5 + (shift if sex == "f" else 0.0))
        rows.append({"sex": sex, "age": 20 + i % 50, "region": "n", "y": label,
                     "prediction": int(positive)})  # fmt: skip
    return state_from_rows(CONFIG, rows, joined=True).merge(
        state_from_rows(CONFIG, rows, joined=False)
    )


def test_a_shifted_group_alarms_and_recovers_through_the_alerting_state_machine() -> None:
    from modelmon.alerting.state import decide, observations
    from modelmon.config import AlertRoutes

    baseline = analysis_json(CONFIG, _state(0.05), ("post_training",))
    now = datetime(2026, 1, 1, tzinfo=UTC)
    bad = evaluate_bias("m", (0, 10_000), CONFIG, _state(0.4), baseline)
    good = evaluate_bias("m", (10_000, 20_000), CONFIG, _state(0.0), baseline)
    assert any(v.metric_name == "DPPL" and v.facet == "sex" for v in bad.violations)
    assert not any(v.metric_name == "DPPL" and v.facet == "sex" for v in good.violations)
    seen = [o for r in (bad, good) for e in bias_alert_events(r, baseline, now)
            for o in observations(e, AlertRoutes())]  # fmt: skip
    notes = [n for n in decide({}, seen, 0).notifications if n.feature == "sex=f/DPPL"]
    assert [(n.check_type, n.state) for n in notes] == [
        ("bias_drift_check", "ALARM"), ("bias_drift_check", "OK")]  # fmt: skip
    (alarm,) = [e for e in bias_alert_events(bad, baseline, now) if e.feature == "sex=f/DPPL"]
    dppl = next(
        m.value for r in bad.reports if r.facet == "sex" for m in r.metrics if m.name == "DPPL"
    )
    assert alarm.value == abs(dppl or 0.0) and alarm.value > (alarm.threshold or 0.0)
    again = [e.event_id for e in bias_alert_events(bad, baseline, now)]
    assert again == [e.event_id for e in bias_alert_events(bad, baseline, now)]
    files = report_files(bad)
    doc = json.loads(files["analysis.json"])
    # both stages (the config asks for all), as `baseline create` writes them on these rows
    assert doc == analysis_json(CONFIG, _state(0.4))
    violations = json.loads(files["constraint_violations.json"])["violations"]
    assert {v["constraint_check_type"] for v in violations} == {"bias_drift_check"}
    data = cloudwatch_data(bad, "ep", "sched")
    assert {d.name for d in data} >= {"bias_metric_DPPL", "bias_metric_DI"}
    dims = dict(data[0].dimensions)
    assert dims["BiasStage"] == "Post-Training" and dims["Facet"] == "sex"
    assert json.dumps(bad.to_json(), allow_nan=False)


def test_no_baseline_means_metrics_without_checks() -> None:
    result = evaluate_bias("m", (0, 1), CONFIG, _state(0.4), None)
    assert result.violations == () and result.reports and result.joined == 400


def test_model_config_bias_section() -> None:
    quality = {"problem_type": "BinaryClassification"}
    config = ModelConfig.model_validate(
        {"model_id": "m", "quality": quality, "bias": {"analysis_config": BIAS}}
    )
    model = models_of({"m": config})["m"]
    assert model.bias_inputs == ("sex", "age", "region")
    with pytest.raises(ValidationError, match="bias needs quality"):
        ModelConfig.model_validate({"model_id": "m", "bias": {"analysis_config": BIAS}})
    with pytest.raises(ValidationError, match=r"bias\.baseline"):
        bad = {"analysis_config": BIAS, "baseline": {"x": 1}}
        ModelConfig.model_validate({"model_id": "m", "quality": quality, "bias": bad})
    with pytest.raises(ValidationError, match="needs headers"):
        index = {**BIAS, "label": 3}
        ModelConfig.model_validate(
            {"model_id": "m", "quality": quality, "bias": {"analysis_config": index}}
        )
    with pytest.raises(ValidationError):
        ModelConfig.model_validate({"model_id": "m", "quality": quality,
                                    "bias": {"analysis_config": {"label": "y"}}})  # fmt: skip


def test_captures_carry_the_bias_inputs_and_joins_count_them() -> None:
    quality = {"problem_type": "BinaryClassification"}
    config = ModelConfig.model_validate(
        {"model_id": "m", "quality": quality, "bias": {"analysis_config": BIAS}}
    )
    models = models_of({"m": config})
    raw = json.dumps({"model_id": "m", "event_id": "e1", "event_time": "2026-01-01T00:00:01Z",
                      "inputs": {"sex": "f", "age": 50, "other": 1},
                      "outputs": {"prediction": 1}}).encode()  # fmt: skip
    record = route_capture_bytes(raw, models)
    assert record.f == {"sex": "f", "age": 50, "region": None}
    assert route_capture_bytes(raw).f is None  # no bias config: nothing extra carried
    join = JoinPartition(0)
    label = JoinRecord("l", "m", "e1", record.t + 5, 1)
    for r in (record, label):
        join.learn(r.id, None, False)
        join.apply(r, models)
    (delta,) = join.windows.values()
    assert delta.captured == [record] and delta.bias_pairs == [(record, 1)]


POST_ONLY = {**BIAS, "methods": {"post_training_bias": {"methods": ["DPPL"]}}}


def _rows_state(config: BiasConfig, rows: list[dict[str, Any]]) -> BiasState:
    return state_from_rows(config, rows, joined=True).merge(
        state_from_rows(config, rows, joined=False)
    )


def _group_rows(n: int, rate_f: float, rate_m: float) -> list[dict[str, Any]]:
    """n rows per group; the first rate * n of each group predicted positive."""
    rows = []
    for sex, rate in (("f", rate_f), ("m", rate_m)):
        for i in range(n):
            rows.append({"sex": sex, "age": 30 + i % 30, "region": "n", "y": i % 2,
                         "prediction": int(i < rate * n)})  # fmt: skip
    return rows


def test_the_interval_rule_ignores_a_small_window_that_the_point_rule_flags() -> None:
    """Baseline DPPL 0; 40 rows per group with DPPL 0.1: the point rule violates, the 95%
    interval (sd ~0.11) straddles 0 and does not; a DPPL of 0.6 violates under both."""
    config = BiasConfig.model_validate(POST_ONLY)
    baseline = analysis_json(config, _rows_state(config, _group_rows(400, 0.3, 0.3)))
    small = _rows_state(config, _group_rows(40, 0.3, 0.4))
    big = _rows_state(config, _group_rows(40, 0.1, 0.7))
    rule = IntervalOptions(check=True)

    def dppl_broken(state: BiasState, options: IntervalOptions | None) -> bool:
        found = evaluate_bias("m", (0, 1), config, state, baseline, options)
        return any(v.facet == "sex" and v.metric_name == "DPPL" for v in found.violations)

    assert dppl_broken(small, None) and not dppl_broken(small, rule)
    assert dppl_broken(big, None) and dppl_broken(big, rule)
    assert evaluate_bias("m", (0, 1), config, small, baseline, rule).check == "interval"


@settings(max_examples=25, deadline=None)
@given(st.lists(row, min_size=1, max_size=80), st.sampled_from([0.8, 0.95, 0.999]))
def test_intervals_hold_their_value_are_seeded_and_name_both_stages(rows, level) -> None:  # type: ignore[no-untyped-def]
    state = _rows_state(CONFIG, rows)
    options = IntervalOptions(level=level, replicates=200)
    first = evaluate_bias("m", (0, 1), CONFIG, state, None, options)
    assert first == evaluate_bias("m", (0, 1), CONFIG, state, None, options)  # seeded
    values = {
        (stage, r.facet, r.value_or_threshold, m.name): m.value
        for stage, reports in (("post_training", first.reports),
                               ("pre_training", first.pre_reports))
        for r in reports for m in r.metrics
    }  # fmt: skip
    for i in first.intervals:
        value = values[(i.stage, i.facet, i.facet_value, i.metric)]
        assert value is not None and i.low <= value + 1e-9 and value - 1e-9 <= i.high
    assert {i.stage for i in first.intervals} <= {"pre_training", "post_training"}
    doc = first.to_json()
    assert json.dumps(doc, allow_nan=False)
    assert set(doc["analysis"]) == {"version", "pre_training_bias_metrics",
                                    "post_training_bias_metrics"}  # fmt: skip
    page = report_files(first)["report.html"]
    assert "Bias metrics (pre-training)" in page and "not checked" in page


def test_the_window_report_page_marks_violations_and_escapes() -> None:
    config = BiasConfig.model_validate(
        {**POST_ONLY, "facet": [{"name_or_index": "sex", "value_or_threshold": ["<f>"]}]}
    )
    rows = [{**r, "sex": "<f>" if r["sex"] == "f" else "m"} for r in _group_rows(60, 0.1, 0.8)]
    baseline_rows = [{**r, "sex": "<f>" if r["sex"] == "f" else "m"}
                     for r in _group_rows(300, 0.4, 0.4)]  # fmt: skip
    baseline = analysis_json(config, _rows_state(config, baseline_rows))
    found = evaluate_bias("m", (0, 5000), config, _rows_state(config, rows), baseline)
    page = report_files(found, baseline)["report.html"]
    assert "&lt;f&gt;" in page and "<f>" not in page
    assert 'class="bad"' in page and "violation" in page and "0.95 interval" in page
    assert "1 violation(s)" in page


def test_bias_section_interval_settings_are_validated() -> None:
    quality = {"problem_type": "BinaryClassification"}
    base = {"model_id": "m", "quality": quality}
    ok = ModelConfig.model_validate(
        {**base, "bias": {"analysis_config": BIAS, "check": "interval", "confidence_level": 0.99}}
    )
    assert ok.bias is not None and ok.bias.check == "interval"
    for bad in ({"confidence_level": 1.0}, {"bootstrap_replicates": -1}, {"check": "maybe"},
                {"check": "interval", "bootstrap_replicates": 0}):  # fmt: skip
        with pytest.raises(ValidationError):
            ModelConfig.model_validate({**base, "bias": {"analysis_config": BIAS, **bad}})
