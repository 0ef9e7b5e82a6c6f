"""SageMaker's statistics.json / constraints.json / constraint_violations.json: the real files
load (older keys too), round-trip, and what modelmon writes has the same keys and types."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelmon.errors import BaselineError
from modelmon.profile import DatasetProfile, ProfileTracker
from modelmon.readers import DataReader, read_profile
from modelmon.sagemaker import (
    Constraints,
    ConstraintViolations,
    Statistics,
    dumps,
    read_constraints,
    read_statistics,
    read_violations,
)
from modelmon.sagemaker.build import build_statistics, suggest_constraints, suggest_domain
from modelmon.sagemaker.files import parse
from modelmon.sagemaker.violations import data_type

REF = Path(__file__).parents[1] / "fixtures" / "batch" / "sagemaker"


def _load(name: str) -> Any:
    return json.loads((REF / name).read_text())


def structure(doc: Any) -> Any:
    """Keys and JSON types, recursively; lists are described by the union of their items."""
    if isinstance(doc, dict):
        return {k: structure(v) for k, v in doc.items()}
    if isinstance(doc, list):
        merged: dict[str, Any] = {}
        kinds = set()
        for item in doc:
            s = structure(item)
            if isinstance(s, dict):
                merged.update(s)
            else:
                kinds.add(json.dumps(s))
        return ["list", merged or sorted(kinds)]
    if isinstance(doc, bool):
        return "bool"
    if isinstance(doc, int):
        return "int"
    if isinstance(doc, float):
        return "float"
    return type(doc).__name__


def reference_profile() -> tuple[DatasetProfile, list[str]]:
    return read_profile(DataReader([str(REF / "data_quality_baseline_dataset.csv")]))


@pytest.mark.parametrize(
    "name",
    ["statistics.json", "data_quality_statistics.json", "churn_baseline_statistics_partial.json"],
)
def test_reference_statistics_load_and_round_trip(name: str) -> None:
    stats = read_statistics(REF / name)
    assert stats.dataset.item_count == _load(name)["dataset"]["item_count"]
    assert json.loads(dumps(stats.to_dict())) == _load(name)


@pytest.mark.parametrize(
    "name",
    ["data_quality_constraints.json", "data_quality_constraints_bad_case.json",
     "churn_baseline_constraints.json"],
)  # fmt: skip
def test_reference_constraints_load_and_round_trip(name: str) -> None:
    cons = read_constraints(REF / name)
    assert cons.monitoring_config.distribution_constraints.comparison_method == "Robust"
    written = json.loads(dumps(cons.to_dict()))
    original = _load(name)
    # Ours adds the two categorical keys SageMaker's container has as defaults; nothing else.
    dist = written["monitoring_config"]["distribution_constraints"]
    assert dist.pop("categorical_comparison_threshold") == 0.1
    assert dist.pop("categorical_drift_method") == "LInfinity"
    assert written == original


def test_old_constraint_keys_are_read() -> None:
    cons = read_constraints(REF / "constraints.json")
    mc = cons.monitoring_config
    assert mc.distribution_constraints.perform_comparison == "Enabled"  # enable_comparisons: true
    assert mc.distribution_constraints.comparison_threshold == 1.0
    assert mc.domain_content_threshold == 1.0  # min_domain_mass
    message = cons.feature("message")
    assert message is not None and message.overrides().evaluate_constraints == "Enabled"
    assert message.string_constraints is not None
    assert message.string_constraints.domains == ["preproc-not-YET-supported-for-csv-json"]
    off = parse(
        Constraints,
        '{"features": [], "monitoring_config": {"distribution_constraints": '
        '{"enable_comparisons": false}}}',
        "inline",
    )
    assert off.monitoring_config.distribution_constraints.perform_comparison == "Disabled"


@pytest.mark.parametrize(
    "name", ["constraint_violations.json", "churn_data_quality_constraint_violations_first10.json"]
)
def test_reference_violations_load(name: str) -> None:
    violations = read_violations(REF / name)
    assert json.loads(dumps(violations.to_dict())) == _load(name)


def test_our_statistics_match_sagemakers_for_the_same_data() -> None:
    profile, order = reference_profile()
    ours = build_statistics(profile, order).to_dict()
    theirs = _load("data_quality_statistics.json")
    assert structure(ours) == structure(theirs)
    assert ours["dataset"] == theirs["dataset"] == {"item_count": 100}
    for mine, ref in zip(ours["features"], theirs["features"], strict=True):
        assert mine["name"] == ref["name"]
        assert mine["inferred_type"] == ref["inferred_type"]
        m, r = mine["numerical_statistics"], ref["numerical_statistics"]
        assert m["common"] == r["common"]
        for key in ("mean", "sum", "min", "max", "std_dev"):
            assert m[key] == pytest.approx(r[key], rel=1e-12, abs=1e-12)
        mb, rb = m["distribution"]["kll"]["buckets"], r["distribution"]["kll"]["buckets"]
        assert [b["count"] for b in mb] == [b["count"] for b in rb]
        assert [b["lower_bound"] for b in mb] == pytest.approx([b["lower_bound"] for b in rb])
        assert sorted(m["distribution"]["kll"]["sketch"]["data"][0]) == sorted(
            r["distribution"]["kll"]["sketch"]["data"][0]
        )


def test_string_feature_statistics_have_sagemakers_structure() -> None:
    tracker = ProfileTracker()
    tracker.update({"message": ["preproc-not-YET-supported-for-csv-json"] * 418})
    ours = build_statistics(tracker.snapshot()).to_dict()
    theirs = _load("statistics.json")
    assert ours == theirs


def test_suggested_constraints_equal_sagemakers() -> None:
    profile, order = reference_profile()
    ours = suggest_constraints(build_statistics(profile, order)).to_dict()
    theirs = _load("data_quality_constraints.json")
    dist = ours["monitoring_config"]["distribution_constraints"]
    assert {dist.pop("categorical_comparison_threshold"), dist.pop("categorical_drift_method")} == {
        0.1,
        "LInfinity",
    }
    assert ours == theirs


def test_constraints_of_string_and_nullable_features() -> None:
    rng = np.random.default_rng(3)
    colors = rng.choice(["red", "green", "blue"], size=500).astype(object)
    colors[:5] = None
    ids = np.array([f"id-{i}" for i in range(500)], dtype=object)
    values = rng.normal(size=500)
    values[0] = -1.0
    tracker = ProfileTracker()
    tracker.update({"color": colors, "id": ids, "x": values})
    cons = suggest_constraints(build_statistics(tracker.snapshot())).to_dict()
    by_name = {f["name"]: f for f in cons["features"]}
    assert by_name["color"] == {
        "name": "color",
        "inferred_type": "String",
        "completeness": 0.99,
        "string_constraints": {"domains": ["blue", "green", "red"]},
    }
    assert by_name["id"] == {"name": "id", "inferred_type": "String", "completeness": 1.0}
    assert by_name["x"]["num_constraints"] == {"is_non_negative": False}


def test_domain_cut_offs() -> None:
    def stats_of(values: list[str]) -> Any:
        tracker = ProfileTracker()
        tracker.update({"f": values})
        string_stats = build_statistics(tracker.snapshot()).features[0].string_statistics
        assert string_stats is not None
        return string_stats

    assert suggest_domain(stats_of([f"v{i % 120}" for i in range(1200)])) is not None
    assert suggest_domain(stats_of([f"v{i % 121}" for i in range(1210)])) is None
    # 20 values, 3 seen once (15% > 10%): looks like an identifier, no domain
    assert suggest_domain(stats_of([f"v{i}" for i in range(17)] * 5 + ["a", "b", "c"])) is None


def test_jackson_style_output() -> None:
    text = dumps(Statistics().to_dict())
    assert text.startswith('{\n  "version" : 0.0,\n  "dataset" : {\n    "item_count" : 0')
    assert dumps({"x": float("nan")}) == '{\n  "x" : null\n}\n'


def test_bad_files_are_baseline_errors(tmp_path: Path) -> None:
    bad = tmp_path / "statistics.json"
    bad.write_text('{"features": [{"name": "a", "inferred_type": "Weird"}]}')
    with pytest.raises(BaselineError, match=r"statistics.json .*features.0.inferred_type"):
        read_statistics(bad)
    bad.write_text("{not json")
    with pytest.raises(BaselineError, match=r"statistics\.json is not a valid"):
        read_statistics(bad)
    with pytest.raises(BaselineError, match="does not exist"):
        read_constraints(tmp_path / "nope.json")


def test_violation_wording_matches_sagemaker() -> None:
    assert data_type("Integral", 1.0, 1970 / 1977) == (
        "Data type match requirement is not met. Expected data type: Integral, Expected match: "
        "100.0%. Observed: Only 99.64592817400101% of data is Integral."
    )
    real = read_violations(REF / "churn_data_quality_constraint_violations_first10.json")
    assert real.violations[-1].description == data_type("Integral", 1.0, 0.0)
    assert isinstance(real, ConstraintViolations)
