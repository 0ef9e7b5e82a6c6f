"""``modelmon report``: report.html of any past streaming window, or of a range merged.

The detector writes each window's mergeable profile (``modelmon-window.json``) beside its
statistics.json under ``--out``; this command finds the windows under that location (a
directory or ``s3://bucket/prefix``), merges them, checks them against the model's baseline
(from the registry, or ``--baseline DIR``) and writes one report.html.
"""

from __future__ import annotations

import re
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from modelmon.cli.baseline import fail, load_baseline, s3_client_factory
from modelmon.cli.options import baseline_option, config_option, out_option, time_option
from modelmon.errors import DependencyUnavailableError, ModelmonError

if TYPE_CHECKING:
    from modelmon.checks import Baseline
    from modelmon.config import ModelConfig
    from modelmon.readers.sources import Source

#: ``.../yyyy/mm/dd/hh/[MMSS/]modelmon-window.json`` of a single window (not ``rolling-K/``).
_PATH = re.compile(r"/(\d{4})/(\d\d)/(\d\d)/(\d\d)/(?:(\d\d)(\d\d)/)?modelmon-window\.json$")


def window_start_of(name: str) -> datetime | None:
    """The window start a report path encodes; None for rolling views and other files."""
    from datetime import UTC

    match = _PATH.search(name.replace("\\", "/"))
    if match is None:
        return None
    y, mo, d, h, mi, s = (int(g) if g else 0 for g in match.groups())
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


def pick(found: dict[datetime, Source], start: datetime, end: datetime | None) -> list[Source]:
    """``--end`` given: every window starting in [start, end). Otherwise the last window
    starting at or before ``start`` (the one holding it, checked by the caller)."""
    if end is not None:
        return [found[t] for t in sorted(found) if start <= t < end]
    earlier = [t for t in found if t <= start]
    return [found[max(earlier)]] if earlier else []


def _model(
    model_id: str, baseline_dir: str | None, config_path: Path | None
) -> tuple[Baseline, ModelConfig | None]:
    """The baseline and config: from --baseline/--config, else from the registry (Redis)."""
    from modelmon.cli.monitor import load_config

    config = load_config(config_path, None, False) if config_path else None
    if baseline_dir is not None:
        return load_baseline(baseline_dir), config
    from modelmon.checks import Baseline
    from modelmon.errors import BaselineError

    registry = _registry()
    files = registry.baseline_files(model_id)
    if files is None:
        raise BaselineError(
            f"model {model_id!r} has no baseline in the registry: push one "
            "(`modelmon baseline push`) or pass --baseline DIR"
        )
    entry = registry.get(model_id)
    registered = entry.config if entry is not None else None
    return Baseline.from_files(files, f"registry:{model_id}"), config or registered


@click.command()
@click.option("--model", "model_id", required=True, help="Model id.")
@time_option(
    "--window", "start", "A time in the window to report (UTC), or with --end the range's start."
)
@time_option("--end", "end", "Merge every window starting before this time into one report.")
@click.option(
    "--from",
    "location",
    required=True,
    help="Where the detector writes reports: its --out (directory or s3://bucket/prefix).",
)
@baseline_option("Baseline directory or s3:// prefix (default: the model's, from the registry).")
@config_option("Model config (default: the registered one).")
@click.option(
    "--list",
    "list_only",
    is_flag=True,
    help="List the stored windows (start and folder) instead of rendering one.",
)
@out_option("The report file (default: report-MODEL-START.html here).", file=True)
@click.option(
    "--results",
    "results_only",
    is_flag=True,
    help="Print the window results of [--window, --end) as JSON lines instead, from Redis "
    "(the hot tier) and the Parquet files under --from (older ones), transparently.",
)
def report(
    model_id: str, start: datetime | None, end: datetime | None, location: str,
    baseline_dir: str | None, config_path: Path | None, list_only: bool, out: Path | None,
    results_only: bool,
) -> None:  # fmt: skip
    """Render report.html of a past streaming window (or a range of windows, merged)."""
    from modelmon.streaming.window_report import parse_window, render_range

    if list_only:
        _list(model_id, location, config_path)
        return
    if start is None:
        raise click.UsageError("give --window START (or --list to see the stored windows)")
    if end is not None and end <= start:
        raise click.BadParameter("--end must be after --window", param_hint="--end")
    if results_only:
        _results(model_id, start, end, location, config_path)
        return
    try:
        base, config = _model(model_id, baseline_dir, config_path)
        root = _model_root(location, model_id, config)
        found = _stored(root)
        stored = [parse_window(s.read_bytes(), s.name) for s in pick(found, start, end)]
        stored = [
            w for w in stored if w.model_id == model_id and (end is not None or w.end > start)
        ]
        if not stored:
            raise click.ClickException(_nothing(root, start, end, sorted(found)))
        page = render_range(stored, base, config)
    except DependencyUnavailableError:
        _redis_down()
    except (ModelmonError, OSError, click.ClickException) as exc:
        fail("report", exc)
    target = out or Path(f"report-{model_id}-{stored[0].start:%Y%m%dT%H%M%SZ}.html")
    target.write_text(page, encoding="utf-8")
    events = sum(w.profile.row_count for w in stored)
    click.echo(f"wrote {target} ({len(stored)} window(s), {events} events)")


