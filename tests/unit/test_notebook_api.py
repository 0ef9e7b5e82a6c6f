"""The notebook API (``import modelmon as mm``): compare() finds what ``modelmon monitor``
finds on the same data, for pandas, polars and pyarrow frames, and its results save and show."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import modelmon as mm
from modelmon.checks import Baseline, evaluate
from modelmon.cli import cli
from modelmon.frames import frame_batches
from modelmon.readers import DataReader, ReadOptions, read_profile
from modelmon.required_columns import ColumnNotFoundError


def make_frame(n: int, seed: int, shift: float = 0.0, missing: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    income = np.round(rng.normal(50 + shift, 10, n), 3)
    income[rng.random(n) < missing] = np.nan
    return pd.DataFrame(
        {
            "age": rng.integers(18, 80, n),
            "income": income,
            "color": rng.choice(["red", "green", "blue", "black"], n, p=[0.4, 0.3, 0.2, 0.1]),
            "label": np.arange(n) % 2,
        }
    )


def cli_monitor(
    ref: pd.DataFrame, cur: pd.DataFrame, tmp: Path
) -> tuple[Path, dict[str, dict[str, float]]]:
    """Run `modelmon baseline create` + `modelmon monitor` on CSVs of the frames; return the
    monitor's --out and the distances the CLI's read path computes."""
    ref.to_csv(tmp / "ref.csv", index=False)
    cur.to_csv(tmp / "cur.csv", index=False)
    runner = CliRunner()
    args = ["baseline", "create", "--data", str(tmp / "ref.csv"), "--out", str(tmp / "base"),
            "--label", "label", "-q"]  # fmt: skip
    assert runner.invoke(cli, args).exit_code == 0
    out = tmp / "out"
    args = ["monitor", "--baseline", str(tmp / "base"), "--data", str(tmp / "cur.csv"),
            "--out", str(out), "-q"]  # fmt: skip
    assert runner.invoke(cli, args).exit_code in (0, 1)
    base = Baseline.load(tmp / "base")
    reader = DataReader([str(tmp / "cur.csv")], ReadOptions(names=base.feature_names))
    profile, _ = read_profile(reader, kinds=base.kinds(), exclude=base.excluded)
    evaluation = evaluate(base, profile)
    return out, {n: dict(m.distances) for n, m in evaluation.features.items() if m.distances}


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    n=st.integers(min_value=50, max_value=1000),  # KLL below k: exact, so equal bit for bit
    seed=st.integers(min_value=0, max_value=2**16),
    shift=st.sampled_from([0.0, 0.5, 3.0, 20.0]),
    missing=st.sampled_from([0.0, 0.05, 0.5]),
)
def test_compare_equals_modelmon_monitor(
    tmp_path_factory: pytest.TempPathFactory, n: int, seed: int, shift: float, missing: float
) -> None:
    tmp = tmp_path_factory.mktemp("cmp")
    ref, cur = make_frame(n, seed), make_frame(n, seed + 1, shift, missing)
    out, cli_distances = cli_monitor(ref, cur, tmp)
    result = mm.compare(mm.baseline(ref, label="label"), cur)
    cli_violations = json.loads((out / "constraint_violations.json").read_text())["violations"]
    assert result.violations.to_dict("records") == cli_violations
    assert result.distances == cli_distances
    result.to_sagemaker(tmp / "nb")
    for name in ("statistics.json", "constraint_violations.json"):
        assert json.loads((tmp / "nb" / name).read_text()) == json.loads((out / name).read_text())


def test_pandas_polars_and_arrow_frames_give_one_result() -> None:
    # under 1024 values a KLL sketch is exact (above, its compaction is randomised)
    ref, cur = make_frame(1000, 1), make_frame(900, 2, shift=4.0, missing=0.1)
    base = mm.baseline(ref, label="label")
    results = [mm.compare(base, f) for f in (cur, pl.from_pandas(cur), pa.Table.from_pandas(cur))]
    assert len(results[0].evaluation.violations) > 0
    for other in results[1:]:
        assert other.distances == results[0].distances
        assert other.violations.equals(results[0].violations)
    assert mm.compare(ref, cur).violations.equals(
        mm.compare(base, cur, exclude=["label"]).violations
    )


@given(
    values=st.lists(st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=False,
                                                   width=32)), min_size=1, max_size=200),
    text=st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "", "1"])), min_size=1,
                  max_size=200),
)  # fmt: skip
def test_profiles_agree_across_frame_libraries(
    values: list[float | None], text: list[str | None]
) -> None:
    n = min(len(values), len(text))
    frame = pd.DataFrame(
        {"x": pd.array(values[:n], dtype="Float64"), "t": pd.Series(text[:n], dtype=object)}
    )
    a = mm.profile(frame).statistics.to_dict()
    b = mm.profile(pl.from_pandas(frame)).statistics.to_dict()
    c = mm.profile(pa.Table.from_pandas(frame)).statistics.to_dict()
    assert a == b == c
    assert mm.profile(frame).row_count == n


def test_numeric_pandas_columns_are_not_copied() -> None:
    frame = pd.DataFrame({"x": np.arange(100_000, dtype=np.float64)})
    first = next(frame_batches(frame))
    assert np.shares_memory(first["x"], frame["x"].to_numpy())  # type: ignore[arg-type]


def test_results_save_and_show(tmp_path: Path) -> None:
    result = mm.compare(make_frame(1000, 3), make_frame(1000, 4, shift=20.0))
    page = result._repr_html_()
    assert page.startswith("<iframe srcdoc=") and "baseline_drift_check" in page
    saved = result.save_html(tmp_path / "r.html").read_text()
    assert "<html" in saved and "income" in saved
    doc = json.loads(result.to_json())
    assert doc["violations"]["violations"] and doc["features"]["income"]["distances"]
    assert set(result.checks.columns) >= {"feature", "check_type", "violated", "value"}
    assert "Comparison: 1000 rows" in repr(result)
    written = mm.profile(make_frame(10, 1)).to_sagemaker(tmp_path / "p")
    assert json.loads(written.read_text())["dataset"]["item_count"] == 10


def test_a_misspelt_label_names_the_columns_that_exist(tmp_path: Path) -> None:
    frame = make_frame(20, 1)
    with pytest.raises(ColumnNotFoundError, match=r"label 'lable'.*did you mean 'label'.*'age'"):
        mm.baseline(frame, label="lable")
    frame.to_csv(tmp_path / "d.csv", index=False)
    args = ["baseline", "create", "--data", str(tmp_path / "d.csv"), "--out",
            str(tmp_path / "b"), "--label", "lable", "-q"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert "--label 'lable' is not a column of the data (did you mean 'label'?)" in result.output
    assert "'age', 'income', 'color', 'label'" in result.output
    assert not (tmp_path / "b").exists()


def test_other_objects_are_refused_with_what_is_taken() -> None:
    with pytest.raises(TypeError, match="pandas or polars DataFrame or a pyarrow Table"):
        mm.profile([1, 2, 3])


def test_import_modelmon_stays_cheap() -> None:
    heavy = "('numpy', 'pandas', 'pyarrow')"
    code = f"import sys, modelmon; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
