"""Batch bias analysis: ``baseline create --analysis bias`` and ``monitor`` on a bias baseline.

A bias baseline directory holds Clarify's ``analysis.json`` (it is also the constraints file),
``bias_config.json`` (the analysis config it was made with) and ``bias_state.bin`` (modelmon's
mergeable counts). A Clarify-made ``analysis.json`` alone is a baseline too; then ``--config``
gives the analysis config. The data are joined rows (features, label and prediction) in CSV,
JSON Lines or Parquet; ``monitor`` computes Clarify's post-training metrics of the data,
checks them against the baseline as SageMaker's model bias monitor does, and writes
analysis.json, constraint_violations.json and report.html.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import click

from modelmon.cli.baseline import fail, output_dir, s3_client_factory
from modelmon.errors import BaselineError, ConfigurationError, ModelmonError

ANALYSIS_FILE = "analysis.json"
CONFIG_FILE = "bias_config.json"
STATE_FILE = "bias_state.bin"
VIOLATIONS_FILE = "constraint_violations.json"
REPORT_FILE = "report.html"


def is_bias_baseline(location: str) -> bool:
    """A local directory with analysis.json and no data-quality constraints.json."""
    path = Path(location)
    return (path / ANALYSIS_FILE).is_file() and not (path / "constraints.json").is_file()


def load_bias_config(path: Path) -> Any:
    """A BiasConfig from a JSON (or YAML) file, e.g. Clarify's analysis_config.json."""
    import yaml
    from pydantic import ValidationError

    from modelmon.bias.config import BiasConfig

    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        return BiasConfig.model_validate(doc)
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise ConfigurationError(f"bias config {path}: {exc}") from exc


@dataclass(frozen=True)
class JoinedInput:
    """Where the joined rows are and how to read them (the shared data options)."""

    data: Sequence[str]
    data_format: str = "auto"
    header: bool | None = None
    quiet: bool = False


def read_state(config: Any, source: JoinedInput) -> tuple[Any, Any, int]:
    """The bias counts of every joined row, the reader (for its stats) and the row count."""
    from modelmon.bias.state import BiasState, state_from_columns
    from modelmon.readers import DataReader, ReadOptions
    from modelmon.readers.progress import ProgressPrinter

    options = ReadOptions(source.data_format, source.header, tuple(config.headers or ()))  # type: ignore[arg-type]
    progress = None if source.quiet else ProgressPrinter(sys.stderr, "bias")
    reader = DataReader(
        list(source.data), options, s3_client=s3_client_factory(), progress=progress
    )
    state = BiasState()
    for batch in reader.batches():
        try:
            joined = state_from_columns(config, batch, joined=True)
            captured = state_from_columns(config, batch, joined=False)
            state = state.merge(joined).merge(replace(captured, skipped=0))  # skips once
        except KeyError as exc:
            raise ConfigurationError(f"{exc.args[0]} (columns read: {sorted(batch)})") from exc
    facet = next(iter(state.facets.values()), None)
    rows = 0 if facet is None else int(facet.total()[:4].sum())
    if rows == 0:
        raise click.ClickException(
            "no joined rows read: " + "; ".join(reader.stats.summary_lines())
        )
    return state, reader, rows


def create_bias_baseline(source: JoinedInput, out: str, config_path: Path | None) -> None:
    """Write analysis.json (pre- and post-training metrics), bias_config.json, bias_state.bin."""
    from modelmon.bias.analysis import analysis_json

    try:
        if config_path is None:
            raise click.UsageError("--analysis bias needs --config (Clarify's analysis config)")
        config = load_bias_config(config_path)
        state, reader, rows = read_state(config, source)
        doc = analysis_json(config, state)
        with output_dir(out) as target:
            target.mkdir(parents=True, exist_ok=True)
            _write_json(target / ANALYSIS_FILE, doc)
            _write_json(target / CONFIG_FILE, config.model_dump(mode="json", exclude_unset=True))
            (target / STATE_FILE).write_bytes(state.serialize())
    except (ModelmonError, OSError, click.ClickException) as exc:
        fail("baseline create", exc)
    for line in reader.stats.summary_lines():
        click.echo(line, err=True)
    click.echo(
        f"wrote {out.rstrip('/')}/{ANALYSIS_FILE}, {CONFIG_FILE}, {STATE_FILE} "
        f"({rows} joined rows, {len(config.facet)} facet(s), {state.skipped} skipped)"
    )


def monitor_bias(
    baseline_dir: str, source: JoinedInput, out: str, config_path: Path | None
) -> None:
    """Post-training metrics of the data vs the bias baseline; exit 0/1/2 like ``monitor``."""
    from modelmon.bias.analysis import analysis_json, parse_analysis
    from modelmon.bias.checks import bias_violations, violations_json
    from modelmon.bias.html import bias_report_page, bias_section
    from modelmon.bias.report import facet_reports

    try:
        base = Path(baseline_dir)
        baseline = parse_analysis(_read_json(base / ANALYSIS_FILE))
        config = load_bias_config(config_path or base / CONFIG_FILE)
        state, reader, rows = read_state(config, source)
        chosen = config.stage_methods().get("post_training")
        reports = facet_reports(config, state, "post_training", chosen)
        violations = bias_violations(baseline, "post_training", reports)
        with output_dir(out) as target:
            target.mkdir(parents=True, exist_ok=True)
            _write_json(
                target / ANALYSIS_FILE,
                analysis_json(config, state, ("post_training",), {"post_training": chosen}),
            )
            _write_json(target / VIOLATIONS_FILE, violations_json(violations))
            section = bias_section("post_training", reports, baseline, violations)
            meta = f"baseline {baseline_dir}; {rows} joined rows; {len(violations)} violation(s)"
            page = bias_report_page("modelmon bias monitor", [section], meta)
            (target / REPORT_FILE).write_text(page, encoding="utf-8")
    except (ModelmonError, OSError, click.ClickException) as exc:
        fail("monitor", exc)
    for line in reader.stats.summary_lines():
        click.echo(line, err=True)
    for v in violations:
        click.echo(f"bias_drift_check\t{v.facet}={v.facet_value}\t{v.metric_name}\t{v.description}")
    click.echo(
        f"{len(violations)} violation(s) in {rows} joined rows; wrote "
        f"{out.rstrip('/')}/{{{ANALYSIS_FILE}, {VIOLATIONS_FILE}, {REPORT_FILE}}}"
    )
    sys.exit(1 if violations else 0)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BaselineError(f"cannot read the bias baseline {path}: {exc}") from exc


def _write_json(path: Path, doc: Any) -> None:
    path.write_text(json.dumps(doc, indent=4) + "\n", encoding="utf-8")
