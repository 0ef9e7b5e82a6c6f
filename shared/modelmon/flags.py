"""Command-line flags generated from a section of ``Settings``: one spelling, one default.

``options_of("aggregator")`` turns each plain field of ``AggregatorSettings`` into a click
option (``flush_seconds`` -> ``--flush-seconds``) whose default is *unset*, so that an absent
flag leaves the setting (environment or field default) alone. ``apply_flags`` validates the
given flags against the section's model and returns new ``Settings``; an invalid value names
the flag. Secrets, lists and maps are settings only (they do not belong in ``ps`` output).
"""

from __future__ import annotations

import types
import typing
from typing import Any

import click
from pydantic import BaseModel, SecretStr, ValidationError
from pydantic.fields import FieldInfo

from modelmon.settings import Settings

_TYPES: dict[Any, click.ParamType[Any]] = {
    str: click.STRING,
    int: click.INT,
    float: click.FLOAT,
    bool: click.BOOL,
}


def section_model(section: str) -> type[BaseModel]:
    """The model of ``Settings.<section>``."""
    model = Settings.model_fields[section].annotation
    assert isinstance(model, type) and issubclass(model, BaseModel), section
    return model


def env_name(section: str, field: str) -> str:
    """The environment variable of a setting: ``MODELMON_<SECTION>__<FIELD>``."""
    return f"MODELMON_{section.upper()}__{field.upper()}"


def _plain_type(field: FieldInfo) -> Any:
    """``int`` for ``int`` or ``int | None``; None for anything a flag cannot carry."""
    annotation = field.annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = args[0] if len(args) == 1 else None
    if annotation is SecretStr:
        return None
    return annotation if annotation in _TYPES else None


def _help(section: str, name: str, field: FieldInfo) -> str:
    default = field.get_default(call_default_factory=True)
    shown = "" if default is None else f" [default: {default}]"
    return f"{field.description or name.replace('_', ' ')}{shown} ({env_name(section, name)})"


def options_of(section: str, prefix: str = "") -> list[click.Option]:
    """One click option per plain field of ``Settings.<section>``."""
    options = []
    for name, field in section_model(section).model_fields.items():
        kind = _plain_type(field)
        if kind is None:
            continue
        flag = "--" + prefix + name.replace("_", "-")
        decls = [f"{flag}/--no-{flag[2:]}" if kind is bool else flag, f"{section}__{name}"]
        options.append(
            click.Option(decls, type=_TYPES[kind], default=None, help=_help(section, name, field))
        )
    return options


def load_settings() -> Settings:
    """``Settings()`` from the environment; a bad value is a message naming its variable."""
    try:
        return Settings()
    except ValidationError as exc:
        lines = [
            f"MODELMON_{'__'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in exc.errors()
        ]
        raise click.UsageError("invalid settings:\n  " + "\n  ".join(lines)) from exc


def apply_flags(settings: Settings, values: dict[str, Any]) -> Settings:
    """``settings`` with the flags given (``{"aggregator__group": "g", ...}``) applied."""
    given: dict[str, dict[str, Any]] = {}
    for key, value in values.items():
        if value is not None:
            section, _, name = key.partition("__")
            given.setdefault(section, {})[name] = value
    update = {}
    for section, fields in given.items():
        current = getattr(settings, section)
        try:
            update[section] = type(current).model_validate({**dict(current), **fields})
        except ValidationError as exc:
            error = exc.errors()[0]
            name = str(error["loc"][0]) if error["loc"] else "?"
            raise click.BadParameter(error["msg"], param_hint=_flag_of(section, name)) from exc
    return settings.model_copy(update=update)


def _flag_of(section: str, name: str) -> str:
    """The flag of a setting in the running command, else its dotted name."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        for param in ctx.command.params:
            if param.name == f"{section}__{name}" and param.opts:
                return param.opts[0]
    return f"{section}.{name}"
