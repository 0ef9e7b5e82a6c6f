"""Feature attribution in the batch CLI (docs/attribution.md).

- ``modelmon baseline create --analysis explainability --data train.csv --model model.joblib``
  (or ``--endpoint URL``, or ``--data`` capture events that carry ``attributions``) writes
  Clarify's explainability ``analysis.json``.
- ``modelmon monitor --baseline DIR`` with an explainability ``analysis.json`` (ours or
  Clarify's) and ``--data`` capture events (JSON Lines: modelmon capture events, or SageMaker
  capture records whose output holds Clarify online explanations) writes the window's
  ``analysis.json``, ``constraint_violations.json`` and ``report.html``: the same
  evaluation the streaming detector runs on a window.
"""

from __future__ import annotations

import csv
import json
import sys
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import click
import numpy as np
import orjson

from modelmon.attribution.analysis import KERNEL_SHAP, LabelExplanation, analysis_document
from modelmon.attribution.state import DEFAULT_LABEL, AttributionState
from modelmon.errors import ConfigurationError, InvalidEventError

ANALYSIS_FILE = "analysis.json"
#: rows explained / kept as the Kernel SHAP background, evenly spaced over the data
MAX_ROWS, MAX_BACKGROUND = 1000, 100


#: What a batch command reports as a one-line error (exit 2) instead of a traceback.
_FAILURES = (ConfigurationError, InvalidEventError, OSError, ValueError, click.ClickException)


def is_explainability_baseline(location: str) -> bool:
    """A local analysis.json (or a directory holding one) with Clarify's ``explanations``."""
    path = Path(location)
    path = path / ANALYSIS_FILE if path.is_dir() else path
    if not path.is_file() or path.suffix != ".json":
        return False
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and isinstance(doc.get("explanations"), dict)


def _files(paths: Sequence[str]) -> Iterator[Path]:
    for item in paths:
        path = Path(item)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file())
        elif path.is_file():
            yield path
        else:
            raise ConfigurationError(f"--data {item}: no such file or directory")


def read_events(paths: Sequence[str]) -> Iterator[dict[str, Any]]:
    """Capture events (dicts) from JSON Lines files; SageMaker records are mapped (Clarify
    online explanations become ``attributions``). Unreadable lines raise InvalidEventError."""
    from modelmon.capture.sagemaker import from_sagemaker_record, is_sagemaker_record

    for path in _files(paths):
        with path.open("rb") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    doc = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    raise InvalidEventError(f"{path}:{n}: not JSON: {exc}") from exc
                if is_sagemaker_record(doc):
                    for event in from_sagemaker_record(doc, model_id="batch"):
                        yield event.model_dump(mode="json")
                elif isinstance(doc, dict):
                    yield doc


def state_of_files(paths: Sequence[str], label: str = DEFAULT_LABEL) -> AttributionState:
    """The attribution state of every event in the files (non-numeric values are skipped)."""
    state = AttributionState()
    for event in read_events(paths):
        found = event.get("attributions")
        if isinstance(found, dict) and found:
            numbers = {
                str(k): float(v)
                for k, v in found.items()
                if isinstance(v, int | float) and not isinstance(v, bool)
            }
            state.add(label, numbers)
    return state


def monitor_attributions(
    baseline_location: str, data: Sequence[str], out: str, config_path: Path | None
) -> None:
    """``modelmon monitor`` with an explainability baseline; exits 0/1 (violation)/2."""
    from modelmon.attribution.analysis import parse_analysis
    from modelmon.attribution.evaluate import (
        AttributionSettings,
        evaluate_attributions,
        report_files,
    )
    from modelmon.attribution.html import attribution_page, attribution_section
    from modelmon.cli.baseline import fail, output_dir
    from modelmon.cli.monitor import load_config

    try:
        path = Path(baseline_location)
        doc = json.loads((path / ANALYSIS_FILE if path.is_dir() else path).read_text("utf-8"))
        parse_analysis(doc)
        config = load_config(config_path, None, False)
        section = config.explainability if config is not None else None
        settings = AttributionSettings(
            doc,
            section.threshold if section else 0.9,
            section.label if section else DEFAULT_LABEL,
            section.baseline_label if section else None,
        )
        state = state_of_files(data, settings.label)
        if not len(state):
            raise click.ClickException("no events with attributions in --data")
        evaluation = evaluate_attributions("batch", (0, 0), state, settings)
        files = report_files(evaluation)
        meta = f"baseline {baseline_location}; {evaluation.attributions} events with attributions"
        files["report.html"] = attribution_page(
            "modelmon feature-attribution report", [attribution_section(evaluation, state)], meta
        )
        with output_dir(out) as target:
            target.mkdir(parents=True, exist_ok=True)
            for name, text in files.items():
                (target / name).write_text(text, encoding="utf-8")
    except _FAILURES as exc:
        fail("monitor", exc)
    for check in evaluation.checks:
        verdict = "VIOLATION" if check.violated else "ok"
        click.echo(
            f"feature_attribution_drift_check\t{check.label}\tNDCG {check.ndcg:.4f}\t{verdict}"
        )
    click.echo(
        f"{len(evaluation.violated)} violation(s); wrote {out.rstrip('/')}/"
        "{analysis.json, constraint_violations.json, report.html}"
    )
    sys.exit(1 if evaluation.violated else 0)


