"""``modelmon monitor``: check data files against a baseline, as a SageMaker monitoring job does.

Writes statistics.json (of the data), constraint_violations.json and report.html to --out.
Exit status: 0 no violations, 1 violations, 2 error (the message says what was wrong).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from modelmon.cli.baseline import (
    fail,
    load_baseline,
    output_dir,
    s3_client_factory,
    time_range,
)
from modelmon.cli.options import (
    baseline_option,
    config_option,
    data_option,
    input_options,
    out_option,
)
from modelmon.errors import ModelmonError

if TYPE_CHECKING:
    from modelmon.checks import Baseline, Evaluation
    from modelmon.config import ModelConfig
    from modelmon.readers import DataReader

REPORT_FILE = "report.html"
STATISTICS_FILE = "statistics.json"
VIOLATIONS_FILE = "constraint_violations.json"


def load_config(path: Path | None, min_rows: int | None, non_negative: bool) -> ModelConfig | None:
    """The ModelConfig from --config (YAML or JSON), with the command-line flags applied."""
    import yaml
    from pydantic import ValidationError

    from modelmon.config import ModelConfig
    from modelmon.errors import ConfigurationError

    config: ModelConfig | None = None
    if path is not None:
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
            config = ModelConfig.model_validate(doc)
        except (OSError, yaml.YAMLError, ValidationError) as exc:
            raise ConfigurationError(f"--config {path}: {exc}") from exc
    if min_rows is None and not non_negative:
        return config
    config = config or ModelConfig(model_id="batch")
    update: dict[str, object] = {}
    if min_rows is not None:
        update["drift"] = config.drift.model_copy(update={"min_window_count": min_rows})
    if non_negative and "non_negative_check" not in config.checks:
        update["checks"] = [*config.checks, "non_negative_check"]
    return config.model_copy(update=update)


@click.command()
@baseline_option(
    "Baseline directory or s3://bucket/prefix/: statistics.json + constraints.json "
    "[+ profile.bin].",
    required=True,
)
@data_option("File, folder or s3://bucket/prefix to check (repeatable).")
@out_option(
    "Directory (or s3://bucket/prefix/) for statistics.json, "
    "constraint_violations.json, report.html."
)
@config_option(
    "Model config (YAML): per-feature methods and thresholds; for a bias baseline, "
    "the bias analysis config (default: the baseline's bias_config.json)."
)
@click.option(
    "--min-rows",
    type=click.IntRange(min=1),
    default=None,
    help="Features with fewer values are not drift-checked (default 30).",
)
@click.option(
    "--exclude",
    multiple=True,
    help="Column that is not a feature (repeatable); the baseline's own are kept.",
)
@click.option(
    "--non-negative-check",
    "non_negative",
    is_flag=True,
    help="Also flag negative values where the baseline says is_non_negative.",
)
@click.option("--label", default=None, help="Model-quality baseline: the ground-truth column.")
@click.option("--prediction", default=None, help="Model-quality baseline: the predicted column.")
@click.option("--probability", default=None, help="Model-quality baseline: the score column.")
@input_options
def monitor(
    baseline_dir: str,
    data: tuple[str, ...],
    out: str,
    config_path: Path | None,
    min_rows: int | None,
    exclude: tuple[str, ...],
    non_negative: bool,
    label: str | None,
    prediction: str | None,
    probability: str | None,
    data_format: str,
    header: bool | None,
    start: datetime | None,
    end: datetime | None,
    quiet: bool,
) -> None:
    """Check data against a baseline; exit 0 without violations, 1 with, 2 on error.

    A model-quality baseline (constraints.json with *_constraints) checks joined
    (label, prediction) rows instead: CSV/JSON Lines or SageMaker merged records.
    """
    from modelmon.cli.attribution import is_explainability_baseline, monitor_attributions
    from modelmon.cli.bias import JoinedInput, is_bias_baseline, monitor_bias

    if is_explainability_baseline(baseline_dir):  # Clarify's global SHAP: attribution drift
        monitor_attributions(baseline_dir, data, out, config_path)
        return
    if is_bias_baseline(baseline_dir):  # Clarify's analysis.json: the bias monitor
        source = JoinedInput(data, data_format, header, quiet)
        monitor_bias(baseline_dir, source, out, config_path)
        return
    columns = {"label": label, "prediction": prediction, "probability": probability}
    _monitor_quality(baseline_dir, data, out, columns)
    from modelmon.checks import validate
    from modelmon.readers import DataReader, ReadOptions
    from modelmon.readers.progress import ProgressPrinter

    try:
        base = load_baseline(baseline_dir)
        config = load_config(config_path, min_rows, non_negative)
        validate(base, config)  # a bad method name fails before any data is read
        window = time_range(start, end)
        options = ReadOptions(data_format, header, base.feature_names, window)  # type: ignore[arg-type]
        progress = None if quiet else ProgressPrinter(sys.stderr, "monitor")
        reader = DataReader(list(data), options, s3_client=s3_client_factory(), progress=progress)
        evaluation = check_and_write(base, reader, config, exclude, out, baseline_dir)
    except (ModelmonError, OSError, click.ClickException) as exc:
        fail("monitor", exc)
    for line in reader.stats.summary_lines():
        click.echo(line, err=True)
    for note in evaluation.notes:
        click.echo(f"note: {note}", err=True)
    violations = evaluation.violations
    for v in violations:
        click.echo(f"{v.check_type}\t{v.feature}\t{v.description}")
    click.echo(
        f"{len(violations)} violation(s) in {evaluation.row_count} rows; wrote {out.rstrip('/')}/"
        f"{{{STATISTICS_FILE}, {VIOLATIONS_FILE}, {REPORT_FILE}}}"
    )
    sys.exit(1 if violations else 0)


def _monitor_quality(
    baseline_dir: str, data: tuple[str, ...], out: str, columns: dict[str, str | None]
) -> None:
    """Run the model-quality check and exit when the baseline is a model-quality one."""
    from modelmon.cli import quality

    try:
        found = quality.quality_baseline(baseline_dir)
        if found is None:
            return
        violations = quality.check(found, data, out, columns)
    except (ModelmonError, OSError, click.ClickException, ValueError) as exc:
        fail("monitor", exc)
    sys.exit(1 if violations else 0)


def check_and_write(
    base: Baseline,
    reader: DataReader,
    config: ModelConfig | None,
    exclude: Sequence[str],
    out: str,
    baseline_name: str,
) -> Evaluation:
    """Profile the data, run the checks, write the three result files to ``out``."""
    from modelmon.checks import evaluate
    from modelmon.readers import read_profile
    from modelmon.report import render_report
    from modelmon.sagemaker import write
    from modelmon.sagemaker.build import build_statistics

    profile, order = read_profile(reader, kinds=base.kinds(), exclude=[*base.excluded, *exclude])
    if profile.row_count == 0:
        lines = "; ".join(line.strip() for line in reader.stats.summary_lines())
        raise click.ClickException(f"no rows to check: {lines}")
    evaluation = evaluate(base, profile, config)
    meta = f"baseline {baseline_name}; data {len(reader.sources)} file(s); {profile.row_count} rows"
    page = render_report(base, profile, evaluation, meta=meta, read_stats=reader.stats)
    with output_dir(out) as target:
        write(build_statistics(profile, [*base.feature_names, *order]), target / STATISTICS_FILE)
        write(evaluation.constraint_violations(), target / VIOLATIONS_FILE)
        (target / REPORT_FILE).write_text(page, encoding="utf-8")
    return evaluation
