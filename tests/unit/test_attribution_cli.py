"""Batch attribution: baseline create --analysis explainability, monitor, Clarify captures."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import joblib
import numpy as np
import pytest
from click.testing import CliRunner, Result
from sklearn.linear_model import LogisticRegression

from modelmon.attribution.explain import linear_shap
from modelmon.cli import cli

REFERENCE = Path(__file__).resolve().parents[1] / "fixtures" / "sagemaker_reference"
NAMES = ["income", "debt", "age", "tenure"]


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _training(tmp_path: Path) -> tuple[Path, Path, LogisticRegression, np.ndarray]:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(600, 4)) * [3.0, 2.0, 1.0, 0.5]
    y = (x @ [1.0, 0.8, 0.3, 0.1] + rng.normal(size=600) > 0).astype(int)
    model = LogisticRegression().fit(x, y)
    csv_path = tmp_path / "train.csv"
    lines = [",".join([*NAMES, "label"])] + [
        ",".join([*(repr(float(v)) for v in row), str(t)]) for row, t in zip(x, y, strict=True)
    ]
    csv_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    model_path = tmp_path / "model.joblib"
    joblib.dump(model, model_path)
    return csv_path, model_path, model, x


def _events(path: Path, weights: list[float], n: int = 300, seed: int = 5) -> Path:
    rng = np.random.default_rng(seed)
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            attributions = {k: float(w * rng.normal()) for k, w in zip(NAMES, weights, strict=True)}
            event = {
                "model_id": "m",
                "event_id": f"e{i}",
                "event_time": "2026-01-01T00:00:00Z",
                "inputs": {},
                "outputs": {},
                "attributions": attributions,
            }
            f.write(json.dumps(event) + "\n")
    return path


def test_baseline_of_a_linear_model_is_its_exact_global_shap(tmp_path: Path) -> None:
    csv_path, model_path, model, x = _training(tmp_path)
    out = tmp_path / "base"
    result = run(
        "baseline",
        "create",
        "--analysis",
        "explainability",
        "--data",
        str(csv_path),
        "--model",
        str(model_path),
        "--label",
        "label",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "analysis.json").read_text())
    values = doc["explanations"]["kernel_shap"]["label0"]["global_shap_values"]
    rows = x[np.linspace(0, len(x) - 1, 600).round().astype(int)]
    background = x[np.linspace(0, len(x) - 1, 100).round().astype(int)]
    exact = np.abs(linear_shap(model.coef_, rows, background.mean(axis=0))).mean(axis=0)
    assert values == pytest.approx(dict(zip(NAMES, exact.tolist(), strict=True)), rel=1e-9)
    assert list(values) == sorted(values, key=lambda f: -values[f])  # written ranked
    assert "expected_value" in doc["explanations"]["kernel_shap"]["label0"]


def test_monitor_flags_a_new_ranking_and_not_a_new_scale(tmp_path: Path) -> None:
    base = tmp_path / "base"
    base.mkdir()
    events = _events(tmp_path / "train.jsonl", [4.0, 3.0, 2.0, 1.0])
    result = run(
        "baseline",
        "create",
        "--analysis",
        "explainability",
        "--data",
        str(events),
        "--out",
        str(base),
    )
    assert result.exit_code == 0, result.output
    scaled = _events(tmp_path / "scaled.jsonl", [40.0, 30.0, 20.0, 10.0], seed=6)
    result = run(
        "monitor", "--baseline", str(base), "--data", str(scaled), "--out", str(tmp_path / "ok")
    )
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "ok" / "constraint_violations.json").read_text()) == {
        "version": "1.0",
        "violations": [],
    }
    shortcut = _events(tmp_path / "shortcut.jsonl", [0.5, 1.0, 2.0, 8.0], seed=7)
    result = run(
        "monitor", "--baseline", str(base), "--data", str(shortcut), "--out", str(tmp_path / "bad")
    )
    assert result.exit_code == 1, result.output
    (violation,) = json.loads((tmp_path / "bad" / "constraint_violations.json").read_text())[
        "violations"
    ]
    assert violation["constraint_check_type"] == "feature_attribution_drift_check"
    assert violation["description"].startswith("Feature attribution drift 0.")
    assert "NDCG" in (tmp_path / "bad" / "report.html").read_text()


def test_monitor_accepts_clarifys_own_analysis(tmp_path: Path) -> None:
    base = tmp_path / "clarify"
    base.mkdir()
    shutil.copy(REFERENCE / "clarify_explanability.json", base / "analysis.json")
    config = tmp_path / "model.yaml"
    config.write_text("model_id: m\nexplainability:\n  baseline_label: label1\n")
    events = tmp_path / "e.jsonl"
    events.write_text(
        json.dumps({"attributions": {"Education-Num": 0.5, "Age": 0.4, "fnlwgt": 0.3}}) + "\n"
    )
    result = run(
        "monitor",
        "--baseline",
        str(base),
        "--data",
        str(events),
        "--out",
        str(tmp_path / "o"),
        "--config",
        str(config),
    )
    assert result.exit_code in (0, 1), result.output
    assert "label1" in result.output


def test_clarify_online_explanations_in_sagemaker_captures(tmp_path: Path) -> None:
    body = {
        "version": "1.0",
        "predictions": {"content_type": "text/csv; charset=utf-8", "data": "0.9\n0.1\n"},
        "explanations": {
            "kernel_shap": [
                [
                    {"feature_header": "a", "attributions": [{"attribution": [0.5]}]},
                    {"feature_header": "b", "attributions": [{"attribution": [-0.1]}]},
                ],
                [
                    {"feature_header": "a", "attributions": [{"attribution": [0.2]}]},
                    {"feature_header": "b", "attributions": [{"attribution": [0.3]}]},
                ],
            ]
        },
    }
    record = {
        "captureData": {
            "endpointInput": {
                "observedContentType": "text/csv",
                "mode": "INPUT",
                "data": "1,2\n3,4",
                "encoding": "CSV",
            },
            "endpointOutput": {
                "observedContentType": "application/json",
                "mode": "OUTPUT",
                "data": json.dumps(body),
                "encoding": "JSON",
            },
        },
        "eventMetadata": {"eventId": "e1", "inferenceTime": "2026-01-01T00:00:00Z"},
        "eventVersion": "0",
    }
    from modelmon.capture.sagemaker import from_sagemaker_record
    from modelmon.cli.attribution import state_of_files

    events = from_sagemaker_record(record, model_id="m", feature_names=["a", "b"])
    assert [e.attributions for e in events] == [{"a": 0.5, "b": -0.1}, {"a": 0.2, "b": 0.3}]
    assert [e.outputs.prediction for e in events] == [0.9, 0.1]
    path = tmp_path / "capture.jsonl"
    path.write_text(json.dumps(record) + "\n")
    assert state_of_files([str(path)]).global_shap("label0") == pytest.approx({"a": 0.35, "b": 0.2})


def test_errors_are_one_line_and_exit_2(tmp_path: Path) -> None:
    result = run(
        "baseline",
        "create",
        "--analysis",
        "explainability",
        "--data",
        str(tmp_path / "none.csv"),
        "--model",
        "x",
        "--out",
        str(tmp_path),
    )
    assert result.exit_code == 2 and "error" in result.output


def test_a_non_linear_model_uses_the_explainer_hook_or_needs_shap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys
    import types

    from sklearn.tree import DecisionTreeClassifier

    from modelmon.attribution import explain
    from modelmon.errors import ConfigurationError

    rng = np.random.default_rng(4)
    x = rng.normal(size=(50, 3))
    tree = DecisionTreeClassifier(max_depth=2, random_state=0).fit(x, x[:, 0] > 0)
    hook = types.ModuleType("modelmon.explain")
    calls: list[int] = []

    def shap_values(model: object, rows: np.ndarray, background: np.ndarray) -> np.ndarray:
        calls.append(len(rows))
        return np.ones_like(rows)

    hook.shap_values = shap_values  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "modelmon.explain", hook)
    assert explain.model_shap(tree, x, x[:10]).shape == (50, 3) and calls == [50]
    monkeypatch.setitem(sys.modules, "modelmon.explain", None)  # no explainer module
    monkeypatch.setitem(sys.modules, "shap", None)  # and no shap library
    with pytest.raises(ConfigurationError, match="shap"):
        explain.model_shap(tree, x, x[:10])
