"""``check_config``: what ``model register`` and ``baseline push`` refuse, naming the field."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelmon.config import ModelConfig
from modelmon.config_check import check_config
from modelmon.drift.registry import METHODS
from modelmon.errors import ConfigurationError


def _config(**fields: object) -> ModelConfig:
    return ModelConfig.model_validate({"model_id": "m", **fields})


@given(st.text(min_size=1, max_size=20).filter(lambda s: s not in METHODS))
def test_an_unknown_feature_method_names_the_field_and_the_valid_ones(name: str) -> None:
    config = _config(
        features=[{"name": "a", "kind": "numeric"}, {"name": "b", "drift_method": name}]
    )
    with pytest.raises(ConfigurationError) as raised:
        check_config(config)
    assert str(raised.value).startswith("features[1].drift_method (b): unknown drift method")
    assert "linf_robust" in str(raised.value)


@pytest.mark.parametrize("section", ["numeric_method", "categorical_method"])
def test_an_unknown_default_method_names_the_drift_field(section: str) -> None:
    with pytest.raises(ConfigurationError, match=f"^drift.{section}: unknown drift method"):
        check_config(_config(drift={section: "kll"}))


@given(st.sampled_from(sorted(METHODS)), st.sampled_from(["numeric", "categorical"]))
def test_a_method_is_accepted_exactly_for_the_kinds_it_compares(name: str, kind: str) -> None:
    config = _config(features=[{"name": "f", "kind": kind, "drift_method": name}])
    if kind in METHODS[name].kinds:
        check_config(config)
    else:
        with pytest.raises(ConfigurationError, match=r"^features\[0\].drift_method \(f\): "):
            check_config(config)


def test_the_default_config_is_valid() -> None:
    check_config(_config())