def _results(
    model_id: str, start: datetime, end: datetime | None, location: str, config_path: Path | None
) -> None:
    """The window results of the range from both tiers (issue 23), oldest first."""
    from modelmon.adapters.redis import make_redis
    from modelmon.archive.store import open_store
    from modelmon.cli.monitor import load_config
    from modelmon.keys import Keys
    from modelmon.settings import Settings
    from modelmon.streaming.results import ResultStore
    from modelmon.streaming.tiers import DurableResults, endpoint_path, merge_tiers

    from_ms = int(start.timestamp() * 1000)
    to_ms = int(end.timestamp() * 1000) if end is not None else 2**62
    try:
        config = load_config(config_path, None, False) if config_path else None
        registry = _registry()
        if config is None:
            entry = registry.get(model_id)
            config = entry.config if entry is not None else None
        if config is None:
            raise click.ClickException(f"model {model_id!r} is not registered (pass --config)")
        settings = Settings()
        client = make_redis(settings.redis)
        hot = ResultStore(client, Keys(settings.redis.key_prefix), "report")
        hot_part = hot.scored(model_id, from_ms, to_ms)
        below = min([s for s, _ in hot_part], default=to_ms)
        store, prefix = open_store(settings, location)
        durable = DurableResults(store, prefix)  # type: ignore[arg-type]  # S3Store/LocalStore
        cold = durable.read(endpoint_path(config), from_ms, below) if below > from_ms else []
    except DependencyUnavailableError:
        _redis_down()
    except (ModelmonError, OSError) as exc:
        fail("report", exc)
    merged = merge_tiers(cold, hot_part)
    for _, blob in merged:
        click.echo(blob.decode())
    click.echo(f"{len(merged)} result(s): {len(cold)} from {location}, {len(hot_part)} from Redis",
               err=True)  # fmt: skip


def _registry() -> Any:
    from modelmon.adapters.redis import make_redis
    from modelmon.keys import Keys
    from modelmon.registry import Registry
    from modelmon.settings import Settings

    settings = Settings()
    return Registry(make_redis(settings.redis), Keys(settings.redis.key_prefix))


def _stored(root: str) -> dict[datetime, Source]:
    """Every single window's file under ``root``, by window start."""
    from modelmon.readers.sources import DataSourceError, list_sources

    try:
        sources = list_sources([root], s3_client_factory())
    except DataSourceError as exc:
        if "no data files found" in str(exc) or "does not exist" in str(exc):
            return {}  # nothing written there yet: said by the caller
        raise  # S3 unreachable, no credentials, no bucket: said as it is
    return {t: s for s in sources if (t := window_start_of(s.name)) is not None}


def _list(model_id: str, location: str, config_path: Path | None) -> None:
    """Print each stored window's start and folder (the config only names the folder)."""
    from modelmon.cli.monitor import load_config

    try:
        config = load_config(config_path, None, False) if config_path else None
        if config is None:
            entry = _registry().get(model_id)
            config = entry.config if entry is not None else None
        root = _model_root(location, model_id, config)
        found = _stored(root)
    except DependencyUnavailableError:
        _redis_down()
    except ModelmonError as exc:
        fail("report", exc)
    for start in sorted(found):
        click.echo(f"{start:%Y-%m-%dT%H:%M:%SZ}\t{found[start].name.rsplit('/', 1)[0]}/")
    click.echo(f"{len(found)} window(s) under {root}", err=True)


def _model_root(location: str, model_id: str, config: ModelConfig | None) -> str:
    from modelmon.config import endpoint_name

    schedule = config.schedule_name if config is not None else "modelmon"
    return f"{location.rstrip('/')}/{endpoint_name(model_id, config)}/{schedule}/"


def _nothing(root: str, start: datetime, end: datetime | None, have: list[datetime]) -> str:
    asked = f"from {start:%Y-%m-%dT%H:%M:%SZ}" + (f" to {end:%Y-%m-%dT%H:%M:%SZ}" if end else "")
    if not have:
        return f"no window files under {root} (does the detector run with --out there?)"
    span = f"{have[0]:%Y-%m-%dT%H:%M:%SZ} .. {have[-1]:%Y-%m-%dT%H:%M:%SZ}"
    return f"no window {asked} under {root}; stored windows start {span}"


def _redis_down() -> Any:
    from modelmon.cli.reach import fail as reach_fail
    from modelmon.cli.reach import redis_down
    from modelmon.settings import Settings

    reach_fail("report", redis_down(Settings().redis.url) + " (or pass --baseline DIR)")
    sys.exit(1)  # not reached
