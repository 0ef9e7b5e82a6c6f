"""Model-quality baselines and checks from files (``baseline create --problem-type``,
``monitor`` against a model-quality baseline). Called by ``modelmon.cli.baseline`` / ``monitor``.

A model-quality baseline directory holds SageMaker's ``statistics.json`` and ``constraints.json``
plus ``modelmon-quality.json`` (problem type, columns, threshold, positive label). A
SageMaker-made baseline (no modelmon-quality.json) is used as is: columns then come from
``monitor --label/--prediction/--probability`` or default to the merged-record ones.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from modelmon.cli.baseline import output_dir, s3_client_factory
from modelmon.errors import BaselineError
from modelmon.quality import files
from modelmon.quality.batch import QualityColumns, rows_of_text, state_of_rows
from modelmon.quality.problem import METRICS_KEY, ProblemType, QualitySpec, QualityState

SPEC_FILE = "modelmon-quality.json"
#: Columns used with a SageMaker-made baseline when none are given: the merged-record ones.
MERGED_DEFAULTS = {"label": "label", "prediction": "prediction", "probability": "probability"}
STATISTICS_FILE = "statistics.json"
CONSTRAINTS_FILE = "constraints.json"
VIOLATIONS_FILE = "constraint_violations.json"


def _rows(paths: Sequence[str]) -> Iterator[dict[str, Any]]:
    from modelmon.readers.sources import list_sources

    for source in list_sources(paths, s3_client=s3_client_factory()):
        yield from rows_of_text(source.name, source.read_bytes().decode("utf-8"))


def measure(paths: Sequence[str], spec: QualitySpec, columns: QualityColumns) -> QualityState:
    state = state_of_rows(spec, _rows(paths), columns)
    if state.count == 0:
        raise click.ClickException(f"no rows read from {', '.join(paths)}")
    return state


def create_baseline(
    data: Sequence[str], out: str, spec: QualitySpec, columns: QualityColumns
) -> None:
    """Write statistics.json, constraints.json and modelmon-quality.json for a quality baseline."""
    state = measure(data, spec, columns)
    metrics = state.metrics()
    statistics = files.statistics(spec.problem_type, metrics, state.count)
    constraints = files.suggest_constraints(spec.problem_type, metrics)
    sidecar = {"spec": asdict(spec), "columns": asdict(columns)}
    with output_dir(out) as target:
        target.mkdir(parents=True, exist_ok=True)
        (target / STATISTICS_FILE).write_text(files.dumps(statistics), encoding="utf-8")
        (target / CONSTRAINTS_FILE).write_text(files.dumps(constraints), encoding="utf-8")
        (target / SPEC_FILE).write_text(files.dumps(sidecar), encoding="utf-8")
    click.echo(
        f"wrote {out.rstrip('/')}/{STATISTICS_FILE}, {CONSTRAINTS_FILE}, {SPEC_FILE} "
        f"({state.count} pairs, {spec.problem_type})"
    )


def _baseline_files(location: str) -> dict[str, bytes]:
    from modelmon.readers.sources import fetch_s3_files

    names = (CONSTRAINTS_FILE, SPEC_FILE)
    if location.startswith("s3://"):
        return fetch_s3_files(s3_client_factory()(), location, names)
    folder = Path(location)
    return {n: (folder / n).read_bytes() for n in names if (folder / n).is_file()}


def quality_baseline(location: str) -> tuple[ProblemType, dict[str, Any], dict[str, Any]] | None:
    """(problem type, constraints, sidecar) when ``location`` is a model-quality baseline."""
    found = _baseline_files(location)
    if CONSTRAINTS_FILE not in found:
        return None
    try:
        document = json.loads(found[CONSTRAINTS_FILE])
    except json.JSONDecodeError as exc:
        raise BaselineError(f"{location}/{CONSTRAINTS_FILE} is not JSON: {exc}") from exc
    if not any(
        k.endswith("_classification_constraints") or k == "regression_constraints" for k in document
    ):
        return None
    problem, constraints = files.read_constraints(document)
    sidecar = json.loads(found[SPEC_FILE]) if SPEC_FILE in found else {}
    return problem, constraints, sidecar


def check(
    baseline: tuple[ProblemType, dict[str, Any], dict[str, Any]],
    data: Sequence[str],
    out: str,
    overrides: dict[str, str | None],
) -> int:
    """Measure the data, write statistics.json + constraint_violations.json; count violations."""
    problem, constraints, sidecar = baseline
    spec = QualitySpec(**{**sidecar.get("spec", {}), "problem_type": problem})
    chosen = {k: v for k, v in overrides.items() if v is not None}
    saved = sidecar.get("columns") or ({} if chosen else dict(MERGED_DEFAULTS))
    columns = QualityColumns(**{**saved, **chosen})
    state = measure(data, spec, columns)
    metrics = state.metrics()
    violations = files.check(constraints, metrics)
    with output_dir(out) as target:
        target.mkdir(parents=True, exist_ok=True)
        stats = files.statistics(problem, metrics, state.count)
        (target / STATISTICS_FILE).write_text(files.dumps(stats), encoding="utf-8")
        body = files.dumps(files.violations_file(violations))
        (target / VIOLATIONS_FILE).write_text(body, encoding="utf-8")
    for v in violations:
        click.echo(f"{v['constraint_check_type']}\t{v['metric_name']}\t{v['description']}")
    key = METRICS_KEY[problem]
    click.echo(
        f"{len(violations)} violation(s) in {state.count} pairs ({key}); wrote {out.rstrip('/')}/"
        f"{{{STATISTICS_FILE}, {VIOLATIONS_FILE}}}"
    )
    return len(violations)
