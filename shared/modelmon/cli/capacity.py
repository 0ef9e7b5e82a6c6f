"""``modelmon capacity``: what a load needs (cores, partitions, Redis, S3); docs/capacity.md."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import click

from modelmon.capacity import Costs, Load, estimate, parse_duration


class Duration(click.ParamType[int]):
    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        try:
            return parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def _size(n: float) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n:,.0f} B"


def _cost_options(f: Any) -> Any:
    """One ``--cost-<name>`` option per measured cost (defaults: the local stack's)."""
    for field in reversed(fields(Costs)):
        flag = "--cost-" + field.name.replace("_", "-")
        kind = int if isinstance(field.default, int) else float
        f = click.option(flag, field.name, type=kind, default=field.default, show_default=True,
                         help="measured cost (see docs/capacity.md)")(f)  # fmt: skip
    return f


@click.command()
@click.option("--events-per-second", type=click.FloatRange(min=0, min_open=True), required=True)
@click.option("--models", type=click.IntRange(min=1), required=True)
@click.option("--features", type=click.IntRange(min=1), required=True, help="per model")
@click.option("--window", type=Duration(), required=True, help="window size, e.g. 1m, 10s")
@click.option("--retention", type=Duration(), required=True, help="durable tier, e.g. 7d, 400d")
@click.option("--hot-retention", type=Duration(), default="24h", show_default=True,
              help="results kept in Redis (results.hot_retention_seconds)")  # fmt: skip
@click.option("--partitions-per-model", type=click.IntRange(min=1), default=1, show_default=True,
              help="partitions one model's events spread over (1: keyed by model)")  # fmt: skip
@click.option("--rolling-windows", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print the figures as JSON")
@_cost_options
def capacity(
    events_per_second: float, models: int, features: int, window: int, retention: int,
    hot_retention: int, partitions_per_model: int, rolling_windows: int, as_json: bool,
    **cost: Any,
) -> None:  # fmt: skip
    """Estimate the cores, partitions, Redis memory and bandwidth, and S3 a load needs, from
    measured per-event, per-flush and per-window costs (docs/capacity.md)."""
    load = Load(
        events_per_second, models, features, window, retention, hot_retention,
        partitions_per_model, rolling_windows,
    )  # fmt: skip
    est = estimate(load, Costs(**cost))
    if as_json:
        import json

        click.echo(json.dumps(est.as_dict(), indent=2))
        return
    rows = [
        ("aggregator cores", f"{est.aggregator_cores:,.1f}"),
        ("capture partitions", f"{est.partitions:,}"),
        ("detector cores", f"{est.detector_cores:,.2f} ({est.windows_per_second:,.1f} windows/s)"),
        ("Redis: partials", _size(est.redis_partials_bytes)),
        ("Redis: hot results", _size(est.redis_results_bytes)),
        ("Redis: total memory", _size(est.redis_bytes)),
        ("Redis: writes", _size(est.redis_write_bytes_per_second) + "/s"),
        ("S3: result PUTs", f"{est.s3_puts_per_second:,.1f}/s"),
        ("S3: results per day", _size(est.s3_bytes_per_day)),
        ("S3: results retained", _size(est.s3_bytes_retained)),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        click.echo(f"{key:<{width}}  {value}")
