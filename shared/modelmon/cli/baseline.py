"""``modelmon baseline``: make a baseline from a dataset (and, from other modules, push it).

``baseline create`` writes SageMaker's statistics.json and constraints.json plus profile.bin
(modelmon's mergeable profile). Other subcommands live in their own modules and are added
to the group at the bottom of this file (``baseline push`` in ``modelmon.cli.baseline_push``).
"""

from __future__ import annotations

import importlib
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, cast

import click

from modelmon.cli.options import (
    config_option,
    data_option,
    input_options,
    out_option,
)
from modelmon.errors import ModelmonError

if TYPE_CHECKING:
    from modelmon.checks import Baseline
    from modelmon.quality.problem import ProblemType
    from modelmon.readers import TimeRange


def time_range(start: datetime | None, end: datetime | None) -> TimeRange:
    """--start/--end as a TimeRange; an empty range is a usage error (exit 2)."""
    from modelmon.readers import TimeRange

    if start is not None and end is not None and start >= end:
        raise click.BadParameter(f"--start {start:%Y-%m-%dT%H:%M:%SZ} is not before --end")
    return TimeRange(start, end)


def s3_client_factory() -> Callable[[], Any]:
    """Builds the S3 client only if an s3:// path is read (Settings from the environment)."""

    def make() -> Any:
        from modelmon.adapters.aws import boto_client
        from modelmon.settings import Settings

        return boto_client(Settings().aws, "s3")

    return make


def load_baseline(location: str) -> Baseline:
    """A baseline from a directory or an ``s3://bucket/prefix/`` holding its files."""
    from modelmon.checks import Baseline
    from modelmon.checks.baseline import BASELINE_FILES
    from modelmon.errors import BaselineError
    from modelmon.readers.sources import fetch_s3_files

    if not location.startswith("s3://"):
        return Baseline.load(location)
    found = fetch_s3_files(s3_client_factory()(), location, BASELINE_FILES)
    if not found:
        raise BaselineError(f"{location} holds no statistics.json or constraints.json")
    return Baseline.from_files(found, location.rstrip("/"))


@contextmanager
def output_dir(location: str) -> Iterator[Path]:
    """Where to write results: the directory itself, or for ``s3://`` a temporary directory
    uploaded under that prefix when the block ends without an error."""
    from modelmon.readers.sources import upload_s3_files

    if not location.startswith("s3://"):
        yield Path(location)
        return
    with tempfile.TemporaryDirectory(prefix="modelmon-") as tmp:
        yield Path(tmp)
        from modelmon.adapters.aws import s3_encryption
        from modelmon.settings import Settings

        upload_s3_files(s3_client_factory()(), Path(tmp), location, s3_encryption(Settings().aws))


def fail(command: str, exc: BaseException) -> NoReturn:
    """Exit 2 with a one-line message saying what was wrong."""
    click.echo(f"modelmon {command}: error: {exc}", err=True)
    sys.exit(2)


@click.group()
def baseline() -> None:
    """Create baselines (SageMaker's statistics.json + constraints.json) and push them."""