# -- baseline create --analysis explainability -----------------------------------------------
def _read_csv(path: Path, skip: Sequence[str]) -> tuple[list[str], np.ndarray]:
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if len(rows) < 2:
        raise ConfigurationError(f"{path}: needs a header row and data rows")
    header = rows[0]
    keep = [i for i, name in enumerate(header) if name not in skip]
    try:
        matrix = np.array([[float(r[i]) for i in keep] for r in rows[1:]], dtype=np.float64)
    except (ValueError, IndexError) as exc:
        raise ConfigurationError(
            f"{path}: explaining a model needs numeric features ({exc}); encode categoricals "
            "first, or baseline from captured attributions (--data events.jsonl)"
        ) from exc
    return [header[i] for i in keep], matrix


def _spaced(matrix: np.ndarray, n: int) -> np.ndarray:
    """At most ``n`` rows, evenly spaced (deterministic)."""
    if len(matrix) <= n:
        return matrix
    picked: np.ndarray = matrix[np.linspace(0, len(matrix) - 1, n).round().astype(int)]
    return picked


def _load_model(path: Path) -> Any:
    import joblib  # loading runs code: trusted files only

    try:
        return joblib.load(path)
    except Exception as exc:
        raise ConfigurationError(f"--model {path}: cannot load ({exc})") from exc


def _endpoint_predict(url: str) -> Any:
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError(f"--endpoint {url!r}: not an http(s) URL")

    def predict(rows: np.ndarray) -> np.ndarray:
        body = "\n".join(",".join(repr(float(v)) for v in row) for row in rows).encode()
        request = urllib.request.Request(url, body, {"Content-Type": "text/csv"}, method="POST")
        with urllib.request.urlopen(request, timeout=30) as resp:  # nosec B310
            lines = resp.read().decode().strip().splitlines()
        return np.array([float(line.split(",")[-1]) for line in lines], dtype=np.float64)

    return predict


def create_explainability_baseline(
    data: Sequence[str],
    out: str,
    model: str | None,
    endpoint: str | None,
    skip: Sequence[str],
    label: str,
) -> None:
    """Write Clarify's explainability analysis.json to ``out``."""
    from modelmon.attribution import explain
    from modelmon.cli.baseline import fail, output_dir

    try:
        expected = None
        if model is None and endpoint is None:  # captured attributions
            state = state_of_files(data, label)
            if not len(state):
                raise click.ClickException("no --model/--endpoint and no events with attributions")
            values = state.global_shap(label)
            rows_n = len(state)
        else:
            names, matrix = _read_csv(Path(data[0]), skip)
            rows, background = _spaced(matrix, MAX_ROWS), _spaced(matrix, MAX_BACKGROUND)
            if model is not None:
                fitted = _load_model(Path(model))
                shap_values = explain.model_shap(fitted, rows, background)
                expected = explain.expected_value(fitted, background)
            else:
                assert endpoint is not None
                shap_values = explain.endpoint_shap(_endpoint_predict(endpoint), rows, background)
            values, rows_n = explain.global_shap(shap_values, names), len(rows)
        doc = analysis_document({label: LabelExplanation(values, expected)}, KERNEL_SHAP)
        with output_dir(out) as target:
            target.mkdir(parents=True, exist_ok=True)
            (target / ANALYSIS_FILE).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    except _FAILURES as exc:
        fail("baseline create", exc)
    click.echo(
        f"wrote {out.rstrip('/')}/{ANALYSIS_FILE} (global SHAP of {len(values)} features "
        f"over {rows_n} rows)"
    )
