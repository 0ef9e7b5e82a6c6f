"""``modelmon baseline push --model ID DIR``: store a baseline directory in the registry.

Registered on the ``baseline`` group (``modelmon.cli.baseline``) with ``add_command(push)``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from modelmon.errors import ConfigurationError, DependencyUnavailableError, ModelmonError


@click.command()
@click.option("--model", "model_id", required=True, help="A registered model id.")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
def push(model_id: str, directory: Path) -> None:
    """Store DIRECTORY's baseline files (statistics.json, constraints.json) for MODEL."""
    from modelmon.adapters.redis import make_redis
    from modelmon.keys import Keys
    from modelmon.registry import Registry, read_baseline_dir
    from modelmon.settings import Settings

    settings = Settings()
    registry = Registry(make_redis(settings.redis), Keys(settings.redis.key_prefix))
    try:
        files = read_baseline_dir(directory)
        entry = registry.get(model_id)
        if entry is not None:  # (push_baseline says so when it is not registered)
            from modelmon.checks import Baseline
            from modelmon.config_check import check_config

            check_config(entry.config, Baseline.from_files(files, str(directory)))
        version = registry.push_baseline(model_id, files, source=str(directory.resolve()))
    except DependencyUnavailableError:
        from modelmon.cli.reach import fail, redis_down

        fail("baseline push", redis_down(settings.redis.url))
    except ModelmonError as exc:
        click.echo(f"modelmon baseline push: {exc}", err=True)
        sys.exit(2 if isinstance(exc, ConfigurationError) else 1)
    from modelmon.cli.rebuild import backup
    from modelmon.registry_log import baseline_record

    source = str(directory.resolve())
    backup(settings, [baseline_record(model_id, files, source)])  # issue 19: modelmon rebuild
    click.echo(
        f"stored baseline of {model_id} ({', '.join(sorted(files))}; registry version {version})"
    )
