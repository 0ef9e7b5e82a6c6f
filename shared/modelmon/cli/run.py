"""``modelmon run NAME``: start one service from ``services/NAME/``.

A service package exposes a click command named ``command``; hyphens in the name map to
underscores in the package (``capture-proxy`` -> ``modelmon_services.capture_proxy``).
"""

from __future__ import annotations

import importlib
import pkgutil

import click


def _service_names() -> list[str]:
    package = importlib.import_module("modelmon_services")
    return sorted(
        m.name.replace("_", "-") for m in pkgutil.iter_modules(package.__path__) if m.ispkg
    )


class ServiceGroup(click.Group):
    """Lists the service packages; loads one only when it is run."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return _service_names()

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in _service_names():
            return None
        module = importlib.import_module(f"modelmon_services.{cmd_name.replace('-', '_')}")
        command = getattr(module, "command", None)
        if not isinstance(command, click.Command):
            raise click.ClickException(f"service {cmd_name!r} has no `command` to run")
        return command


@click.group(cls=ServiceGroup)
def run() -> None:
    """Run one modelmon service in the foreground (Ctrl-C or SIGTERM stops it cleanly)."""