@baseline.command()
@data_option("File, folder or s3://bucket/prefix of training data (repeatable).")
@out_option(
    "Directory (or s3://bucket/prefix/) to write statistics.json, constraints.json "
    "and profile.bin to."
)
@click.option("--label", default=None, help="Ground-truth column: left out of the features.")
@click.option("--exclude", multiple=True, help="Column to leave out (repeatable).")
@click.option(
    "--analysis",
    type=click.Choice(["data-quality", "bias", "explainability"]),
    default="data-quality",
    show_default=True,
    help="bias: Clarify's analysis.json of joined rows (needs --config; see docs/bias.md). "
    "explainability: Clarify's global SHAP analysis.json (--model or --endpoint, or captured "
    "attributions; see docs/attribution.md).",
)
@click.option(
    "--model",
    "model_path",
    default=None,
    help="--analysis explainability: a fitted model file (joblib/pickle: trusted files only).",
)
@click.option(
    "--endpoint",
    default=None,
    help="--analysis explainability: the model's HTTP endpoint (CSV rows in, a score per line "
    "out): Kernel SHAP (needs the shap library).",
)
@config_option("--analysis bias: the analysis config (Clarify's analysis_config.json).")
@click.option(
    "--problem-type",
    type=click.Choice(["BinaryClassification", "MulticlassClassification", "Regression"]),
    default=None,
    help="Make a model-quality baseline (needs --label and --prediction/--probability).",
)
@click.option("--prediction", default=None, help="Model quality: the predicted-label column.")
@click.option("--probability", default=None, help="Model quality: the score column (binary).")
@click.option(
    "--threshold",
    type=click.FloatRange(0, 1),
    default=0.5,
    show_default=True,
    help="Binary: probability >= threshold is positive when there is no prediction.",
)
@click.option(
    "--positive-label", default="1", show_default=True, help="Binary: the positive class."
)
@input_options
def create(
    data: tuple[str, ...],
    out: str,
    label: str | None,
    exclude: tuple[str, ...],
    analysis: str,
    model_path: str | None,
    endpoint: str | None,
    config_path: Path | None,
    problem_type: str | None,
    prediction: str | None,
    probability: str | None,
    threshold: float,
    positive_label: str,
    data_format: str,
    header: bool | None,
    start: datetime | None,
    end: datetime | None,
    quiet: bool,
) -> None:
    """Profile training data and suggest constraints, as SageMaker's baselining job does.

    With --problem-type: a model-quality baseline from (label, prediction[, probability]) rows.
    """
    if analysis == "explainability":
        from modelmon.cli.attribution import create_explainability_baseline

        skip = [*exclude, *([label] if label else [])]
        create_explainability_baseline(data, out, model_path, endpoint, skip, "label0")
        return
    if analysis == "bias":
        from modelmon.cli.bias import JoinedInput, create_bias_baseline

        create_bias_baseline(JoinedInput(data, data_format, header, quiet), out, config_path)
        return
    if problem_type is not None:
        _create_quality(
            data, out, problem_type, label, prediction, probability, threshold, positive_label
        )
        return
    from modelmon.checks import Baseline
    from modelmon.readers import DataReader, ReadOptions, read_profile
    from modelmon.readers.progress import ProgressPrinter
    from modelmon.required_columns import require_columns
    from modelmon.sagemaker.build import build_statistics, suggest_constraints

    try:
        options = ReadOptions(format=data_format, header=header, window=time_range(start, end))  # type: ignore[arg-type]
        progress = None if quiet else ProgressPrinter(sys.stderr, "baseline create")
        reader = DataReader(list(data), options, s3_client=s3_client_factory(), progress=progress)
        skip = [*exclude, *([label] if label else [])]
        profile, order = read_profile(reader, exclude=skip)
        if profile.row_count == 0:
            raise click.ClickException("no rows read: " + "; ".join(reader.stats.summary_lines()))
        require_columns(order, {"--label": label})  # a misspelt label is an error (exit 2)
        for name in exclude:
            if name not in order:
                click.echo(f"modelmon baseline create: note: column {name!r} not found", err=True)
        statistics = build_statistics(profile, order)
        excluded = tuple(name for name in skip if name in order)
        result = Baseline(statistics, suggest_constraints(statistics), profile, excluded)
        with output_dir(out) as target:
            result.save(target)
    except (ModelmonError, OSError, click.ClickException) as exc:
        fail("baseline create", exc)
    for line in reader.stats.summary_lines():
        click.echo(line, err=True)
    click.echo(
        f"wrote {out.rstrip('/')}/statistics.json, constraints.json, profile.bin"
        + (", modelmon.json " if result.excluded else " ")
        + f"({profile.row_count} rows, {len(profile.features)} features)"
    )


def _create_quality(
    data: tuple[str, ...],
    out: str,
    problem_type: str,
    label: str | None,
    prediction: str | None,
    probability: str | None,
    threshold: float,
    positive_label: str,
) -> None:
    from modelmon.cli.quality import create_baseline
    from modelmon.quality.batch import QualityColumns
    from modelmon.quality.labels import class_name
    from modelmon.quality.problem import QualitySpec

    try:
        if label is None:
            raise click.UsageError("--problem-type needs --label (the ground-truth column)")
        if prediction is None and (probability is None or problem_type != "BinaryClassification"):
            raise click.UsageError(f"{problem_type} needs --prediction (the predicted column)")
        spec = QualitySpec(
            cast("ProblemType", problem_type),
            positive_label=class_name(positive_label),
            threshold=threshold,
        )
        create_baseline(data, out, spec, QualityColumns(label, prediction, probability))
    except (ModelmonError, OSError, click.ClickException, ValueError) as exc:
        fail("baseline create", exc)


def _add_optional(module: str, attr: str) -> None:
    """Attach a subcommand that lives in its own module, if that module is installed."""
    try:
        command = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):
        return
    baseline.add_command(command)


_add_optional("modelmon.cli.baseline_push", "push")
