"""The one service runtime and the one configuration model: flags generated from settings,
every service's command from the same fields, the admin server with the process collectors,
and a graceful stop. No Kafka, no Redis: the service here is a fake loop."""

from __future__ import annotations

import importlib
import logging
import signal
import socket
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from modelmon.errors import ConfigurationError
from modelmon.flags import apply_flags, env_name, options_of, section_model
from modelmon.runtime import Runtime, metrics_registry, run_service, service_command
from modelmon.service import Health
from modelmon.settings import ADMIN_PORTS, Settings

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("aggregator", "detector", "alerting", "archiver", "ingest", "capture-proxy")


@pytest.fixture(autouse=True)
def _keep_process_state() -> Iterator[None]:
    """run_service installs SIGTERM/SIGINT handlers and configures logging: undo both."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)
    root.handlers[:], root.level = handlers, level


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _command(service: str) -> click.Command:
    module = importlib.import_module(f"modelmon_services.{service.replace('-', '_')}")
    assert isinstance(module.command, click.Command)
    return module.command


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_is_a_section_of_settings_and_its_flags_are_its_fields(
    service: str,
) -> None:
    section = service.replace("-", "_")
    model = section_model(section)
    params = {p.name: p for p in _command(service).params if isinstance(p, click.Option)}
    for name in model.model_fields:
        option = params.get(f"{section}__{name}")
        if option is None:  # secrets, lists and maps are settings only
            assert "SecretStr" in str(model.model_fields[name].annotation), name
            continue
        assert option.default is None, "an absent flag must leave the setting alone"
        assert env_name(section, name) in (option.help or "")
    assert all(p.envvar is None for p in _command(service).params), "one reader: Settings"
    admin = {"admin__host", "admin__port"} <= set(params)
    assert admin == (service in ADMIN_PORTS)


def test_a_flag_overrides_the_environment_and_an_absent_one_does_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MODELMON_AGGREGATOR__GROUP", "from-env")
    monkeypatch.setenv("MODELMON_AGGREGATOR__BATCH_SIZE", "7")
    settings = apply_flags(
        Settings(), {"aggregator__group": "from-flag", "aggregator__batch_size": None}
    )
    assert settings.aggregator.group == "from-flag"
    assert settings.aggregator.batch_size == 7
    assert apply_flags(Settings(), {}).aggregator.group == "from-env"


@given(st.integers(max_value=0))
def test_an_invalid_flag_value_names_the_flag(attempts: int) -> None:
    command = _command("alerting")
    with click.Context(command), pytest.raises(click.BadParameter) as raised:
        apply_flags(Settings(), {"alerting__max_attempts": attempts})
    assert raised.value.param_hint == "--max-attempts"


@dataclass
class FakeService:
    """A loop that answers until the stop flag is set (as SIGTERM would)."""

    rt: Runtime
    health: Health = field(default_factory=Health)

    def run(self) -> None:
        self.health.set_ready(True)
        self.rt.stop.set()


def test_run_service_serves_admin_with_process_collectors_and_stops_gracefully() -> None:
    built: list[FakeService] = []
    answers: list[bytes] = []
    port = _free_port()

    class Probing(FakeService):
        def run(self) -> None:
            self.health.set_ready(True)
            base = f"http://127.0.0.1:{port}"
            for path in ("/readyz", "/metrics"):
                with urllib.request.urlopen(base + path, timeout=5) as resp:
                    answers.append(resp.read())
            self.rt.stop.set()

    def build(rt: Runtime) -> Probing:
        built.append(Probing(rt))
        return built[0]

    settings = Settings(admin={"host": "127.0.0.1", "port": port}, log_json=False)
    run_service("aggregator", settings, build)
    assert answers[0] == b"ok\n"
    metrics = answers[1].decode()
    assert "process_cpu_seconds_total" in metrics or "python_info" in metrics
    assert "python_gc_objects_collected_total" in metrics
    assert built[0].rt.stop.is_set()
    assert not built[0].health.ready and built[0].health.detail == "stopping"


def test_a_configuration_error_at_start_up_is_a_clean_message() -> None:
    def build(rt: Runtime) -> FakeService:
        raise ConfigurationError("set --upstream")

    with pytest.raises(click.ClickException, match="example: set --upstream"):
        run_service("example", Settings(log_json=False), build, admin_server=False)


def test_metrics_registry_has_the_process_platform_and_gc_collectors() -> None:
    names = {m.name for m in metrics_registry().collect()}
    assert {"python_info", "python_gc_objects_collected"} <= names
    assert not any(n.startswith("modelmon_") for n in names)


def test_an_invalid_variable_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELMON_AGGREGATOR__BATCH_SIZE", "many")
    result = CliRunner().invoke(_command("aggregator"), [])
    assert result.exit_code == 2
    assert "MODELMON_AGGREGATOR__BATCH_SIZE" in result.output


def test_the_capture_proxy_without_upstream_says_which_setting_to_set() -> None:
    result = CliRunner().invoke(_command("capture-proxy"), ["--model", "m", "--admin-port", "0"])
    assert result.exit_code == 1
    assert "MODELMON_CAPTURE_PROXY__UPSTREAM" in result.output


def test_service_command_builds_flags_for_a_new_section() -> None:
    command = service_command("detector", lambda rt: FakeService(rt), help="x")
    opts = {o for p in command.params for o in p.opts}
    assert {"--interval", "--out", "--admin-host", "--admin-port"} <= opts
    assert all(isinstance(section_model(s), type) for s in ("admin", "detector"))
    assert issubclass(section_model("detector"), BaseModel)
    assert [o.opts[0] for o in options_of("admin", prefix="admin-")] == [
        "--admin-host",
        "--admin-port",
    ]


def test_the_configuration_page_is_current() -> None:
    """``make docs`` was run after the last settings change (defaults as without environment)."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MODELMON_"))}
    script = ROOT / "scripts" / "gen_config_docs.py"
    argv = [sys.executable, str(script), "--check"]
    done = subprocess.run(argv, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stdout + done.stderr


def test_admin_server_is_gone_after_the_service_stops() -> None:
    port = _free_port()
    settings = Settings(admin={"host": "127.0.0.1", "port": port}, log_json=False)
    run_service("aggregator", settings, FakeService)
    assert not [t for t in threading.enumerate() if t.name == "admin-http" and t.is_alive()]
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # released
