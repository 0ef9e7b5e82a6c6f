"""``modelmon demo [run] | serve-model | traffic``: the end-to-end demo and its two parts."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import click

from modelmon.errors import ModelmonError

MIN_WINDOW = 2
RATE = click.FloatRange(min=0, max=2000, min_open=True)


def _schedule(schedule: Path | None, duration: float | None, window: int) -> list[Any]:
    """Phases from a YAML/JSON list, or the default normal -> incident -> recovered."""
    from modelmon.demo.phases import default_schedule, fit_to_duration, phases_from_data

    if schedule is not None:
        import yaml

        try:
            return phases_from_data(yaml.safe_load(schedule.read_text()))
        except (ValueError, TypeError) as exc:
            raise click.BadParameter(str(exc), param_hint="--schedule") from exc
    phases = default_schedule(window)
    return phases if duration is None else fit_to_duration(phases, duration)


def _fail(exc: ModelmonError) -> None:
    click.echo(f"modelmon demo: {exc}", err=True)
    sys.exit(1)


@click.group(invoke_without_command=True)
@click.pass_context
def demo(ctx: click.Context) -> None:
    """The end-to-end demo: `modelmon demo` is `modelmon demo run` with its defaults."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(run)


@demo.command()
@click.option(
    "--duration",
    type=float,
    default=180.0,
    show_default=True,
    help="Seconds of traffic (normal 3 : incident 3 : recovered 4).",
)
@click.option(
    "--window",
    type=click.IntRange(min=MIN_WINDOW),
    default=10,
    show_default=True,
    help="Window size in seconds.",
)
@click.option("--rate", type=RATE, default=25.0, show_default=True, help="Requests per second.")
@click.option("--model-id", default="loan-default-demo", show_default=True)
@click.option(
    "--namespace",
    default="modelmon-demo",
    show_default=True,
    help="Topics <ns>.capture.v1 ..., Redis prefix and consumer groups of the demo's "
    "own (MODELMON_* set in the environment win); '' uses the settings as they are.",
)
@click.option(
    "--schedule",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML/JSON list of phases instead of the default (overrides --duration).",
)
@click.option(
    "--bucket",
    default="modelmon-demo",
    show_default=True,
    help="S3 bucket (emulator) for the archive and reports; also names the SNS topic.",
)
@click.option(
    "--runs-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".modelmon/demo"),
    show_default=True,
)
@click.option(
    "--stack/--no-stack",
    "manage_stack",
    default=True,
    show_default=True,
    help="Start the local stack if it is not up (and stop it at the end).",
)
@click.option("--keep-stack", is_flag=True, help="Leave a stack this demo started running.")
@click.option("--drain", type=float, help="Seconds to wait after traffic (default ~2 windows).")
@click.option(
    "--scenario",
    type=click.Choice(["data", "attribution"]),
    default="data",
    show_default=True,
    help="data: drift, new categories and faults; attribution: a shortcut feature comes to "
    "dominate the predictions while the inputs stay put (docs/attribution.md).",
)
@click.option(
    "--exit-when-done",
    is_flag=True,
    help="Stop everything after the summary (CI); by default it all stays up until Ctrl-C.",
)
def run(**options: Any) -> None:
    """Start everything, send traffic with drift and faults, print alerts; Ctrl-C stops it."""
    from modelmon.demo.runner import DemoOptions, DemoRun

    if not options["manage_stack"]:  # --no-stack: the running Kafka must answer
        from modelmon.cli.reach import require_kafka
        from modelmon.settings import Settings

        require_kafka("demo", Settings().kafka)
    scenario = options.pop("scenario")
    phases = _schedule(options.pop("schedule"), options.pop("duration"), options["window"])
    if scenario == "attribution" and not any(p.shortcut for p in phases):
        from modelmon.demo.phases import attribution_schedule, fit_to_duration

        total = sum(p.duration_s for p in phases)
        phases = fit_to_duration(attribution_schedule(options["window"]), total)
    drain = options.pop("drain")
    opts = DemoOptions(
        phases=phases,
        window_s=options.pop("window"),
        drain_s=drain,
        **options,
    )
    sys.exit(DemoRun(opts, lambda line: click.echo(line)).run())


@demo.command("serve-model")
@click.option("--port", type=int, default=8081, show_default=True)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".modelmon/demo/data"),
    show_default=True,
    help="Where training.csv (features + label) and baseline.csv (features) go.",
)
@click.option("--seed", type=int, default=7, show_default=True)
def serve_model(port: int, data_dir: Path, seed: int) -> None:
    """Train the demo classifier, write its training set, serve it on 127.0.0.1:PORT."""
    from aiohttp import web

    from modelmon.demo.model import ADMIN_TOKEN_ENV, make_app, train, write_datasets, write_joined

    try:
        model, cols = train(seed)
    except ModelmonError as exc:
        _fail(exc)
        return
    training, baseline = write_datasets(cols, data_dir)
    joined = write_joined(model, cols, data_dir)
    click.echo(
        f"trained HistGradientBoostingClassifier on {model.train_rows} rows "
        f"(held-out accuracy {model.test_accuracy:.3f}); wrote {training}, {baseline} "
        f"and {joined}"
    )
    click.echo(f"serving POST http://127.0.0.1:{port}/invocations (JSON or CSV), GET /ping")
    token = os.environ.get(ADMIN_TOKEN_ENV) or None
    if token:
        click.echo(f"POST /admin/version switches the model version (token from {ADMIN_TOKEN_ENV})")
    web.run_app(make_app(model, token), host="127.0.0.1", port=port, print=None)


@demo.command()
@click.option("--url", required=True, help="Where to POST (loopback only), e.g. the proxy.")
@click.option("--rate", type=RATE, default=25.0, show_default=True, help="Requests per second.")
@click.option(
    "--window",
    type=click.IntRange(min=MIN_WINDOW),
    default=10,
    show_default=True,
    help="Phase lengths are multiples of this (3 windows each by default).",
)
@click.option("--duration", type=float, help="Total seconds (split 3 : 3 : 4).")
@click.option("--schedule", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--seed", type=int, default=11, show_default=True)
def traffic(url: str, rate: float, window: int, duration: float | None,
            schedule: Path | None, seed: int) -> None:  # fmt: skip
    """Send the phase schedule to URL: normal -> drift + new categories + faults -> normal."""
    from modelmon.demo.traffic import PhaseReport, TrafficGenerator, schedule_table

    phases = _schedule(schedule, duration, window)
    click.echo(f"schedule at {rate:g} requests/s:\n{schedule_table(phases)}")

    def on_phase(report: PhaseReport, done: bool) -> None:
        if done:
            click.echo(f"  {report.name} done: {report.ok} ok, {report.failed} failed")
        else:
            click.echo(f"phase {report.name}: {report.description}")

    try:
        generator = TrafficGenerator(url, phases, rate, seed=seed, on_phase=on_phase)
        asyncio.run(generator.run())
    except ModelmonError as exc:
        _fail(exc)
    except KeyboardInterrupt:
        click.echo("interrupted")
