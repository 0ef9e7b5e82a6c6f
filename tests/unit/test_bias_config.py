"""The bias config: Clarify's analysis_config.json as is, modelmon's fields, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from modelmon.bias.analysis import analysis_json
from modelmon.bias.config import BiasConfig, canonical_metric, value_key
from modelmon.bias.report import metric_names
from modelmon.bias.state import state_from_rows

EXAMPLES = Path(__file__).resolve().parents[2] / "schemas" / "examples" / "bias-config"


def test_clarify_analysis_config_is_accepted_as_is() -> None:
    doc = json.loads((EXAMPLES / "clarify-analysis-config.json").read_text())
    config = BiasConfig.model_validate(doc)
    assert config.label_name == "Target" and config.facet[0].sensitive_keys() == {"0"}
    assert config.model_dump(mode="json", exclude_unset=True) == doc  # Clarify's fields kept
    assert config.stage_methods() == {"post_training": None, "pre_training": None}


def test_methods_choose_stages_and_metrics() -> None:
    config = BiasConfig.model_validate(
        {
            "label": "y",
            "label_values_or_threshold": [1],
            "facet": [{"name_or_index": "s"}],
            "methods": {"post_training_bias": {"methods": ["DPPL", "DCAcc", "FT"]}},
        }
    )
    rows = [{"s": "a", "y": 1, "prediction": 1}, {"s": "b", "y": 0, "prediction": 0}]
    doc = analysis_json(config, state_from_rows(config, rows))
    assert list(doc) == ["version", "post_training_bias_metrics"]
    names = [m["name"] for m in doc["post_training_bias_metrics"]["facets"]["s"][0]["metrics"]]
    assert names == ["DCA", "DPPL"]  # Clarify's order; FT is not built


def test_column_indexes_resolve_through_headers() -> None:
    config = BiasConfig.model_validate(
        {
            "headers": ["age", "sex", "label"],
            "label": 2,
            "label_values_or_threshold": [1],
            "facet": [{"name_or_index": 1}],
        }
    )
    assert config.label_name == "label" and config.column(config.facet[0].name_or_index) == "sex"
    no_headers = BiasConfig.model_validate(
        {"label": 0, "label_values_or_threshold": [1], "facet": [{"name_or_index": "s"}]}
    )
    with pytest.raises(ValueError, match="headers"):
        no_headers.column(no_headers.label)


@pytest.mark.parametrize(
    "doc",
    [
        {"label": "y", "label_values_or_threshold": [], "facet": [{"name_or_index": "s"}]},
        {"label": "y", "label_values_or_threshold": [1], "facet": []},
        {"label": "y", "label_values_or_threshold": ["x"], "label_threshold": True,
         "facet": [{"name_or_index": "s"}]},
        {"label": "y", "label_values_or_threshold": [1],
         "facet": [{"name_or_index": "s", "value_or_threshold": ["a"], "threshold": True}]},
        {"label": "y", "label_values_or_threshold": [1],
         "facet": [{"name_or_index": "s"}, {"name_or_index": "s"}]},
        {"label": "y", "label_values_or_threshold": [1], "probability_threshold": 2,
         "facet": [{"name_or_index": "s"}]},
    ],
)  # fmt: skip
def test_bad_configs_are_refused(doc: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        BiasConfig.model_validate(doc)


def test_metric_names_and_category_keys() -> None:
    assert canonical_metric("dcacc") == "DCA"
    with pytest.raises(ValueError, match="valid"):
        canonical_metric("XYZ")
    with pytest.raises(ValueError, match="not a pre_training metric"):
        metric_names("pre_training", ["DPPL"])
    assert value_key(1) == value_key(1.0) == value_key("1") == value_key("1.0") == "1"
    assert value_key(True) == "True" and value_key("1.5") == "1.5" and value_key("f") == "f"
