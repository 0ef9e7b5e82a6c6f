"""Smoke tests of the local stack's real services: Kafka, Redis and the AWS emulator."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from modelmon.adapters.kafka import make_consumer, make_producer
from modelmon.settings import Settings


def _consume(consumer: Consumer, count: int, eventually: Callable[..., Any]) -> list[Any]:
    got: list[Any] = []

    def enough() -> bool:
        for msg in consumer.consume(num_messages=100, timeout=0.5):
            assert msg.error() is None, msg.error()
            got.append(msg)
        return len(got) >= count

    eventually(enough, 60, f"{count} messages")
    return got


def test_kafka_group_consumes_and_commits_exact_offsets(
    settings: Settings,
    new_topic: Callable[..., str],
    consumer_group: str,
    eventually: Callable[..., Any],
) -> None:
    topic = new_topic(partitions=3)
    producer = make_producer(settings.kafka)
    for i in range(30):  # 10 messages on each partition, in order
        producer.produce(topic, key=f"m{i % 3}".encode(), value=f"v{i}".encode(), partition=i % 3)
    assert producer.flush(30) == 0

    consumer = make_consumer(settings.kafka, consumer_group)
    consumer.subscribe([topic])
    got = _consume(consumer, 30, eventually)
    for msg in got:  # modelmon consumers store offsets explicitly, after processing
        consumer.store_offsets(message=msg)
    consumer.commit(asynchronous=False)
    committed = consumer.committed([TopicPartition(topic, p) for p in range(3)], timeout=30)
    consumer.close()

    assert sorted(m.value() for m in got) == sorted(f"v{i}".encode() for i in range(30))
    for p in range(3):
        on_p = [m for m in got if m.partition() == p]
        assert [m.offset() for m in on_p] == list(range(10))
        assert [m.value() for m in on_p] == [f"v{i}".encode() for i in range(p, 30, 3)]
        assert {m.key() for m in on_p} == {f"m{p}".encode()}
    assert {tp.partition: tp.offset for tp in committed} == {0: 10, 1: 10, 2: 10}
    assert [_watermarks(settings, consumer_group, topic, p) for p in range(3)] == [(0, 10)] * 3


def _watermarks(settings: Settings, group: str, topic: str, partition: int) -> tuple[int, int]:
    probe = make_consumer(settings.kafka, f"{group}-probe")
    try:
        low, high = probe.get_watermark_offsets(TopicPartition(topic, partition), timeout=30)
        return int(low), int(high)
    finally:
        probe.close()


def test_kafka_group_resumes_from_committed_offsets(
    settings: Settings,
    new_topic: Callable[..., str],
    consumer_group: str,
    eventually: Callable[..., Any],
) -> None:
    topic = new_topic(partitions=1)
    producer = make_producer(settings.kafka)
    for i in range(10):
        producer.produce(topic, value=f"first-{i}".encode())
    assert producer.flush(30) == 0

    first = make_consumer(settings.kafka, consumer_group)
    first.subscribe([topic])
    assert [m.value() for m in _consume(first, 10, eventually)] == [
        f"first-{i}".encode() for i in range(10)
    ]
    first.commit(offsets=[TopicPartition(topic, 0, 10)], asynchronous=False)
    first.close()

    for i in range(5):
        producer.produce(topic, value=f"second-{i}".encode())
    assert producer.flush(30) == 0
    second = make_consumer(settings.kafka, consumer_group)
    second.subscribe([topic])
    got = _consume(second, 5, eventually)
    for msg in got:
        second.store_offsets(message=msg)
    second.commit(asynchronous=False)
    committed = second.committed([TopicPartition(topic, 0)], timeout=30)
    second.close()

    assert [m.value() for m in got] == [f"second-{i}".encode() for i in range(5)]
    assert [m.offset() for m in got] == [10, 11, 12, 13, 14]
    assert committed[0].offset == 15


# One script call: accept the write only if the stored offset equals the batch's first offset
# (the shape of the aggregator's fenced flush in DESIGN.md).
_FENCED_WRITE = """
local stored = redis.call('GET', KEYS[1]) or '0'
if stored ~= ARGV[1] then
  return {0, stored}
