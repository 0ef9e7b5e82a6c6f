"""Packaging contracts: every package ships, and the console script lists its commands."""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
import tomllib
from pathlib import Path

import click

from modelmon.cli import COMMANDS

ROOT = Path(__file__).resolve().parents[2]
ROOTS = {"modelmon": ROOT / "shared" / "modelmon", "modelmon_services": ROOT / "services"}


def _pyproject() -> dict[str, object]:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        return tomllib.load(handle)


def _package_dirs() -> dict[str, Path]:
    """Dotted name -> directory, for every directory holding Python files."""
    found: dict[str, Path] = {}
    for top, base in ROOTS.items():
        for init in [base / "__init__.py", *base.rglob("*.py")]:
            directory = init.parent
            if "__pycache__" in directory.parts:
                continue
            rel = directory.relative_to(base).parts
            found[".".join((top, *rel))] = directory
    return found


def test_every_package_directory_is_listed_in_pyproject() -> None:
    tool = _pyproject()["tool"]
    assert isinstance(tool, dict)
    listed = set(tool["setuptools"]["packages"])
    missing = sorted(set(_package_dirs()) - listed)
    assert missing == [], f"add these to [tool.setuptools] packages in pyproject.toml: {missing}"


def test_every_listed_package_exists() -> None:
    tool = _pyproject()["tool"]
    assert isinstance(tool, dict)
    listed = set(tool["setuptools"]["packages"])
    assert sorted(listed - set(_package_dirs())) == []


def test_every_package_directory_has_an_init() -> None:
    no_init = sorted(
        str(d.relative_to(ROOT))
        for d in _package_dirs().values()
        if not (d / "__init__.py").is_file()
    )
    assert no_init == [], f"these directories hold Python files but no __init__.py: {no_init}"


def test_help_lists_every_command_without_importing_heavy_modules() -> None:
    probe = (
        "import sys\n"
        "sys.argv = ['modelmon', '--help']\n"  # as the console script sees it
        "from modelmon.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        "heavy = {'numpy', 'boto3', 'confluent_kafka', 'redis', 'datasketches'}\n"
        "print('LOADED', sorted(heavy & set(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    for name in COMMANDS:
        assert f"  {name} " in done.stdout, f"`modelmon --help` does not list {name}"
    assert "LOADED []" in done.stdout


def test_console_script_help_lists_commands() -> None:
    script = Path(sys.executable).parent / "modelmon"
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=True)
    listed = [line.split()[0] for line in done.stdout.split("Commands:")[1].splitlines() if line]
    assert listed == sorted(COMMANDS)


def test_stack_command_has_its_subcommands() -> None:
    from modelmon.cli.stack import stack

    assert isinstance(stack, click.Group)
    assert sorted(stack.commands) == ["down", "env", "kafka-console", "status", "up"]


def test_commands_that_exist_are_click_commands() -> None:
    for name, (module, attr, _help) in COMMANDS.items():
        if importlib.util.find_spec(module) is None:
            continue  # planned, not written yet
        command = getattr(importlib.import_module(module), attr, None)
        assert isinstance(command, click.Command), f"{module}:{attr} ({name}) is not a command"
