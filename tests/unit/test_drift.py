"""The drift registry, SageMaker's methods and baselines, and the edge cases of each distance."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from modelmon.drift import METHODS, available_methods, evaluate, get_method, sagemaker_method
from modelmon.drift.categorical import regroup
from modelmon.drift.numeric import js_divergence
from modelmon.errors import BaselineError, ConfigurationError
from modelmon.profile import (
    CategoricalCounts,
    CategoricalProfile,
    NumericProfile,
    ProfileTracker,
    WeightedSample,
)

REFERENCE = Path(__file__).resolve().parents[1] / "fixtures" / "sagemaker_reference"
NUMERIC = [
    "linf_simple",
    "linf_robust",
    "psi",
    "jensen_shannon",
    "jensen_shannon_robust",
    "wasserstein",
    "mean_shift",
]
CATEGORICAL = [
    "linf_categorical",
    "linf_categorical_robust",
    "chi_square",
    "new_category_rate",
    "new_category_excess",
]


def numeric(values: Any) -> NumericProfile:
    t = ProfileTracker({"x": "numeric"})
    t.update({"x": values})
    f = t.snapshot().features["x"]
    assert isinstance(f, NumericProfile)
    return f


def categorical(values: Any) -> CategoricalProfile:
    t = ProfileTracker({"c": "categorical"})
    t.update({"c": values})
    f = t.snapshot().features["c"]
    assert isinstance(f, CategoricalProfile)
    return f


def test_registry_names_kinds_and_semantics() -> None:
    assert available_methods("numeric") == NUMERIC
    assert available_methods("categorical") == CATEGORICAL
    assert available_methods() == NUMERIC + CATEGORICAL
    assert METHODS["chi_square"].higher_is_worse is False
    assert all(METHODS[n].higher_is_worse for n in NUMERIC)
    assert METHODS["linf_robust"].default_threshold == 0.1


def test_unknown_method_lists_every_name() -> None:
    with pytest.raises(ConfigurationError) as info:
        get_method("kolmogorov")
    message = str(info.value)
    assert "'kolmogorov'" in message
    for name in NUMERIC + CATEGORICAL:
        assert name in message


def test_method_applied_to_the_wrong_kind_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match=r"compares numeric features.*categorical"):
        get_method("psi")(categorical(["a"]), categorical(["b"]))


def test_drifted_reads_distances_and_p_values() -> None:
    assert get_method("linf_robust").drifted(0.2) and not get_method("linf_robust").drifted(0.05)
    assert get_method("chi_square").drifted(0.01) and not get_method("chi_square").drifted(0.5)
    assert not get_method("psi").drifted(math.nan)
    assert get_method("psi").drifted(0.15, threshold=0.1)


@pytest.mark.parametrize(
    ("method", "kind", "name"),
    [
        ("Simple", "numeric", "linf_simple"),
        ("Robust", "numeric", "linf_robust"),
        ("Simple", "categorical", "linf_categorical"),
        ("Robust", "categorical", "linf_categorical_robust"),
        ("LInfinity", "categorical", "linf_categorical_robust"),
        ("ChiSquared", "categorical", "chi_square"),
        ("psi", "numeric", "psi"),
    ],
)
def test_sagemaker_method_mapping(method: str, kind: str, name: str) -> None:
    assert sagemaker_method(method, kind) == name


def test_sagemaker_method_rejects_a_wrong_pair() -> None:
    with pytest.raises(ConfigurationError, match=r"ChiSquared.*numeric"):
        sagemaker_method("ChiSquared", "numeric")


def test_robust_is_simple_minus_the_ks_margin() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.normal(0, 1, 800), rng.normal(0.5, 1, 300)
    simple = get_method("linf_simple")(numeric(x), numeric(y)).value
    robust = get_method("linf_robust")(numeric(x), numeric(y))
    margin = 1.8 * math.sqrt((800 + 300) / (800 * 300))
    assert simple == pytest.approx(stats.ks_2samp(x, y).statistic, abs=1e-12)
    assert robust.value == pytest.approx(max(0.0, simple - margin), abs=1e-12)
    alpha = get_method("linf_robust")(numeric(x), numeric(y), alpha=0.05)
    c_alpha = math.sqrt(-math.log(0.025) / 2)
    assert alpha.details["margin"] == pytest.approx(c_alpha * math.sqrt(1100 / 240000))


def test_identical_data_has_zero_distance_everywhere() -> None:
    x = np.random.default_rng(2).lognormal(0, 1, 900)
    results = evaluate(numeric(x), numeric(x))
    assert set(results) == set(NUMERIC)
    assert all(r.value == pytest.approx(0.0, abs=1e-12) for r in results.values())
    cats = evaluate(categorical(["a"] * 30 + ["b"] * 60), categorical(["b", "a", "b"] * 30))
    assert cats["linf_categorical"].value == 0 and cats["new_category_rate"].value == 0
    assert cats["chi_square"].value == pytest.approx(1.0)


def test_empty_side_gives_nan_not_an_error() -> None:
    empty = numeric([None, None])
    full = numeric([1.0, 2.0])
    for name in NUMERIC:
        result = get_method(name)(empty, full)
        assert math.isnan(result.value) and "baseline" in result.details["undefined"]
        assert not get_method(name).drifted(result.value)
    result = get_method("chi_square")(categorical(["a"]), categorical([None]))
    assert math.isnan(result.value) and "current" in result.details["undefined"]


def test_constant_baseline() -> None:
    base = numeric([5.0] * 10)
    assert get_method("mean_shift")(base, numeric([5.0] * 3)).value == 0
    assert get_method("mean_shift")(base, numeric([6.0] * 3)).value == math.inf
    psi = get_method("psi")(base, numeric([6.0] * 3))
    assert math.isfinite(psi.value) and psi.value > 1  # the floor keeps it finite


def test_psi_floor_keeps_an_empty_bin_finite() -> None:
    x = np.arange(1000, dtype=float)
    y = np.full(100, 10_000.0)  # everything in the top bin
    result = get_method("psi")(numeric(x), numeric(y))
    p = np.full(10, 0.1)
    q = np.array([1e-3] * 9 + [1.0])
    assert result.value == pytest.approx(float(np.sum((q - p) * np.log(q / p))))


def test_js_distance_bounds() -> None:
    x = np.arange(1000, dtype=float)
    far = get_method("jensen_shannon")(numeric(x), numeric(x + 1e6)).value
    p, q = np.full(10, 0.1), np.array([1e-3] * 9 + [1.0])  # the floor keeps it below 1
    assert far == pytest.approx(math.sqrt(js_divergence(p, q)), abs=1e-12)
    assert 0.8 < far < 1.0


def test_deequ_regrouping() -> None:
    # three categories, one expected count below 5: 1 > int(0.2 * 3) = 0 allowed -> fold it
    obs, exp = regroup({"a": 50.0, "b": 45.0, "c": 5.0}, {"a": 48.0, "b": 48.0, "c": 4.0})
    assert exp == [52.0, 48.0] and obs == [55.0, 45.0]  # ties go to the first name
    # two categories: Cochran, every expected count >= 10, else nothing is left to test
    obs, exp = regroup({"a": 95.0, "b": 5.0}, {"a": 91.0, "b": 9.0})
    assert exp == [100.0] and obs == [100.0]
    result = get_method("chi_square")(
        categorical(["a"] * 91 + ["b"] * 9), categorical(["a"] * 95 + ["b"] * 5)
    )
    assert math.isnan(result.value)


def test_chi_square_ignores_new_categories_as_deequ_does() -> None:
    base = categorical(["a"] * 600 + ["b"] * 400)
    cur = categorical(["a"] * 300 + ["b"] * 200 + ["new"] * 500)
    assert get_method("chi_square")(base, cur).value == pytest.approx(1.0)
    assert get_method("new_category_rate")(base, cur).value == 0.5


def load_features(name: str) -> dict[str, dict[str, Any]]:
    doc = json.loads((REFERENCE / name).read_text())
    return {f["name"]: f for f in doc["features"]}


def test_weighted_sample_from_sagemaker_sketch_reproduces_its_buckets() -> None:
    for name, feature in load_features("churn_baseline_statistics_partial.json").items():
        stats_ = feature["numerical_statistics"]
        sample = WeightedSample.from_sagemaker(stats_)
        assert isinstance(sample, WeightedSample)
        assert sample.view.total == stats_["common"]["num_present"] == 2333, name
        want = stats_["distribution"]["kll"]["buckets"]
        got = sample.histogram()
        assert [b.count for b in got] == [b["count"] for b in want], name
        assert [b.lower_bound for b in got] == pytest.approx([b["lower_bound"] for b in want])
        assert sample.sketch_items() == [
            sorted(lv) for lv in stats_["distribution"]["kll"]["sketch"]["data"]
        ]


def test_single_level_sagemaker_sketch_is_exact() -> None:
    feature = load_features("data_quality_statistics.json")["_c0"]
    sample = WeightedSample.from_sagemaker(feature["numerical_statistics"])
    assert sample.rank_error == 0.0
    assert sample.mean == 2.31 and sample.std == pytest.approx(0.8330066026148891)
    # the same data as a modelmon profile: every distance is zero
    data = np.repeat([1.0, 2.0, 3.0], [24, 21, 55])
    mine = numeric(data)
    for name in NUMERIC:
        assert get_method(name)(sample, mine).value == pytest.approx(0.0, abs=1e-12), name
        assert get_method(name)(mine, sample).value == pytest.approx(0.0, abs=1e-12), name


def test_bucket_only_baseline_still_compares() -> None:
    feature = load_features("churn_baseline_statistics_partial.json")["Day Mins"]
    stats_ = json.loads(json.dumps(feature["numerical_statistics"]))
    del stats_["distribution"]["kll"]["sketch"]
    sample = WeightedSample.from_sagemaker(stats_)
    assert sample.view.total == pytest.approx(2333)
    assert 0 < sample.rank_error < 0.3
    near = numeric(np.random.default_rng(3).normal(180.2, 54.0, 5000).clip(0, 350.8))
    result = get_method("linf_simple")(sample, near)
    assert result.value < 0.1 and result.error_bound == pytest.approx(
        sample.rank_error + near.rank_error
    )


def test_missing_distribution_is_a_baseline_error() -> None:
    with pytest.raises(BaselineError, match=r"neither kll\.sketch\.data nor kll\.buckets"):
        WeightedSample.from_sagemaker({"common": {"num_present": 3, "num_missing": 0}})


def test_categorical_counts_from_sagemaker() -> None:
    feature = load_features("statistics.json")["message"]
    counts = CategoricalCounts.from_sagemaker(feature["string_statistics"])
    assert counts.count == 418 and counts.is_exact and counts.distinct_estimate == 1.0
    same = categorical(["preproc-not-YET-supported-for-csv-json"] * 50)
    assert get_method("linf_categorical")(counts, same).value == 0.0
    other = categorical(["preproc-not-YET-supported-for-csv-json"] * 40 + ["x"] * 10)
    assert get_method("linf_categorical")(counts, other).value == pytest.approx(0.2)
    assert get_method("new_category_rate")(counts, other).value == pytest.approx(0.2)
