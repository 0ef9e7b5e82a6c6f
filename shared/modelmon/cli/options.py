"""Options the batch commands share, as click decorators: one spelling, type and default
each (``--data``, ``--out``, ``--config``, ``--baseline``, times, the input-file options);
each command says in its own ``help`` what the option means to it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

FORMAT_CHOICES = ("auto", "csv", "jsonl", "parquet", "capture")

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


class IsoTime(click.ParamType):  # type: ignore[type-arg]
    """An ISO-8601 time; without a zone it is UTC."""

    name = "ISO-8601 time"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not an ISO-8601 time (e.g. 2026-01-01T00:00:00Z)", param, ctx)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def data_option(help: str, name: str = "--data", dest: str = "data") -> Decorator:
    """``--data`` (or ``name``; repeatable, required): files, folders or s3:// prefixes to
    read, as a tuple in ``dest``."""
    return click.option(name, dest, multiple=True, required=True, help=help)


def out_option(help: str, *, file: bool = False) -> Decorator:
    """``--out``: a directory or s3:// prefix to write to (required), or with ``file`` one
    local file (optional: the command names a default)."""
    if file:
        path = click.Path(dir_okay=False, path_type=Path)
        return click.option("--out", "out", type=path, default=None, help=help)
    return click.option("--out", "out", required=True, help=help)


def config_option(help: str, *, required: bool = False) -> Decorator:
    """``--config`` -> ``config_path``: a config file (a Path; a required one must exist)."""
    path = click.Path(exists=required, dir_okay=False, path_type=Path)
    return click.option("--config", "config_path", type=path, required=required, help=help)


def baseline_option(help: str, *, required: bool = False) -> Decorator:
    """``--baseline`` -> ``baseline_dir``: a baseline directory or s3:// prefix."""
    return click.option("--baseline", "baseline_dir", required=required, help=help)


def time_option(name: str, dest: str, help: str) -> Decorator:
    """An optional ISO-8601 time (UTC without a zone) as ``dest``."""
    return click.option(name, dest, type=IsoTime(), default=None, help=help)


def input_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by every command that reads data files."""
    options: list[Decorator] = [
        click.option("--format", "data_format", type=click.Choice(FORMAT_CHOICES),
                     default="auto", show_default=True,
                     help="Input format; auto: by file suffix, capture records detected."),
        click.option("--header/--no-header", default=None,
                     help="Whether CSV files start with a header (default: guess)."),
        time_option("--start", "start", "Capture records: only events at or after this time."),
        time_option("--end", "end", "Capture records: only events before this time."),
        click.option("--quiet", "-q", is_flag=True, help="No progress on stderr."),
    ]  # fmt: skip
    for option in reversed(options):
        func = option(func)
    return func
