"""Per-feature monitoring overrides as the SageMaker SDK and container write them (issue 22).

The ``sdk*_*.json`` fixtures are files the SageMaker Python SDK itself wrote with
``Constraints.set_monitoring`` (tests/fixtures/sagemaker_sdk/README.md says how); the checks
must honour them end to end: a disabled feature raises no drift and no categorical alarm.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelmon.checks import Baseline, evaluate
from modelmon.checks.policy import feature_policy
from modelmon.profile import DatasetProfile, ProfileTracker
from modelmon.sagemaker import read_constraints, read_statistics
from modelmon.sagemaker.constraints import OVERRIDE_PLACES, Constraints

SDK = Path(__file__).parents[1] / "fixtures" / "sagemaker_sdk"
COLORS = np.array(["red", "green", "blue", "black", "white"], dtype=object)
SDK_TAGS = sorted({p.name.split("_", 1)[0] for p in SDK.glob("sdk*_features_disabled.json")})


def drifted_window() -> DatasetProfile:
    """Every feature drifts and both categorical features gain an unknown value."""
    rng = np.random.default_rng(23)
    n = 2000
    unknown = np.array(["red", "green", "blue", "black", "white", "mauve"], dtype=object)
    tracker = ProfileTracker({"a": "numeric", "b": "numeric", "color": "categorical",
                              "shade": "categorical"})  # fmt: skip
    tracker.update(
        {
            "a": rng.normal(13, 2, n),
            "b": rng.normal(1.5, 1, n),
            "color": rng.choice(unknown, n, p=[0.05, 0.1, 0.15, 0.2, 0.3, 0.2]),
            "shade": rng.choice(unknown, n, p=[0.4, 0.2, 0.1, 0.05, 0.05, 0.2]),
        }
    )
    return tracker.snapshot()


def alarms(constraints_file: str) -> set[tuple[str, str]]:
    base = Baseline(
        read_statistics(SDK / "base_statistics.json"), read_constraints(SDK / constraints_file)
    )
    return {(v.check_type, v.feature) for v in evaluate(base, drifted_window()).violations}


ALL = {
    (check, feature)
    for feature in ("a", "b")
    for check in ("baseline_drift_check",)
} | {(check, f) for f in ("color", "shade")
     for check in ("baseline_drift_check", "categorical_values_check")}  # fmt: skip


def test_the_base_file_flags_every_drifted_feature() -> None:
    assert alarms("base_constraints.json") == ALL


@pytest.mark.parametrize("tag", SDK_TAGS)
def test_features_disabled_by_the_sdk_raise_no_alarms(tag: str) -> None:
    """SDK 2.x and 3.x write features[i].monitoring_config_overrides.evaluate_constraints."""
    raw = json.loads((SDK / f"{tag}_features_disabled.json").read_text())
    written = {f["name"]: f.get("monitoring_config_overrides") for f in raw["features"]}
    assert written["b"] == written["color"] == {"evaluate_constraints": "Disabled"}
    assert alarms(f"{tag}_features_disabled.json") == {c for c in ALL if c[1] not in ("b", "color")}


@pytest.mark.parametrize("tag", SDK_TAGS)
def test_monitoring_disabled_for_the_whole_file_raises_nothing(tag: str) -> None:
    assert alarms(f"{tag}_all_disabled.json") == set()


@pytest.mark.parametrize("tag", SDK_TAGS)
def test_a_feature_enabled_again_is_checked_again(tag: str) -> None:
    assert alarms(f"{tag}_disabled_then_enabled.json") == ALL


def test_both_sdk_majors_were_captured() -> None:
    assert SDK_TAGS == ["sdk2", "sdk3"]


def test_sdk_files_round_trip_unchanged() -> None:
    for tag in SDK_TAGS:
        raw = json.loads((SDK / f"{tag}_features_disabled.json").read_text())
        assert Constraints.model_validate(raw).to_dict() == raw


def _spelled(place: str, key: str, value: Any) -> dict[str, Any]:
    feature: dict[str, Any] = {"name": "color", "inferred_type": "String",
                               "string_constraints": {"domains": ["red"]}}  # fmt: skip
    holder = feature
    *outer, last = place.split(".")
    for part in outer:
        holder = holder.setdefault(part, {})
    holder[last] = {key: value}
    return {"features": [feature]}


@settings(max_examples=60, deadline=None)
@given(
    place=st.sampled_from(OVERRIDE_PLACES),
    key=st.sampled_from(["evaluate_constraints", "evaluateConstraints"]),
    enabled=st.booleans(),
    spelling=st.sampled_from(["word", "lower", "bool"]),
)
def test_every_spelling_of_the_override_is_read(
    place: str, key: str, enabled: bool, spelling: str
) -> None:
    word = "Enabled" if enabled else "Disabled"
    value: Any = {"word": word, "lower": word.lower(), "bool": enabled}[spelling]
    cons = Constraints.model_validate(_spelled(place, key, value))
    assert feature_policy("color", "categorical", cons, None).evaluate_constraints is enabled


@given(first=st.sampled_from(OVERRIDE_PLACES), second=st.sampled_from(OVERRIDE_PLACES))
def test_the_more_authoritative_place_wins(first: str, second: str) -> None:
    """Two places disagree: the one earlier in OVERRIDE_PLACES decides."""
    if first == second:
        return
    doc = _spelled(first, "evaluate_constraints", "Disabled")
    other = _spelled(second, "evaluate_constraints", "Enabled")["features"][0]
    feature = doc["features"][0]
    for key, value in other.items():
        if isinstance(value, dict) and isinstance(feature.get(key), dict):
            feature[key] = {**value, **feature[key]}
        else:
            feature.setdefault(key, value)
    cons = Constraints.model_validate(doc)
    winner = min(first, second, key=OVERRIDE_PLACES.index)
    expected = winner != first
    assert feature_policy("color", "categorical", cons, None).evaluate_constraints is expected
