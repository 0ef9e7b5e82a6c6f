"""Model-quality batch commands: baseline create --problem-type, monitor, labels import/merge."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from modelmon.cli import cli

REF = Path(__file__).resolve().parents[1] / "fixtures" / "sagemaker_reference"


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _columns(columns: dict[str, str]) -> list[str]:
    """--label/--prediction/--probability from keyword arguments."""
    return [arg for name, value in columns.items() for arg in (f"--{name}", value)]


def quality_baseline(problem: str, data: object, out: Path, **columns: str) -> Result:
    """``baseline create --problem-type PROBLEM --data DATA --out OUT`` and the columns."""
    args = ["--problem-type", problem, "--data", str(data), *_columns(columns)]
    return run("baseline", "create", *args, "--out", str(out))


def quality_monitor(baseline: Path, data: object, out: Path, **columns: str) -> Result:
    """``monitor --baseline BASELINE --data DATA --out OUT`` and the columns."""
    args = ["--baseline", str(baseline), "--data", str(data), "--out", str(out)]
    return run("monitor", *args, *_columns(columns))


def _binary_csv(path: Path, n: int, flip: float, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["score", "predicted", "truth"])
        for _ in range(n):
            score = float(rng.random())
            truth = int(score > 0.5) if rng.random() > flip else int(score <= 0.5)
            w.writerow([round(score, 6), int(score >= 0.5), truth])
    return path


def test_binary_baseline_from_sagemaker_dataset_and_monitor(tmp_path: Path) -> None:
    out = tmp_path / "qb"
    data = str(REF / "validation_with_predictions.csv")
    result = quality_baseline(
        "BinaryClassification", data, out,
        label="label", prediction="prediction", probability="probability",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    stats = json.loads((out / "statistics.json").read_text())
    assert stats["dataset"]["item_count"] == 201
    assert stats["binary_classification_metrics"]["auc"]["value"] == pytest.approx(
        0.9395127993393898, abs=1e-12
    )
    constraints = json.loads((out / "constraints.json").read_text())
    assert len(constraints["binary_classification_constraints"]) == 11
    same = quality_monitor(out, data, tmp_path / "m1")
    assert same.exit_code == 0, same.output
    worse = _binary_csv(tmp_path / "worse.csv", 500, flip=0.4, seed=1)
    bad = quality_monitor(
        out, worse, tmp_path / "m2", label="truth", prediction="predicted", probability="score"
    )
    assert bad.exit_code == 1, bad.output
    violations = json.loads((tmp_path / "m2" / "constraint_violations.json").read_text())
    names = {v["metric_name"] for v in violations["violations"]}
    assert {"auc", "accuracy"} <= names
    assert all(" +/- " in v["description"] for v in violations["violations"])


def test_missing_columns_exit_2_naming_the_columns(tmp_path: Path) -> None:
    data = str(REF / "validation_with_predictions.csv")
    result = quality_baseline(
        "Regression", data, tmp_path / "x", label="y", prediction="prediction"
    )
    assert result.exit_code == 2
    assert "'y'" in result.output and "probability, prediction, label" in result.output
    result = quality_baseline("Regression", data, tmp_path / "x")
    assert result.exit_code == 2 and "--label" in result.output


def test_regression_baseline_matches_sagemaker_and_sagemaker_baseline_is_accepted(
    tmp_path: Path,
) -> None:
    data = str(REF / "model_quality_baseline_dataset.csv")
    result = quality_baseline(
        "Regression", data, tmp_path / "rb", label="Label", prediction="Prediction"
    )
    assert result.exit_code == 0, result.output
    ours = json.loads((tmp_path / "rb" / "constraints.json").read_text())
    theirs = json.loads((REF / "model_quality_constraints.json").read_text())
    for name, rule in theirs["regression_constraints"].items():
        assert ours["regression_constraints"][name]["threshold"] == pytest.approx(rule["threshold"])
    sm = tmp_path / "sm"
    sm.mkdir()
    (sm / "constraints.json").write_text(
        (REF / "model_quality_constraints_bad_case.json").read_text()
    )
    checked = quality_monitor(sm, data, tmp_path / "o", label="Label", prediction="Prediction")
    assert checked.exit_code == 1
    (violation,) = json.loads((tmp_path / "o" / "constraint_violations.json").read_text())[
        "violations"
    ]
    assert violation["metric_name"] == "mse"


def _ground_truth_folder(root: Path) -> Path:
    folder = root / "gt" / "2026" / "01" / "02" / "03"
    folder.mkdir(parents=True)
    lines = (REF / "actuals.jsonl").read_text().replace("{%s}", "2026-01-02T02:10:00Z")
    (folder / "0310.jsonl").write_text(lines.rstrip("\n") + '\n{"not": "ground truth"}\nnot json\n')
    return root / "gt"


def test_labels_import_to_file(tmp_path: Path) -> None:
    gt = _ground_truth_folder(tmp_path)
    out = tmp_path / "labels.jsonl"
    result = run("labels", "import", "--from", str(gt), "--model", "churn", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "44 label(s) imported, 2 rejected" in result.output
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(events) == 44
    assert all(e["label_time"] == "2026-01-02T03:00:00Z" for e in events)
    assert (
        run("labels", "import", "--from", str(gt), "--model", "../x", "--out", str(out)).exit_code
        == 2
    )


def test_labels_merge_then_monitor_merged_records(tmp_path: Path) -> None:
    gt = _ground_truth_folder(tmp_path)
    captures = tmp_path / "captures" / "churn" / "AllTraffic" / "2026" / "01" / "02" / "02"
    captures.mkdir(parents=True)
    text = (REF / "capture.jsonl").read_text().replace("{%s}", "2026-01-02T02:10:00Z")
    extra = json.loads(text.splitlines()[0])
    extra["eventMetadata"]["eventId"] = "no-label-for-me"
    (captures / "a.jsonl").write_text(text.rstrip("\n") + "\n" + json.dumps(extra) + "\n")
    out = tmp_path / "merged"

    def merge(into: Path) -> Result:
        sources = ["--captures", str(tmp_path / "captures"), "--labels", str(gt)]
        return run("labels", "merge", *sources, "--out", str(into))

    result = merge(out)
    assert result.exit_code == 0, result.output
    assert "44 merged, 1 capture(s) without label, 0 label(s) without capture" in result.output
    (part,) = sorted(out.rglob("*.jsonl"))
    assert part.parent.relative_to(out).as_posix() == "2026/01/02/02"
    record = json.loads(part.read_text().splitlines()[0])
    assert set(record) == {"eventMetadata", "eventVersion", "groundTruthData", "captureData"}
    again = tmp_path / "again"
    assert merge(again).exit_code == 0
    assert [p.name for p in again.rglob("*.jsonl")] == [part.name]  # deterministic name
    qb = tmp_path / "qb"
    made = quality_baseline(
        "BinaryClassification", out, qb, label="label", probability="probability"
    )
    assert made.exit_code == 0, made.output
    stats = json.loads((qb / "statistics.json").read_text())
    assert stats["dataset"]["item_count"] == 44
    checked = quality_monitor(qb, out, tmp_path / "m")
    assert checked.exit_code == 0, checked.output
