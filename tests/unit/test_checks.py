"""modelmon.checks: each SageMaker check flags exactly what is wrong, and nothing else."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelmon.checks import Baseline, evaluate, validate
from modelmon.config import DEFAULT_CHECKS, DriftConfig, FeatureConfig, ModelConfig
from modelmon.errors import BaselineError, ConfigurationError
from modelmon.profile import DatasetProfile, ProfileTracker
from modelmon.readers import DataReader, ReadOptions, read_profile
from modelmon.sagemaker.build import build_statistics, suggest_constraints
from modelmon.sagemaker.constraints import FeatureOverrides

REF = Path(__file__).parents[1] / "fixtures" / "batch" / "sagemaker"
COLORS = np.array(["red", "green", "blue", "black", "white"], dtype=object)


def dataset(n: int, seed: int, **changes: Any) -> dict[str, Any]:
    """Columns a, b, c (normal), count (Integral) and color (5 categories)."""
    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {
        "a": rng.normal(10, 2, n),
        "b": rng.normal(0, 1, n),
        "c": rng.lognormal(0, 0.5, n),
        "count": rng.integers(0, 20, n),
        "color": rng.choice(COLORS, n, p=[0.4, 0.3, 0.15, 0.1, 0.05]),
    }
    data.update(changes)
    return data


def profile_of(columns: dict[str, Any], kinds: Any = None) -> DatasetProfile:
    tracker = ProfileTracker(kinds)
    tracker.update(columns)
    return tracker.snapshot()


@pytest.fixture(scope="module")
def baseline() -> Baseline:
    profile = profile_of(dataset(4000, seed=1))
    stats = build_statistics(profile, ["a", "b", "c", "count", "color"])
    return Baseline(stats, suggest_constraints(stats), profile)


def check(baseline: Baseline, columns: dict[str, Any], config: ModelConfig | None = None) -> Any:
    return evaluate(baseline, profile_of(columns, baseline.kinds()), config)


def flagged(evaluation: Any) -> set[tuple[str, str]]:
    return {(v.check_type, v.feature) for v in evaluation.violations}


def test_same_distribution_has_no_violations(baseline: Baseline) -> None:
    result = check(baseline, dataset(2000, seed=2))
    assert flagged(result) == set()
    assert {c.check_type for c in result.checks} == {
        "data_type_check",
        "completeness_check",
        "baseline_drift_check",
        "categorical_values_check",
    }
    assert result.features["a"].count == 2000
    assert set(result.features["a"].distances) == {
        "linf_simple", "linf_robust", "psi", "jensen_shannon", "jensen_shannon_robust",
        "wasserstein", "mean_shift",
    }  # fmt: skip


def test_drift_flags_exactly_the_drifted_features(baseline: Baseline) -> None:
    rng = np.random.default_rng(5)
    drifted = dataset(
        2000,
        seed=3,
        b=rng.normal(1.0, 1, 2000),
        color=rng.choice(COLORS, 2000, p=[0.1, 0.3, 0.15, 0.1, 0.35]),
    )
    result = check(baseline, drifted)
    assert flagged(result) == {("baseline_drift_check", "b"), ("baseline_drift_check", "color")}
    b = next(v for v in result.violations if v.feature == "b")
    assert b.method == "linf_robust" and b.threshold == 0.1
    assert b.description.startswith("Numerical distance: ")
    # SageMaker's wording exactly: the method is in its own field, not in the text
    assert b.description == f"Numerical distance: {b.value!r} exceeds numerical threshold: 0.1"
    assert b.error_bound is not None and b.error_bound > 0 and not b.borderline
    color = next(v for v in result.violations if v.feature == "color")
    assert color.method == "linf_categorical_robust"
    assert color.description.startswith("Categorical distance: ")


def test_missing_and_extra_columns(baseline: Baseline) -> None:
    data = dataset(500, seed=4)
    del data["c"]
    data["surprise"] = np.ones(500)
    result = check(baseline, data)
    assert flagged(result) == {("missing_column_check", "c"), ("extra_column_check", "surprise")}
    missing = next(v for v in result.violations if v.feature == "c")
    assert missing.description == (
        "There are missing columns in current dataset. Number of columns in current dataset: 5, "
        "Number of columns in baseline constraints: 5"
    )
    assert "surprise" in result.features


def test_new_categories(baseline: Baseline) -> None:
    colors = np.array(dataset(1000, seed=6)["color"])
    colors[:10] = "purple"
    result = check(baseline, dataset(1000, seed=6, color=colors))
    assert flagged(result) == {("categorical_values_check", "color")}
    v = result.violations[0]
    assert v.value == pytest.approx(0.99)
    assert v.description == (
        "Value: 0.99 does not meet the constraint requirement! Expected at least 100.0% of "
        "values in the baseline domain; values not in the domain: purple"
    )


def test_nulls_break_completeness(baseline: Baseline) -> None:
    a = dataset(1000, seed=7)["a"].copy()
    a[:50] = np.nan
    result = check(baseline, dataset(1000, seed=7, a=a))
    assert flagged(result) == {("completeness_check", "a")}
    assert result.violations[0].description == (
        "Data completeness requirement is not met. Expected completeness: 100.0%. "
        "Observed: Only 95.0% of data is present."
    )


def test_strings_in_an_integral_column(baseline: Baseline) -> None:
    counts: list[Any] = list(dataset(1000, seed=8)["count"])
    counts[:3] = ["many", "lots", "n/a"]
    result = check(baseline, dataset(1000, seed=8, count=counts))
    assert flagged(result) == {("data_type_check", "count")}
    assert result.violations[0].description == (
        "Data type match requirement is not met. Expected data type: Integral, "
        "Expected match: 100.0%. Observed: Only 99.7% of data is Integral."
    )


def test_small_window_skips_drift_and_says_so(baseline: Baseline) -> None:
    rng = np.random.default_rng(9)
    result = check(baseline, dataset(20, seed=9, b=rng.normal(5, 1, 20)))
    assert flagged(result) == set()
    drift = [c for c in result.checks if c.check_type == "baseline_drift_check"]
    assert len(drift) == 5 and not any(c.violated for c in drift)
    assert drift[0].description.startswith("skipped: 20 value(s) in the data, fewer than the 30")
    assert result.notes == (
        "drift not checked: fewer than 30 values (min_window_count): a, b, c, count, color",
    )
    lowered = ModelConfig(model_id="m", drift=DriftConfig(min_window_count=10))
    assert ("baseline_drift_check", "b") in flagged(
        check(baseline, dataset(20, seed=9, b=rng.normal(5, 1, 20)), lowered)
    )


def test_per_feature_overrides_and_methods(baseline: Baseline) -> None:
    rng = np.random.default_rng(10)
    drifted = dataset(2000, seed=11, b=rng.normal(1.0, 1, 2000))
    b_cons = baseline.constraints.feature("b")
    assert b_cons is not None
    relaxed = baseline.constraints.model_copy(deep=True)
    feature = relaxed.feature("b")
    assert feature is not None
    feature.monitoringConfigOverrides = FeatureOverrides(comparison_threshold=0.9)
    lenient = Baseline(baseline.statistics, relaxed, baseline.profile)
    assert flagged(check(lenient, drifted)) == set()
    psi = ModelConfig(model_id="m", features=[FeatureConfig(name="b", drift_method="psi")])
    result = check(baseline, drifted, psi)
    b = next(v for v in result.violations if v.feature == "b")
    assert b.method == "psi" and b.threshold == 0.2  # PSI is judged on its own scale
    with pytest.raises(ConfigurationError, match="method 'nope' does not apply"):
        check(baseline, drifted, ModelConfig(model_id="m", features=[
            FeatureConfig(name="b", drift_method="nope")]))  # fmt: skip


def test_chi_squared_and_disabled_comparison(baseline: Baseline) -> None:
    rng = np.random.default_rng(12)
    drifted = dataset(2000, seed=13, color=rng.choice(COLORS, 2000, p=[0.1, 0.3, 0.15, 0.1, 0.35]))
    cons = baseline.constraints.model_copy(deep=True)
    cons.monitoring_config.distribution_constraints.categorical_drift_method = "ChiSquared"
    cons.monitoring_config.distribution_constraints.categorical_comparison_threshold = 0.05
    result = check(Baseline(baseline.statistics, cons, baseline.profile), drifted)
    color = next(v for v in result.violations if v.feature == "color")
    assert color.method == "chi_square"
    assert color.description.startswith("Categorical p-value: ")
    cons.monitoring_config.distribution_constraints.perform_comparison = "Disabled"
    result = check(Baseline(baseline.statistics, cons, baseline.profile), drifted)
    assert flagged(result) == set()
    assert "chi_square" in result.features["color"].distances


def test_non_negative_is_opt_in(baseline: Baseline) -> None:
    c = dataset(1000, seed=14)["c"].copy()
    c[0] = -2.5
    data = dataset(1000, seed=14, c=c)
    assert flagged(check(baseline, data)) == set()
    config = ModelConfig(model_id="m", checks=[*DEFAULT_CHECKS, "non_negative_check"])
    result = check(baseline, data, config)
    assert flagged(result) == {("non_negative_check", "c")}
    assert result.violations[0].value == -2.5


def test_unmonitored_features_are_left_out(baseline: Baseline) -> None:
    data = dataset(500, seed=15)
    del data["a"]
    config = ModelConfig(model_id="m", features=[FeatureConfig(name="a", monitored=False)])
    result = check(baseline, data, config)
    assert flagged(result) == set() and "a" not in result.features


def test_constraint_violations_file(baseline: Baseline) -> None:
    data = dataset(500, seed=16)
    del data["c"]
    doc = check(baseline, data).constraint_violations().to_dict()
    assert doc == {
        "violations": [
            {
                "feature_name": "c",
                "constraint_check_type": "missing_column_check",
                "description": "There are missing columns in current dataset. Number of columns "
                "in current dataset: 4, Number of columns in baseline constraints: 5",
            }
        ]
    }


# ----- baselines --------------------------------------------------------------------------------
def test_baseline_directory_and_bytes_round_trip(baseline: Baseline, tmp_path: Path) -> None:
    baseline.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "constraints.json", "profile.bin", "statistics.json",
    ]  # fmt: skip
    loaded = Baseline.load(tmp_path)
    assert loaded.feature_names == ["a", "b", "c", "count", "color"]
    assert loaded.profile is not None and loaded.profile.row_count == 4000
    again = Baseline.from_bytes(loaded.to_bytes())
    assert again.statistics == baseline.statistics
    assert again.constraints == baseline.constraints
    data = dataset(1000, seed=17)
    assert flagged(check(again, data)) == flagged(check(baseline, data)) == set()


def test_bad_baselines_are_clear_errors(baseline: Baseline, tmp_path: Path) -> None:
    with pytest.raises(BaselineError, match="does not exist"):
        Baseline.load(tmp_path / "nowhere")
    (tmp_path / "statistics.json").write_text("{}")
    with pytest.raises(BaselineError, match=r"has no constraints\.json"):
        Baseline.load(tmp_path)
    baseline.save(tmp_path)
    (tmp_path / "profile.bin").write_bytes(b"garbage")
    with pytest.raises(BaselineError, match=r"profile\.bin is corrupt"):
        Baseline.load(tmp_path)
    (tmp_path / "constraints.json").write_text('{"features": 3}')
    with pytest.raises(BaselineError, match=r"constraints\.json is not a valid"):
        Baseline.load(tmp_path)
    with pytest.raises(BaselineError, match="bad header"):
        Baseline.from_bytes(b"nonsense")
    with pytest.raises(BaselineError, match="bad body"):
        Baseline.from_bytes(b"MMBASELINE\x00\x01{")


# ----- SageMaker-made baselines -----------------------------------------------------------------
def sagemaker_baseline(tmp_path: Path) -> Baseline:
    (tmp_path / "statistics.json").write_bytes((REF / "data_quality_statistics.json").read_bytes())
    (tmp_path / "constraints.json").write_bytes(
        (REF / "data_quality_constraints.json").read_bytes()
    )
    return Baseline.load(tmp_path)


def test_sagemaker_baseline_against_its_own_data(tmp_path: Path) -> None:
    base = sagemaker_baseline(tmp_path)
    assert base.profile is None
    reader = DataReader(
        [str(REF / "data_quality_baseline_dataset.csv")], ReadOptions(names=base.feature_names)
    )
    profile, _ = read_profile(reader, kinds=base.kinds())
    result = evaluate(base, profile)
    assert flagged(result) == set()
    assert result.features["_c0"].distances["linf_simple"] == 0.0


def test_sagemaker_baseline_flags_only_the_drifted_column(tmp_path: Path) -> None:
    base = sagemaker_baseline(tmp_path)
    lines = (REF / "data_quality_baseline_dataset.csv").read_text().splitlines()
    shifted = []
    for line in lines:
        fields = line.split(",")
        fields[2] = str(float(fields[2]) + 3)
        shifted.append(",".join(fields))
    (tmp_path / "drifted.csv").write_text("\n".join(shifted) + "\n")
    reader = DataReader([str(tmp_path / "drifted.csv")], ReadOptions(names=base.feature_names))
    profile, _ = read_profile(reader, kinds=base.kinds())
    assert flagged(evaluate(base, profile)) == {("baseline_drift_check", "_c2")}


def test_bad_case_constraints_flag_the_string_typed_column(tmp_path: Path) -> None:
    base = sagemaker_baseline(tmp_path)
    bad = (REF / "data_quality_constraints_bad_case.json").read_bytes()
    (tmp_path / "constraints.json").write_bytes(bad)
    base = Baseline.load(tmp_path)
    reader = DataReader(
        [str(REF / "data_quality_baseline_dataset.csv")], ReadOptions(names=base.feature_names)
    )
    profile, _ = read_profile(reader, kinds=base.kinds())
    # The SDK's "bad case": _c5 declared String, but its data are numbers.
    result = evaluate(base, profile)
    assert flagged(result) == {("data_type_check", "_c5")}
    assert result.violations[0].description == (
        "Data type match requirement is not met. Expected data type: String, "
        "Expected match: 100.0%. Observed: Only 0.0% of data is String."
    )


def test_string_features_with_numeric_codes_accept_numbers() -> None:
    codes = np.array(["A1", "007", "42", "B7"] * 100, dtype=object)
    profile = profile_of({"code": codes})
    stats = build_statistics(profile)
    assert stats.features[0].inferred_type == "String"
    for base in (Baseline(stats, suggest_constraints(stats), profile),
                 Baseline(stats, suggest_constraints(stats))):  # fmt: skip
        current = profile_of({"code": np.array(["007", "42", "B7", "A1"] * 30, dtype=object)},
                             base.kinds())  # fmt: skip
        assert flagged(evaluate(base, current)) == set()


def test_without_profile_bin_the_statistics_give_the_same_verdicts(baseline: Baseline) -> None:
    """A baseline of only the JSON files (as SageMaker makes them) rebuilds its distributions
    from the KLL levels and categorical buckets written in statistics.json."""
    json_only = Baseline.from_bytes(Baseline(baseline.statistics, baseline.constraints).to_bytes())
    assert json_only.profile is None
    rng = np.random.default_rng(18)
    drifted = dataset(2000, seed=19, a=rng.normal(11, 2, 2000),
                      color=rng.choice(COLORS, 2000, p=[0.1, 0.3, 0.15, 0.1, 0.35]))  # fmt: skip
    current = profile_of(drifted, baseline.kinds())  # one sketch: KLL compaction is random
    with_profile, without = evaluate(baseline, current), evaluate(json_only, current)
    assert (
        flagged(with_profile)
        == flagged(without)
        == {
            ("baseline_drift_check", "a"),
            ("baseline_drift_check", "color"),
        }
    )
    for name in ("a", "b", "c", "count", "color"):
        ours, theirs = with_profile.features[name].distances, without.features[name].distances
        method = "linf_simple" if name != "color" else "linf_categorical"
        assert theirs[method] == pytest.approx(ours[method], abs=1e-9)


def test_old_sagemaker_constraints_with_sdk_overrides() -> None:
    """The SDK's hand-made files: String features, min_domain_mass, and
    string_constraints.monitoring_config_overrides (what Constraints.set_monitoring writes)."""
    from modelmon.sagemaker import read_constraints, read_statistics

    stats = read_statistics(REF / "statistics.json")
    cons = read_constraints(REF / "constraints.json")
    base = Baseline(stats, cons)
    assert base.kinds() == {"message": "categorical", "second_message": "categorical"}
    known = "preproc-not-YET-supported-for-csv-json"
    current = profile_of({"message": [known] * 400 + ["other"] * 18}, base.kinds())
    assert flagged(evaluate(base, current)) == {
        ("categorical_values_check", "message"),
        ("missing_column_check", "second_message"),
    }
    feature = cons.feature("message")
    assert feature is not None and feature.string_constraints is not None
    overrides = feature.string_constraints.monitoring_config_overrides
    assert overrides is not None
    overrides.evaluate_constraints = "Disabled"
    assert flagged(evaluate(base, current)) == {("missing_column_check", "second_message")}


def test_validate_fails_early_on_a_bad_method(baseline: Baseline) -> None:
    validate(baseline, None)
    bad = ModelConfig(model_id="m", drift=DriftConfig(categorical_method="nope"))
    with pytest.raises(ConfigurationError, match="'nope' does not apply to categorical"):
        validate(baseline, bad)


def test_each_method_is_judged_against_its_own_threshold(baseline: Baseline) -> None:
    rng = np.random.default_rng(10)
    drifted = dataset(2000, seed=11, b=rng.normal(0.35, 1, 2000))
    own = ModelConfig(
        model_id="m",
        features=[FeatureConfig(name="b", drift_method="psi")],
        drift=DriftConfig(method_thresholds={"psi": 5.0}),
    )
    b = next(
        c
        for c in check(baseline, drifted, own).checks
        if c.feature == "b" and c.check_type == "baseline_drift_check"
    )
    assert (b.method, b.threshold, b.violated) == ("psi", 5.0, False)
    with pytest.raises(ConfigurationError, match="unknown drift method 'nope'"):
        check(
            baseline,
            drifted,
            ModelConfig(model_id="m", drift=DriftConfig(method_thresholds={"nope": 1})),
        )


def test_recommended_policy_uses_several_methods_each_with_its_threshold(
    baseline: Baseline,
) -> None:
    rng = np.random.default_rng(10)
    shifted = dataset(2000, seed=11, b=rng.normal(0.3, 1, 2000))
    sagemaker = check(baseline, shifted)
    recommended = check(
        baseline, shifted, ModelConfig(model_id="m", drift=DriftConfig(policy="recommended"))
    )
    b_sm = next(
        c for c in sagemaker.checks if c.feature == "b" and c.check_type == "baseline_drift_check"
    )
    b_rec = next(c for c in recommended.violations if c.feature == "b")
    assert b_sm.method == "linf_robust"
    rules = {"linf_robust": 0.1, "jensen_shannon_robust": 0.05}
    assert rules[b_rec.method or ""] == b_rec.threshold
    same = check(
        baseline,
        dataset(2000, seed=12),
        ModelConfig(model_id="m", drift=DriftConfig(policy="recommended")),
    )
    assert flagged(same) == set()


@pytest.mark.parametrize(
    ("value", "bound", "violated", "borderline"),
    [(0.101, 0.007, True, True), (0.095, 0.007, False, True), (0.2, 0.007, True, False),
     (0.05, 0.0, False, False), (0.12, None, True, False)],
)  # fmt: skip
def test_borderline_when_the_bound_straddles_the_threshold(
    value: float, bound: float | None, violated: bool, borderline: bool
) -> None:
    from modelmon.checks.evaluate import _drift_outcome
    from modelmon.checks.policy import DriftRule
    from modelmon.drift import DriftResult

    out = _drift_outcome("x", "numeric", DriftRule("linf_robust", 0.1), DriftResult(value, bound))
    assert (out.violated, out.borderline, out.error_bound) == (violated, borderline, bound)
