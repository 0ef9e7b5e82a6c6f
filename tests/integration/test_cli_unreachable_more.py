"""More commands that need Redis or Kafka, with it down: one line naming what is down and the
fix, exit 1, no hang (issue 17). The subprocess timeout is a safety bound, not a timing test."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import modelmon as mm

MODELMON = str(Path(sys.executable).parent / "modelmon")
BOUND = 120


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _one_line(env: dict[str, str], cwd: Path, *args: str) -> str:
    done = subprocess.run(
        [MODELMON, *args], env={**os.environ, **env}, cwd=cwd, capture_output=True, text=True,
        timeout=BOUND, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "rdkafka" not in done.stderr and "Traceback" not in done.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("baseline push", ("baseline", "push", "--model", "m", "base")),
        ("alarms", ("alarms", "create", "--model", "m", "--sns-topic", "arn:x", "--dry-run")),
    ],
)
def test_redis_commands_say_redis_is_down(
    command: str, args: tuple[str, ...], tmp_path: Path
) -> None:
    mm.baseline(pd.DataFrame({"x": [1.0, 2.0, 3.0]})).save(tmp_path / "base")
    port = _closed_port()
    line = _one_line({"MODELMON_REDIS__URL": f"redis://127.0.0.1:{port}/0"}, tmp_path, *args)
    assert line == (
        f"modelmon {command}: Redis at redis://127.0.0.1:{port}/0 is not reachable: start it "
        "with `modelmon stack up`, or set MODELMON_REDIS__URL to a running server"
    )


def test_demo_on_a_stack_that_is_not_there_says_kafka_is_down(tmp_path: Path) -> None:
    bootstrap = f"127.0.0.1:{_closed_port()}"
    env = {"MODELMON_KAFKA__BOOTSTRAP_SERVERS": bootstrap}
    line = _one_line(env, tmp_path, "demo", "run", "--no-stack", "--runs-dir", str(tmp_path))
    assert line == (
        f"modelmon demo: Kafka at {bootstrap} is not reachable: start it with "
        "`modelmon stack up`, or set MODELMON_KAFKA__BOOTSTRAP_SERVERS to a running broker"
    )
