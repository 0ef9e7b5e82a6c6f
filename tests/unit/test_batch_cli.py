"""``modelmon baseline create`` and ``modelmon monitor`` end to end (click's CliRunner, and a
real ``modelmon`` process once): files written, exit codes 0/1/2, messages."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from modelmon.cli import cli

REF = Path(__file__).parents[1] / "fixtures" / "batch" / "sagemaker"
COLORS = ["red", "green", "blue", "black"]


def write_csv(path: Path, n: int, seed: int, shift: float = 0.0, colors: Any = None) -> Path:
    rng = np.random.default_rng(seed)
    color = rng.choice(COLORS, n, p=colors or [0.4, 0.3, 0.2, 0.1])
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["age", "income", "color", "label"])
        for i in range(n):
            age = int(rng.integers(18, 80))
            w.writerow([age, round(float(rng.normal(50 + shift, 10)), 3), color[i], i % 2])
    return path


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def baseline_dir(tmp_path: Path) -> Path:
    data = write_csv(tmp_path / "train.csv", 3000, seed=1)
    out = tmp_path / "baseline"
    result = run("baseline", "create", "--data", str(data), "--out", str(out), "--label", "label")
    assert result.exit_code == 0, result.output
    assert "modelmon.json (3000 rows, 3 features)" in result.stdout
    return out


def test_baseline_create_writes_sagemaker_files(baseline_dir: Path) -> None:
    assert sorted(p.name for p in baseline_dir.iterdir()) == [
        "constraints.json", "modelmon.json", "profile.bin", "statistics.json",
    ]  # fmt: skip
    stats = json.loads((baseline_dir / "statistics.json").read_text())
    assert [(f["name"], f["inferred_type"]) for f in stats["features"]] == [
        ("age", "Integral"), ("income", "Fractional"), ("color", "String"),
    ]  # fmt: skip
    cons = json.loads((baseline_dir / "constraints.json").read_text())
    color = next(f for f in cons["features"] if f["name"] == "color")
    assert color["string_constraints"]["domains"] == sorted(COLORS)


def test_baseline_create_from_parquet_with_exclude(tmp_path: Path) -> None:
    pq.write_table(
        pa.table({"a": [1, 2, 3], "b": ["x", "y", "z"], "id": [7, 8, 9]}), tmp_path / "t.parquet"
    )
    out = tmp_path / "b"
    result = run("baseline", "create", "--data", str(tmp_path / "t.parquet"), "--out", str(out),
                 "--exclude", "id", "--exclude", "nope", "-q")  # fmt: skip
    assert result.exit_code == 0
    assert "column 'nope' not found" in result.stderr
    names = [f["name"] for f in json.loads((out / "statistics.json").read_text())["features"]]
    assert names == ["a", "b"]


def test_monitor_clean_data_exits_0(baseline_dir: Path, tmp_path: Path) -> None:
    data = write_csv(tmp_path / "today.csv", 1000, seed=2)
    out = tmp_path / "report"
    result = run("monitor", "--baseline", str(baseline_dir), "--data", str(data), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "constraint_violations.json", "report.html", "statistics.json",
    ]  # fmt: skip
    assert json.loads((out / "constraint_violations.json").read_text()) == {"violations": []}
    assert "0 violation(s) in 1000 rows" in result.stdout
    assert "monitor: 1/1 files" in result.stderr  # progress
    # the label, left out of the baseline (modelmon.json), is not an extra column either
    assert json.loads((baseline_dir / "modelmon.json").read_text())["excluded_columns"] == ["label"]
    stats = json.loads((out / "statistics.json").read_text())
    assert stats["dataset"]["item_count"] == 1000


def test_monitor_flags_drift_and_exits_1(baseline_dir: Path, tmp_path: Path) -> None:
    data = write_csv(tmp_path / "today.csv", 1000, seed=3, shift=8.0, colors=[0.1, 0.3, 0.2, 0.4])
    out = tmp_path / "report"
    result = run(
        "monitor", "--baseline", str(baseline_dir), "--data", str(data), "--out", str(out), "-q"
    )
    assert result.exit_code == 1
    doc = json.loads((out / "constraint_violations.json").read_text())
    assert {(v["feature_name"], v["constraint_check_type"]) for v in doc["violations"]} == {
        ("income", "baseline_drift_check"),
        ("color", "baseline_drift_check"),
    }
    assert "baseline_drift_check\tincome\tNumerical distance: " in result.stdout
    page = (out / "report.html").read_text()
    assert page.count("<div class=plot ") == 3  # age, income, color
    assert "2 violation(s)" in page
    # self-contained: plotly.js is inlined, nothing is loaded from elsewhere
    assert not re.search(r"<(script|link|img)[^>]*(src|href)=", page)


def test_monitor_with_a_config_override(baseline_dir: Path, tmp_path: Path) -> None:
    data = write_csv(tmp_path / "today.csv", 1000, seed=3, shift=8.0)
    config = tmp_path / "model.yaml"
    config.write_text("model_id: demo\nfeatures:\n  - {name: income, drift_threshold: 0.9}\n")
    out = tmp_path / "r"
    args = ["monitor", "--baseline", str(baseline_dir), "--data", str(data), "--out", str(out)]
    assert run(*args, "--config", str(config), "-q").exit_code == 0


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("no-baseline", "baseline directory"),
        ("no-data", "does not exist"),
        ("bad-stats", "statistics.json is not a valid SageMaker Statistics file"),
        ("bad-config", "--config"),
        ("no-rows", "no rows to check"),
        ("empty-range", "is not before --end"),
        ("bad-method", "method 'wobble' does not apply to numeric features"),
    ],
)
def test_monitor_errors_exit_2(
    baseline_dir: Path, tmp_path: Path, setup: str, message: str
) -> None:
    data = write_csv(tmp_path / "today.csv", 10, seed=4)
    base = str(baseline_dir)
    extra: list[str] = []
    if setup == "no-baseline":
        base = str(tmp_path / "missing")
    elif setup == "no-data":
        data = tmp_path / "missing.csv"
    elif setup == "bad-stats":
        (baseline_dir / "statistics.json").write_text('{"dataset": []}')
    elif setup == "bad-config":
        (tmp_path / "c.yaml").write_text("model_id: [oops\n")
        extra = ["--config", str(tmp_path / "c.yaml")]
    elif setup == "no-rows":
        data.write_text("")
    elif setup == "bad-method":
        (tmp_path / "c.yaml").write_text(
            "model_id: m\nfeatures:\n  - {name: age, drift_method: wobble}\n"
        )
        extra = ["--config", str(tmp_path / "c.yaml")]
    elif setup == "empty-range":
        extra = ["--start", "2026-01-02", "--end", "2026-01-01"]
    result = run(
        "monitor", "--baseline", base, "--data", str(data), "--out", str(tmp_path / "o"), *extra
    )
    assert result.exit_code == 2
    assert "modelmon monitor: error: " in result.stderr
    assert message in result.stderr.split("modelmon monitor: error: ")[1]


def test_sagemaker_baseline_and_capture_reproduce_sagemakers_violation(tmp_path: Path) -> None:
    """SageMaker's churn baseline + captured traffic: the real job reported Churn as
    'Only 0.0% of data is Integral' (the model output lands in the label's column)."""
    base = tmp_path / "churn"
    base.mkdir()
    (base / "statistics.json").write_bytes(
        (REF / "churn_baseline_statistics_partial.json").read_bytes()
    )
    (base / "constraints.json").write_bytes((REF / "churn_baseline_constraints.json").read_bytes())
    out = tmp_path / "o"
    capture = str(REF / "churn_capture_sample.jsonl")
    result = run("monitor", "--baseline", str(base), "--data", capture, "--out", str(out), "-q")
    assert result.exit_code == 1
    real = json.loads((REF / "churn_data_quality_constraint_violations_first10.json").read_text())
    ours = json.loads((out / "constraint_violations.json").read_text())
    assert ours["violations"] == [v for v in real["violations"] if v["feature_name"] == "Churn"]


def test_monitor_capture_records_in_a_time_range(baseline_dir: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    lines = []
    for i in range(200):
        t = f"2026-03-01T{i // 100:02d}:{(i % 100) % 60:02d}:00Z"
        inputs = {"age": int(rng.integers(18, 80)), "income": float(rng.normal(50, 10)),
                  "color": str(rng.choice(COLORS))}  # fmt: skip
        lines.append(json.dumps({"model_id": "m", "event_time": t, "inputs": inputs}))
    (tmp_path / "cap").mkdir()
    (tmp_path / "cap" / "part.jsonl").write_text("\n".join(lines) + "\n")
    out = tmp_path / "o"
    result = run("monitor", "--baseline", str(baseline_dir), "--data", str(tmp_path / "cap"),
                 "--out", str(out), "--start", "2026-03-01T00:00:00Z",
                 "--end", "2026-03-01T01:00:00")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "0 violation(s) in 100 rows" in result.stdout
    assert "100 record(s) outside --start/--end" in result.stderr


def test_a_real_modelmon_process(baseline_dir: Path, tmp_path: Path) -> None:
    data = write_csv(tmp_path / "today.csv", 500, seed=6)
    with (tmp_path / "today.csv").open("a") as f:
        f.write("oops,not-a-number,red,1\n")
    exe = Path(sys.executable).with_name("modelmon")
    proc = subprocess.run(
        [str(exe), "monitor", "--baseline", str(baseline_dir), "--data", str(data),
         "--out", str(tmp_path / "o")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert (
        "data_type_check\tage\tData type match requirement is not met. Expected data type: "
        "Integral, Expected match: 100.0%. Observed: Only 99.8003992015968% of data is Integral."
        in proc.stdout
    )
    assert "read 501 rows from 1 file(s)" in proc.stderr
