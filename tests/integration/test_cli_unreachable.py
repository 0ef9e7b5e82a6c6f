"""Commands that need Kafka or Redis, with it down: one line naming what is down and the fix,
exit 1, within seconds (issue 17, item 4). The subprocess timeout is a generous safety bound,
not a timing assertion: a command that hung would fail the test instead of blocking the suite.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

MODELMON = str(Path(sys.executable).parent / "modelmon")
ROOT = Path(__file__).resolve().parents[2]
BOUND = 120  # seconds; the probes give up after ~5 s


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MODELMON, *args], env={**os.environ, **env}, cwd=ROOT, capture_output=True, text=True,
        timeout=BOUND, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def _one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "rdkafka" not in done.stderr and "Traceback" not in done.stderr
    return lines[0]


@pytest.mark.parametrize(
    "args",
    [
        ("alerts", "tail"),
        ("alerts", "tail", "--from-beginning", "--model", "m", "--json"),
    ],
)
def test_alerts_tail_without_kafka_exits_with_one_line(args: tuple[str, ...]) -> None:
    bootstrap = f"127.0.0.1:{_closed_port()}"
    line = _one_line(_run({"MODELMON_KAFKA__BOOTSTRAP_SERVERS": bootstrap}, *args))
    assert line == (
        f"modelmon alerts: Kafka at {bootstrap} is not reachable: start it with "
        "`modelmon stack up`, or set MODELMON_KAFKA__BOOTSTRAP_SERVERS to a running broker"
    )


@pytest.mark.parametrize(
    "args",
    [
        ("model", "register", "--config", "schemas/examples/model-config/full.json"),
        ("model", "list"),
        ("model", "show", "churn"),
    ],
)
def test_model_commands_without_redis_exit_with_one_line(args: tuple[str, ...]) -> None:
    port = _closed_port()
    url = f"redis://:hunter2@127.0.0.1:{port}/0"
    line = _one_line(_run({"MODELMON_REDIS__URL": url}, *args))
    assert line == (
        f"modelmon model: Redis at redis://127.0.0.1:{port}/0 is not reachable: start it with "
        "`modelmon stack up`, or set MODELMON_REDIS__URL to a running server"
    )
    assert "hunter2" not in line
