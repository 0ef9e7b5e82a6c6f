"""``modelmon model register | list | show``: the models modelmon monitors, kept in Redis."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from modelmon.cli.options import config_option
from modelmon.errors import ConfigurationError, DependencyUnavailableError, ModelmonError


def _registry() -> Any:
    from modelmon.adapters.redis import make_redis
    from modelmon.keys import Keys
    from modelmon.registry import Registry
    from modelmon.settings import Settings

    settings = Settings()
    return Registry(make_redis(settings.redis), Keys(settings.redis.key_prefix))


def _fail(exc: ModelmonError) -> None:
    if isinstance(exc, DependencyUnavailableError):  # the registry's Redis: say how to fix it
        from modelmon.cli.reach import fail, redis_down
        from modelmon.settings import Settings

        fail("model", redis_down(Settings().redis.url))
    click.echo(f"modelmon model: {exc}", err=True)
    sys.exit(2 if isinstance(exc, ConfigurationError) else 1)


def _baseline(files: dict[str, bytes], model_id: str) -> Any:
    from modelmon.checks import Baseline

    return Baseline.from_files(files, f"registry:{model_id}")


@click.group()
def model() -> None:
    """Register and inspect monitored models (stored in Redis; services reload them live)."""


@model.command()
@config_option("model.yaml (or JSON) following schemas/model-config.schema.json", required=True)
def register(config_path: Path) -> None:
    """Validate a model config and store it (replacing any previous one)."""
    from modelmon.config_check import check_config
    from modelmon.registry import parse_config

    try:
        config = parse_config(config_path.read_bytes())
        registry = _registry()
        files = registry.baseline_files(config.model_id)
        check_config(config, _baseline(files, config.model_id) if files else None)
        version = registry.register(config)
    except ModelmonError as exc:
        _fail(exc)
        return
    from modelmon.cli.rebuild import backup
    from modelmon.registry_log import config_record
    from modelmon.settings import Settings

    backup(Settings(), [config_record(config)])  # issue 19: for `modelmon rebuild`
    click.echo(f"registered {config.model_id} (registry version {version})")


@model.command(name="list")
def list_models() -> None:
    """One line per model: id, window, lateness, features, baseline, last change."""
    try:
        entries = _registry().all()
    except ModelmonError as exc:
        _fail(exc)
        return
    if not entries:
        click.echo("no models registered; `modelmon model register --config model.yaml`")
        return
    for model_id, entry in entries.items():
        w = entry.config.window
        changed = datetime.fromtimestamp(entry.changed_at_ms / 1000, UTC).isoformat()
        click.echo(
            f"{model_id:30} window={w.size_seconds}s lateness={w.allowed_lateness_seconds}s "
            f"features={len(entry.config.features) or 'baseline'} "
            f"baseline={'yes' if entry.has_baseline else 'no'} v{entry.version} {changed}"
        )


@model.command()
@click.argument("model_id")
def show(model_id: str) -> None:
    """Print a model's stored config as JSON (and whether it has a baseline)."""
    try:
        entry = _registry().get(model_id)
    except ModelmonError as exc:
        _fail(exc)
        return
    if entry is None:
        click.echo(f"modelmon model: {model_id!r} is not registered", err=True)
        sys.exit(1)
    click.echo(entry.config.model_dump_json(indent=2))
    click.echo(f"# version {entry.version}; baseline {'stored' if entry.has_baseline else 'none'}")
