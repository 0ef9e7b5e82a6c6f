"""Clarify's analysis.json, SageMaker's bias_drift_check and bias CloudWatch datums."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelmon.bias.analysis import analysis_json, json_value, parse_analysis, parse_value
from modelmon.bias.checks import bias_violations, is_worse, violations_json
from modelmon.bias.cloudwatch import INFINITY_VALUE, bias_metric_data
from modelmon.bias.config import BiasConfig
from modelmon.bias.metrics import FT_DESCRIPTION, METRICS
from modelmon.bias.report import FacetValueReport, MetricValue, facet_reports
from modelmon.bias.state import state_from_columns
from modelmon.errors import BaselineError

REFERENCE = Path(__file__).resolve().parents[1] / "fixtures" / "sagemaker_reference"
BIAS_FILES = ("model_bias_baseline_analysis.json", "clarify_bias.json", "data_bias_analysis.json")


def _load(name: str) -> Any:
    return json.loads((REFERENCE / name).read_text(encoding="utf-8"))


def _adult_like(n: int = 3000, seed: int = 11) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    sex = rng.integers(0, 2, n)
    return {
        "Sex": sex,
        "Race": rng.integers(0, 4, n),
        "Age": rng.integers(17, 90, n),
        "Target": (rng.random(n) < np.where(sex == 0, 0.1, 0.3)).astype(int),
        "prediction": (rng.random(n) < np.where(sex == 0, 0.05, 0.25)).astype(int),
    }


ADULT = BiasConfig.model_validate(
    {
        "label": "Target",
        "label_values_or_threshold": [1],
        "facet": [{"name_or_index": "Sex", "value_or_threshold": [0]}],
        "group_variable": "Race",
        "dataset_type": "text/csv",
    }
)


@pytest.mark.parametrize("name", BIAS_FILES)
def test_reference_analysis_files_load(name: str) -> None:
    baseline = parse_analysis(_load(name))
    assert baseline.metrics and baseline.label in ("Target", "Label")
    for metric in baseline.metrics:
        if metric.name in METRICS:
            assert METRICS[metric.name].stage == metric.stage


def test_a_baseline_from_data_has_clarifys_structure_key_for_key() -> None:
    reference = _load("model_bias_baseline_analysis.json")
    state = state_from_columns(ADULT, _adult_like(), joined=True)
    ours = json.loads(json.dumps(analysis_json(ADULT, state)))
    assert list(ours) == list(reference)
    for stage in ("post_training_bias_metrics", "pre_training_bias_metrics"):
        assert list(ours[stage]) == list(reference[stage])
        assert list(ours[stage]["facets"]) == list(reference[stage]["facets"]) == ["Sex"]
        (entry,) = ours[stage]["facets"]["Sex"]
        (ref_entry,) = reference[stage]["facets"]["Sex"]
        assert list(entry) == list(ref_entry)
        assert entry["value_or_threshold"] == ref_entry["value_or_threshold"] == "0"
        ref_metrics = [m for m in ref_entry["metrics"] if m["name"] != "FT"]
        assert [list(m) for m in entry["metrics"]] == [list(m) for m in ref_metrics]
        assert [(m["name"], m["description"]) for m in entry["metrics"]] == [
            (m["name"], m["description"]) for m in ref_metrics
        ]
        assert all(isinstance(m["value"], float) for m in entry["metrics"])
    assert ours["post_training_bias_metrics"]["label_value_or_threshold"] == "1"


def test_threshold_facet_label_is_clarifys_interval() -> None:
    ref = _load("data_bias_analysis.json")["pre_training_bias_metrics"]["facets"]["F1"][0]
    config = BiasConfig.model_validate(
        {
            "label": "Label",
            "label_values_or_threshold": [1],
            "facet": [{"name_or_index": "F1", "value_or_threshold": [0.5], "threshold": True}],
        }
    )
    rng = np.random.default_rng(1)
    columns = {"F1": rng.random(500), "Label": rng.integers(0, 2, 500)}
    columns["prediction"] = columns["Label"]
    state = state_from_columns(config, columns, joined=True)
    (report,) = facet_reports(config, state, "pre_training")
    assert re.fullmatch(r"\(0\.5, 0\.9\d+\]", report.value_or_threshold)
    assert re.fullmatch(r"\(0\.5, 0\.9\d+\]", ref["value_or_threshold"])
    assert [(m.name, m.description) for m in report.metrics] == [
        (m["name"], m["description"]) for m in ref["metrics"]
    ]


def _numbers(description: str) -> tuple[float, float]:
    value, baseline = re.findall(r"(-?Infinity|-?\d[\d.eE+-]*)", description)
    return parse_value(value) or 0.0, parse_value(baseline) or 0.0  # type: ignore[return-value]


def test_sagemakers_violations_are_reproduced_from_the_reference_baseline() -> None:
    reference = _load("model_bias_constraint_violations.json")
    baseline = parse_analysis(_load("model_bias_baseline_analysis.json"))
    current = {v["metric_name"]: _numbers(v["description"])[0] for v in reference["violations"]}
    metrics = []
    for m in baseline.metrics:
        if m.stage == "post_training":
            value = current.get(m.name, m.value)
            description = METRICS[m.name].description if m.name in METRICS else FT_DESCRIPTION
            metrics.append(MetricValue(m.name, description, value))
    window = [FacetValueReport("Sex", "0", tuple(metrics))]
    found = bias_violations(baseline, "post_training", window)
    assert violations_json(found) == reference
    for v in reference["violations"]:
        value, limit = _numbers(v["description"])
        ideal = 1.0 if v["metric_name"] == "DI" else 0.0
        assert is_worse(value, limit, ideal)


def test_sagemakers_example_worse_is_farther_from_the_ideal() -> None:
    assert not is_worse(0.1, 0.2, 0.0)
    assert is_worse(-0.3, 0.2, 0.0)
    assert not is_worse(-0.2, 0.2, 0.0)
    assert is_worse(0.7, 0.8, 1.0) and is_worse(1.3, 0.8, 1.0) and not is_worse(1.15, 0.8, 1.0)
    assert is_worse(math.inf, 2.9, 0.0) and not is_worse(math.inf, math.inf, 0.0)


def _window(**values: float | None) -> list[FacetValueReport]:
    metrics = tuple(MetricValue(n, METRICS[n].description, v) for n, v in values.items())
    return [FacetValueReport("Sex", "0", metrics)]


def test_nulls_never_violate_and_intervals_can_clear_a_point() -> None:
    doc = {
        "version": "1.0",
        "post_training_bias_metrics": {
            "label": "Target",
            "facets": {
                "Sex": [
                    {
                        "value_or_threshold": "0",
                        "metrics": [
                            {"name": "DPPL", "description": "x", "value": 0.2},
                            {"name": "DI", "description": "x", "value": None, "error": "e"},
                            {"name": "TE", "description": "x", "value": "Infinity"},
                        ],
                    }
                ]
            },
            "label_value_or_threshold": "1",
        },
    }
    baseline = parse_analysis(doc)
    assert not bias_violations(baseline, "post_training", _window(DPPL=None, DI=5.0, TE=1e9))
    (v,) = bias_violations(baseline, "post_training", _window(DPPL=-0.3))
    assert v.description == "Metric value -0.3 doesn't meet the baseline constraint requirement 0.2"
    overlapping = {("Sex", "0", "DPPL"): (-0.35, -0.15)}
    assert not bias_violations(baseline, "post_training", _window(DPPL=-0.3), overlapping)
    disjoint = {("Sex", "0", "DPPL"): (-0.4, -0.25)}
    assert bias_violations(baseline, "post_training", _window(DPPL=-0.3), disjoint)


def test_threshold_facets_match_the_baseline_on_the_lower_bound() -> None:
    doc = {
        "post_training_bias_metrics": {
            "label": "y",
            "facets": {
                "Age": [
                    {
                        "value_or_threshold": "(40, 90]",
                        "metrics": [{"name": "DPPL", "description": "d", "value": 0.1}],
                    }
                ]
            },
        }
    }
    window = [FacetValueReport("Age", "(40, 77]", _window(DPPL=0.5)[0].metrics)]
    (v,) = bias_violations(parse_analysis(doc), "post_training", window)
    assert v.facet_value == "(40, 77]"


@pytest.mark.parametrize("bad", [[], {"version": "1.0"}, {"post_training_bias_metrics": []}])
def test_not_an_analysis_file_is_a_baseline_error(bad: Any) -> None:
    with pytest.raises(BaselineError):
        parse_analysis(bad)


def test_infinity_is_written_and_read_as_clarify_does() -> None:
    assert json_value(math.inf) == "Infinity" and json_value(-math.inf) == "-Infinity"
    assert parse_value("Infinity") == math.inf and parse_value("-Infinity") == -math.inf
    assert parse_value(None) is None and parse_value("NaN") is None


def test_cloudwatch_datums_use_sagemakers_names_and_infinity_value() -> None:
    when = datetime(2026, 1, 2, 3, tzinfo=UTC)
    reports = {"post_training": _window(DPPL=0.25, TE=math.inf, DI=None, AD=-math.inf)}
    data = bias_metric_data(
        reports, endpoint="ep", schedule="sch", label="Target", label_value="1", timestamp=when
    )
    assert {d.name: d.value for d in data} == {
        "bias_metric_DPPL": 0.25,
        "bias_metric_TE": INFINITY_VALUE,
        "bias_metric_AD": -INFINITY_VALUE,
    }
    assert data[0].dimensions == (
        ("Endpoint", "ep"),
        ("MonitoringSchedule", "sch"),
        ("BiasStage", "Post-Training"),
        ("Label", "Target"),
        ("LabelValue", "1"),
        ("Facet", "Sex"),
        ("FacetValue", "0"),
    )
    aws = data[1].to_aws()
    assert aws["Value"] == 2.348543e108 and aws["Timestamp"] == when
    pre = bias_metric_data(
        {"pre_training": _window(DPPL=0.1)},
        endpoint="ep",
        schedule="s",
        label="y",
        label_value="1",
        timestamp=when,
    )
    assert ("BiasStage", "Pre-training") in pre[0].dimensions


def test_report_section_escapes_and_marks_violations() -> None:
    from modelmon.bias.html import bias_report_page, bias_section

    baseline = parse_analysis(_load("model_bias_baseline_analysis.json"))
    window = [
        FacetValueReport("Sex", "0", _window(DPPL=0.9, AD=-0.1)[0].metrics, (5, 6, 7, 8)),
        FacetValueReport("<script>x</script>", "1", (MetricValue("GE", "g", None, "e<rr"),)),
    ]
    found = bias_violations(baseline, "post_training", window)
    assert [v.metric_name for v in found] == ["DPPL"]
    page = bias_report_page("t", [bias_section("post_training", window, baseline, found)])
    assert "<script>" not in page and "&lt;script&gt;" in page and "e&lt;rr" in page
    assert page.count('class="bad"') == 1 and "no baseline" in page
