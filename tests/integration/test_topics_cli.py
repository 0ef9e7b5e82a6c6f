"""``modelmon topics create`` on the real Kafka: creates what is missing with the stated
partitions, leaves what exists, and with Kafka down says so in one line."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

MODELMON = str(Path(sys.executable).parent / "modelmon")
BOUND = 120  # a hang fails the test instead of blocking the suite (not a timing assertion)


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MODELMON, *args], env={**os.environ, **env}, capture_output=True, text=True,
        timeout=BOUND, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def test_topics_create_makes_the_missing_topics_once(kafka_admin: Any) -> None:
    ns = f"t17-{uuid.uuid4().hex[:8]}"
    names = {k: f"{ns}.{k}.v1" for k in ("capture", "alerts", "deadletter", "labels")}
    env = {f"MODELMON_TOPICS__{k.upper()}": v for k, v in names.items()}
    env["MODELMON_TOPICS__ALERTS_PARTITIONS"] = "2"
    try:
        first = _run(env, "topics", "create", "--capture-partitions", "4")
        assert first.returncode == 0, first.stderr
        lines = first.stdout.splitlines()
        assert [line.split()[:3] for line in lines] == [
            ["created", names["capture"], "4"], ["created", names["alerts"], "2"],
            ["created", names["deadletter"], "3"], ["created", names["labels"], "6"],
        ]  # fmt: skip
        assert "at most this many aggregators" in lines[0]
        meta = kafka_admin.list_topics(timeout=10).topics
        assert len(meta[names["capture"]].partitions) == 4
        again = _run(env, "topics", "create", "--capture-partitions", "8")
        assert again.returncode == 0, again.stderr
        assert [line.split()[0] for line in again.stdout.splitlines()] == ["exists"] * 4
        assert "asked 8: partitions are never removed" in again.stdout.splitlines()[0]
    finally:
        futures = kafka_admin.delete_topics(list(names.values()), operation_timeout=30)
        for future in futures.values():
            with contextlib.suppress(Exception):  # a topic that was never created
                future.result(30)


def test_topics_create_without_kafka_is_one_line() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = _run({"MODELMON_KAFKA__BOOTSTRAP_SERVERS": f"127.0.0.1:{port}"}, "topics", "create")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        f"modelmon topics: Kafka at 127.0.0.1:{port} is not reachable: start it with "
        "`modelmon stack up`, or set MODELMON_KAFKA__BOOTSTRAP_SERVERS to a running broker"
    ]
