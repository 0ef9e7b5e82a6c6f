"""``modelmon baseline create --analysis bias`` and ``modelmon monitor`` on a bias baseline."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import orjson
import pytest
from click.testing import CliRunner, Result

from modelmon.bias.analysis import parse_analysis
from modelmon.bias.config import BiasConfig
from modelmon.bias.report import facet_reports
from modelmon.bias.state import state_from_rows
from modelmon.cli import cli

REFERENCE = Path(__file__).resolve().parents[1] / "fixtures" / "sagemaker_reference"
CONFIG = {
    "label": "approved",
    "label_values_or_threshold": [1],
    "facet": [
        {"name_or_index": "sex", "value_or_threshold": ["f"]},
        {"name_or_index": "age", "value_or_threshold": [40], "threshold": True},
    ],
    "group_variable": "region",
    "predicted_label": "predicted",
    "dataset_type": "text/csv",
}


Setup = tuple[Path, Path, list[dict[str, object]]]


def _rows(n: int, seed: int, bias: float) -> list[dict[str, object]]:
    """Joined rows; ``bias`` lowers the sensitive group's positive predictions."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        sex = "f" if rng.random() < 0.4 else "m"
        label = int(rng.random() < 0.45)
        p = 0.8 if label else 0.2
        p -= bias if sex == "f" else 0.0
        rows.append(
            {
                "sex": sex,
                "age": int(rng.integers(18, 80)),
                "region": str(rng.choice(["n", "s", "e"])),
                "income": round(float(rng.normal(50, 10)), 2),
                "approved": label,
                "predicted": int(rng.random() < p),
            }
        )
    return rows


def _write_csv(path: Path, rows: list[dict[str, object]]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    config = tmp_path / "analysis_config.json"
    config.write_text(json.dumps(CONFIG))
    rows = _rows(4000, seed=1, bias=0.0)
    data = _write_csv(tmp_path / "train.csv", rows)
    out = tmp_path / "bias_baseline"
    result = run(
        "baseline", "create", "--analysis", "bias", "--data", str(data),
        "--config", str(config), "--out", str(out), "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "4000 joined rows" in result.stdout
    return config, out, rows


def test_baseline_create_writes_clarifys_analysis(setup: Setup) -> None:
    _, out, rows = setup
    assert sorted(p.name for p in out.iterdir()) == [
        "analysis.json", "bias_config.json", "bias_state.bin",
    ]  # fmt: skip
    doc = json.loads((out / "analysis.json").read_text())
    assert list(doc) == ["version", "post_training_bias_metrics", "pre_training_bias_metrics"]
    facets = doc["post_training_bias_metrics"]["facets"]
    assert [e["value_or_threshold"] for e in facets["sex"]] == ["f"]
    assert facets["age"][0]["value_or_threshold"] == "(40, 79]"
    expected = facet_reports(
        BiasConfig.model_validate(CONFIG),
        state_from_rows(BiasConfig.model_validate(CONFIG), rows),
        "post_training",
    )
    written = {m["name"]: m["value"] for m in facets["sex"][0]["metrics"]}
    assert written == {m.name: m.value for m in expected[0].metrics}


def test_monitor_passes_the_same_data_and_flags_a_shift(setup: Setup, tmp_path: Path) -> None:
    _, baseline, _rows_used = setup
    same = run("monitor", "--baseline", str(baseline), "--data", str(tmp_path / "train.csv"),
               "--out", str(tmp_path / "same"), "-q")  # fmt: skip
    assert same.exit_code == 0, same.output
    assert json.loads((tmp_path / "same/constraint_violations.json").read_text()) == {
        "version": "1.0", "violations": []
    }  # fmt: skip
    shifted = tmp_path / "shifted.jsonl"
    shifted.write_bytes(b"\n".join(orjson.dumps(r) for r in _rows(3000, seed=2, bias=0.3)))
    result = run("monitor", "--baseline", str(baseline), "--data", str(shifted),
                 "--out", str(tmp_path / "out"), "-q")  # fmt: skip
    assert result.exit_code == 1, result.output
    found = json.loads((tmp_path / "out/constraint_violations.json").read_text())["violations"]
    names = {(v["facet"], v["facet_value"], v["metric_name"]) for v in found}
    assert ("sex", "f", "DPPL") in names and ("sex", "f", "DI") in names
    assert all(v["constraint_check_type"] == "bias_drift_check" for v in found)
    page = (tmp_path / "out/report.html").read_text()
    assert 'class="bad"' in page and "DPPL" in page and "<script" not in page
    analysis = json.loads((tmp_path / "out/analysis.json").read_text())
    assert list(analysis) == ["version", "post_training_bias_metrics"]


def test_a_clarify_made_analysis_is_a_baseline(tmp_path: Path) -> None:
    baseline = tmp_path / "clarify"
    baseline.mkdir()
    shutil.copy(REFERENCE / "model_bias_baseline_analysis.json", baseline / "analysis.json")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({
        "label": "Target", "label_values_or_threshold": [1], "group_variable": "Race",
        "facet": [{"name_or_index": "Sex", "value_or_threshold": [0]}],
    }))  # fmt: skip
    rng = np.random.default_rng(5)
    rows = [
        {"Sex": int(s), "Race": int(r), "Target": int(t), "prediction": int(p)}
        for s, r, t, p in zip(
            rng.integers(0, 2, 500), rng.integers(0, 3, 500), rng.integers(0, 2, 500),
            rng.integers(0, 2, 500), strict=True,
        )
    ]  # fmt: skip
    data = _write_csv(tmp_path / "joined.csv", rows)
    result = run("monitor", "--baseline", str(baseline), "--data", str(data),
                 "--config", str(config), "--out", str(tmp_path / "out"), "-q")  # fmt: skip
    assert result.exit_code in (0, 1), result.output
    found = json.loads((tmp_path / "out/constraint_violations.json").read_text())["violations"]
    baseline_values = parse_analysis(json.loads((baseline / "analysis.json").read_text()))
    assert {v["metric_name"] for v in found} <= {m.name for m in baseline_values.metrics}


def test_bias_baseline_without_config_is_a_clear_error(tmp_path: Path) -> None:
    data = _write_csv(tmp_path / "d.csv", _rows(10, seed=3, bias=0.0))
    result = CliRunner().invoke(cli, ["baseline", "create", "--analysis", "bias", "--data",
                                      str(data), "--out", str(tmp_path / "o")])  # fmt: skip
    assert result.exit_code == 2
    assert "needs --config" in result.output
    config = tmp_path / "c.json"
    config.write_text(json.dumps({**CONFIG, "label": "missing_column"}))
    result = CliRunner().invoke(cli, ["baseline", "create", "--analysis", "bias", "--data",
                                      str(data), "--config", str(config), "--out",
                                      str(tmp_path / "o"), "-q"])  # fmt: skip
    assert result.exit_code == 2
    assert "missing_column" in result.output