end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
return {1, ARGV[2]}
"""


def test_redis_script_writes_atomically_and_fences_stale_offsets(
    redis_client: Any, redis_prefix: str
) -> None:
    offset_key, state_key = f"{redis_prefix}:offset:0", f"{redis_prefix}:state:0"
    script = redis_client.register_script(_FENCED_WRITE)

    assert script(keys=[offset_key, state_key], args=["0", "100", "w1", b"\x00blob"]) == [
        1,
        b"100",
    ]
    assert script(keys=[offset_key, state_key], args=["0", "50", "w1", b"zombie"]) == [0, b"100"]
    assert script(keys=[offset_key, state_key], args=["100", "180", "w2", b"next"]) == [1, b"180"]

    assert redis_client.get(offset_key) == b"180"
    assert redis_client.hgetall(state_key) == {b"w1": b"\x00blob", b"w2": b"next"}


def test_s3_put_get_and_list(boto_client: Callable[[str], Any], s3_bucket: str) -> None:
    s3 = boto_client("s3")
    body = b'{"captureData": {}}\n' * 3
    s3.put_object(Bucket=s3_bucket, Key="capture/m1/2026/01/02/03/a.jsonl", Body=body)
    s3.put_object(Bucket=s3_bucket, Key="capture/m1/2026/01/02/04/b.jsonl", Body=b"x")

    assert (
        s3.get_object(Bucket=s3_bucket, Key="capture/m1/2026/01/02/03/a.jsonl")["Body"].read()
        == body
    )
    listed = s3.list_objects_v2(Bucket=s3_bucket, Prefix="capture/m1/")
    assert [o["Key"] for o in listed["Contents"]] == [
        "capture/m1/2026/01/02/03/a.jsonl",
        "capture/m1/2026/01/02/04/b.jsonl",
    ]


def test_cloudwatch_put_and_get_metric_data(boto_client: Callable[[str], Any]) -> None:
    cw = boto_client("cloudwatch")
    run = uuid.uuid4().hex[:8]
    namespace = f"modelmon/test-{run}"
    minute = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) - dt.timedelta(minutes=2)
    # Unique dimension values too: moto 5.2's get_metric_data ignores the namespace when a
    # query has dimensions, so a unique namespace alone does not isolate tests.
    dims = [{"Name": "Endpoint", "Value": f"m1-{run}"}, {"Name": "Feature", "Value": "age"}]
    cw.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {"MetricName": "feature_baseline_drift_age", "Dimensions": dims,
             "Timestamp": minute + dt.timedelta(seconds=s), "Value": v}
            for s, v in ((1, 0.25), (2, 0.5), (3, 1.25))
        ],
    )  # fmt: skip

    def query(stat: str) -> list[float]:
        resp = cw.get_metric_data(
            MetricDataQueries=[
                {
                    "Id": "q",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": namespace,
                            "MetricName": "feature_baseline_drift_age",
                            "Dimensions": dims,
                        },
                        "Period": 60,
                        "Stat": stat,
                    },
                }
            ],
            StartTime=minute - dt.timedelta(minutes=5),
            EndTime=minute + dt.timedelta(minutes=5),
        )
        return list(resp["MetricDataResults"][0]["Values"])

    assert query("Sum") == [2.0]
    assert query("Maximum") == [1.25]
    assert query("SampleCount") == [3.0]


def test_sns_delivers_to_sqs(sns_sqs: Any) -> None:
    sns_sqs.sns.publish(
        TopicArn=sns_sqs.topic_arn, Subject="drift on m1", Message='{"model_id": "m1"}'
    )
    [envelope] = sns_sqs.received(1)

    assert envelope["Type"] == "Notification"
    assert envelope["TopicArn"] == sns_sqs.topic_arn
    assert envelope["Subject"] == "drift on m1"
    assert envelope["Message"] == '{"model_id": "m1"}'


# --- the stack command itself, and the fixtures' behaviour when a service is down -------------

ROOT = Path(__file__).resolve().parents[2]
MODELMON = str(Path(sys.executable).parent / "modelmon")


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _stack(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MODELMON, "stack", *args], env=env, cwd=ROOT, capture_output=True, text=True,
        timeout=600, check=False,
    )  # fmt: skip


def test_a_second_stack_comes_up_twice_and_goes_down_twice(tmp_path: Path) -> None:
    """A separate stack (own ports, own state dir): up is idempotent, down stops only it."""
    kafka_port, controller_port, redis_port, moto_port = _free_ports(4)
    env = {
        **os.environ,
        "MODELMON_STACK_STATE_DIR": str(tmp_path / "stack"),
        "MODELMON_STACK_KAFKA_PORT": str(kafka_port),
        "MODELMON_STACK_KAFKA_CONTROLLER_PORT": str(controller_port),
        "MODELMON_STACK_REDIS_PORT": str(redis_port),
        "MODELMON_STACK_MOTO_PORT": str(moto_port),
    }
    pom = (ROOT / "deploy/local/kafka/pom.xml").read_text()
    kafka_version = pom.split("<kafka.version>")[1].split("<")[0]
    try:
        first = _stack(env, "up", "--capture-partitions", "2")
        assert first.returncode == 0, first.stdout + first.stderr
        second = _stack(env, "up")
        assert second.returncode == 0, second.stdout + second.stderr
        assert second.stdout.count("already running") == 3
        status = _stack(env, "status")
        assert status.returncode == 0, status.stdout + status.stderr
        assert f"Apache Kafka {kafka_version} (commit " in status.stdout
        assert f"127.0.0.1:{kafka_port}" in status.stdout
        assert "topic  modelmon.capture.v1 (2 partitions)" in status.stdout
        exports = _stack(env, "env").stdout
        assert f"export MODELMON_KAFKA__BOOTSTRAP_SERVERS=127.0.0.1:{kafka_port}" in exports
        assert f"export MODELMON_REDIS__URL=redis://127.0.0.1:{redis_port}/0" in exports
        assert f"export AWS_ENDPOINT_URL=http://127.0.0.1:{moto_port}" in exports
    finally:
        down = _stack(env, "down")
    assert down.returncode == 0, down.stdout + down.stderr
    assert down.stdout.count("stopped") == 3
    assert _stack(env, "down").stdout.count("not running") == 3
    assert _stack(env, "status").returncode == 1


def test_fixtures_fail_and_never_skip_when_a_service_is_down() -> None:
    [dead_port] = _free_ports(1)
    env = {**os.environ, "MODELMON_REDIS__URL": f"redis://127.0.0.1:{dead_port}/0"}
    test = "test_redis_script_writes_atomically_and_fences_stale_offsets"
    target = f"{Path(__file__).relative_to(ROOT)}::{test}"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", target],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout
    assert "the local stack is not answering" in done.stdout
    assert f"Redis at redis://127.0.0.1:{dead_port}/0" in done.stdout
    assert "1 error" in done.stdout
    assert "skipped" not in done.stdout
