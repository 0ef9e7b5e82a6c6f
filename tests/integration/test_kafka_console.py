"""Kafka's own console producer and consumer against the stack (issue 22, item 5).

``modelmon stack kafka-console`` runs the Java tools from the jars deploy/local/kafka/pom.xml
fetches. The records the Java producer sends land on the partitions modelmon's producers pick
(both use murmur2), and the console consumer reads what modelmon produced, exactly.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from kafka_murmur2 import java_partition
from modelmon.adapters.kafka import make_producer
from modelmon.events import CaptureEvent
from modelmon.settings import Settings

from .test_archiver import consume_all
from .test_partitioning import model_ids, partitions_seen

ROOT = Path(__file__).resolve().parents[2]
MODELMON = str(Path(sys.executable).parent / "modelmon")
PARTITIONS = 6


@pytest.fixture(scope="module")
def console_env(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A state dir of its own (the tools' jars are fetched there) on the stack's broker."""
    host, port = settings.kafka.bootstrap_servers.split(",")[0].rsplit(":", 1)
    return {
        **os.environ,
        "MODELMON_STACK_STATE_DIR": str(tmp_path_factory.mktemp("console-stack")),
        "MODELMON_STACK_PROJECT_DIR": str(ROOT),
        "MODELMON_STACK_HOST": host,
        "MODELMON_STACK_KAFKA_PORT": port,
    }


def console(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MODELMON, "stack", "kafka-console", *args], env=env, input=stdin, cwd=ROOT,
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def test_the_command_line_is_kafkas_own(console_env: dict[str, str]) -> None:
    done = console(console_env, "--print-command", "consumer", "--topic", "t", "--from-beginning")
    assert done.returncode == 0, done.stderr
    line = done.stdout.strip()
    assert line.startswith("/") and " -cp " in line
    bootstrap = f"{console_env['MODELMON_STACK_HOST']}:{console_env['MODELMON_STACK_KAFKA_PORT']}"
    assert line.endswith(
        "org.apache.kafka.tools.consumer.ConsoleConsumer "
        f"--bootstrap-server {bootstrap} --topic t --from-beginning"
    )
    argv = shlex.split(line)
    libs = Path(argv[argv.index("-cp") + 1].rstrip("*"))
    pom = (ROOT / "deploy/local/kafka/pom.xml").read_text()
    version = pom.split("<kafka.version>")[1].split("<")[0]
    assert [p.name for p in libs.glob("kafka-tools-[0-9]*.jar")] == [f"kafka-tools-{version}.jar"]


def test_the_java_producer_and_modelmon_agree_on_partitions(
    settings: Settings, console_env: dict[str, str], new_topic: Callable[..., str],
    consumer_group: str, eventually: Callable[..., Any],
) -> None:  # fmt: skip
    topic, keys = new_topic(PARTITIONS), model_ids(60, seed=6)
    lines = "".join(f"{key}\t{i}\n" for i, key in enumerate(keys))
    parse = ["--reader-property", "parse.key=true", "--reader-property", "key.separator=\t"]
    done = console(console_env, "producer", "--topic", topic, *parse, stdin=lines)
    assert done.returncode == 0, done.stderr
    producer = make_producer(settings.kafka)
    for key in keys:
        producer.produce(topic, key=key.encode(), value=b"modelmon")
    assert producer.flush(30) == 0
    got = consume_all(settings, topic, consumer_group, 2 * len(keys), eventually)
    assert len(got) == 2 * len(keys)
    assert sorted(m.value() for m in got if m.value() != b"modelmon") == sorted(
        str(i).encode() for i in range(len(keys))
    )
    assert partitions_seen(got) == {
        k.encode(): {java_partition(k.encode(), PARTITIONS)} for k in keys
    }


def test_the_console_consumer_reads_modelmons_capture_events(
    settings: Settings, console_env: dict[str, str], new_topic: Callable[..., str],
    consumer_group: str,
) -> None:  # fmt: skip
    topic = new_topic(1)
    events = [
        CaptureEvent(model_id="churn", event_id=f"e{i}", event_time="2026-05-01T12:00:00Z",
                     inputs={"age": i, "state": "CA"})
        for i in range(25)
    ]  # fmt: skip
    producer = make_producer(settings.kafka)
    for event in events:
        producer.produce(topic, key=b"churn", value=event.model_dump_json().encode())
    assert producer.flush(30) == 0
    done = console(console_env, "consumer", "--topic", topic, "--group", consumer_group,
                   "--from-beginning", "--max-messages", str(len(events)),
                   "--formatter-property", "print.key=true",
                   "--formatter-property", "key.separator=|")  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == len(events)
    keys, values = zip(*(line.split("|", 1) for line in lines), strict=True)
    assert set(keys) == {"churn"}
    assert [CaptureEvent.model_validate(orjson.loads(v)) for v in values] == events
    assert f"Processed a total of {len(events)} messages" in done.stderr
