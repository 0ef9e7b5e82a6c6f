"""The archiver as a real process on the real stack: layout, record format, crashes, bad input."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer

from modelmon.archive.layout import parse_key
from modelmon.archive.reader import ArchiveQuery, read_events, read_records
from modelmon.archive.store import LocalStore, S3Store
from modelmon.capture import CaptureClient
from modelmon.events import CaptureEvent, DeadLetterRecord
from modelmon.redaction import hash_value
from modelmon.settings import Settings

from .test_aggregator_support import IN_ORDER

ROOT = Path(__file__).resolve().parents[2]
MODELMON = str(ROOT / ".venv" / "bin" / "modelmon")
REFERENCE = ROOT / "tests" / "fixtures" / "sagemaker_reference"
T0 = datetime(2026, 3, 1, 10, 59, 30, tzinfo=UTC)


class ArchiverProcess:
    """``modelmon run archiver`` as a subprocess with its own topic, group and destination."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = {**os.environ, **env}
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ArchiverProcess:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [MODELMON, "run", "archiver"], env=self.env, stdout=log, stderr=log
        )
        return self

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(60)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@pytest.fixture
def archiver(tmp_path: Path) -> Iterator[Callable[..., ArchiverProcess]]:
    procs: list[ArchiverProcess] = []

    def make(**env: str) -> ArchiverProcess:
        p = ArchiverProcess(
            {"MODELMON_ADMIN__PORT": "0", "MODELMON_LOG_LEVEL": "INFO", **env},
            tmp_path / "archiver.log",
        )
        procs.append(p)
        return p.start()

    yield make
    for p in procs:
        if p.running():
            p.kill()


#: Consumer session of 6 s (the broker's minimum) instead of 45 s, as in test_exactly_once.
SHORT_SESSION = {
    "MODELMON_KAFKA__EXTRA": '{"session.timeout.ms": "6000", "heartbeat.interval.ms": "1000"}'
}


def archiver_env(
    topic: str, dl_topic: str, group: str, destination: str, **extra: str
) -> dict[str, str]:
    return {
        "MODELMON_TOPICS__CAPTURE": topic,
        "MODELMON_TOPICS__DEADLETTER": dl_topic,
        "MODELMON_ARCHIVER__GROUP_ID": group,
        "MODELMON_ARCHIVER__DESTINATION": destination,
        "MODELMON_ARCHIVER__ROLL_SECONDS": "0.5",
        **extra,
    }


def topic_settings(settings: Settings, topic: str, **capture: Any) -> Settings:
    return settings.model_copy(
        update={
            "topics": settings.topics.model_copy(update={"capture": topic}),
            "capture": type(settings.capture).model_validate(
                {**settings.capture.model_dump(), **capture}
            ),
        }
    )


def s3_records(
    boto_client: Callable[[str], Any], bucket: str, prefix: str, model: str
) -> list[tuple[str, dict[str, Any]]]:
    store = S3Store(boto_client("s3"), bucket)
    return list(read_records(store, prefix, ArchiveQuery(model=model)))


def consume_all(
    settings: Settings, topic: str, group: str, count: int, eventually: Callable[..., Any]
) -> list[Any]:
    from modelmon.adapters.kafka import make_consumer

    consumer: Consumer = make_consumer(settings.kafka, group)
    consumer.subscribe([topic])
    got: list[Any] = []

    def enough() -> bool:
        got.extend(m for m in consumer.consume(500, 0.5) if m.error() is None)
        return len(got) >= count

    try:
        eventually(enough, 120, f"{count} messages on {topic}")
        got.extend(m for m in consumer.consume(500, 1.0) if m.error() is None)
    finally:
        consumer.close()
    return got


def sdk_events(client: CaptureClient, n: int) -> list[str]:
    ids = []
    for i in range(n):
        event_id = client.capture(
            {"age": 20 + i % 50, "income": 1000.5 * (i % 7), "state": ["CA", "NY", "TX"][i % 3]},
            {"prediction": i % 2, "probability": (i % 100) / 100},
            inference_id=f"inf-{i}",
            event_time=T0 + timedelta(seconds=i),
            latency_ms=1.5,
        )
        assert event_id is not None
        ids.append(event_id)
    assert client.flush(30) == 0
    return ids


def test_sdk_events_are_archived_once_in_sagemaker_layout(
    settings: Settings, new_topic: Callable[..., str], consumer_group: str, s3_bucket: str,
    boto_client: Callable[[str], Any], archiver: Callable[..., ArchiverProcess],
    eventually: Callable[..., Any],
) -> None:  # fmt: skip
    topic, dl_topic = new_topic(3), new_topic(1)
    n = 120
    with CaptureClient("churn-model", settings=topic_settings(settings, topic)) as client:
        ids = sdk_events(client, n)
    kms = "arn:aws:kms:us-east-1:123456789012:key/0b7bfd33-c8a7-4adf-a09a-98fd0af79974"
    proc = archiver(**archiver_env(topic, dl_topic, consumer_group, f"s3://{s3_bucket}/datacapture",
                                   MODELMON_ARCHIVER__KMS_KEY_ID=kms))  # fmt: skip
    eventually(
        lambda: len(s3_records(boto_client, s3_bucket, "datacapture", "churn-model")) >= n,
        120,
        "archive",
    )
    assert proc.stop() == 0
    records = s3_records(boto_client, s3_bucket, "datacapture", "churn-model")
    assert sorted(r["eventMetadata"]["eventId"] for _, r in records) == sorted(ids)
    reference = json.loads((REFERENCE / "churn_capture_sample.jsonl").read_text().splitlines()[0])
    for key, record in records:
        parsed = parse_key(key)
        assert parsed is not None and key.startswith(
            "datacapture/churn-model/AllTraffic/2026/03/01/"
        )
        event_time = datetime.fromisoformat(record["eventMetadata"]["inferenceTime"])
        assert parsed.hour == event_time.replace(minute=0, second=0, microsecond=0)
        assert set(record) == set(reference)
        assert set(record["captureData"]) == set(reference["captureData"])
        for part in ("endpointInput", "endpointOutput"):
            assert set(record["captureData"][part]) == set(reference["captureData"][part])
        assert {"eventId", "inferenceTime"} <= set(record["eventMetadata"])
        assert record["eventVersion"] == "0"
        assert record["captureData"]["endpointInput"]["encoding"] == "JSON"
    # the first file of each hour is named after its first event: MM-SS-mmm-uuid.jsonl
    names = sorted({k.rsplit("/", 1)[1] for k, _ in records if "/2026/03/01/10/" in k})
    assert names[0].startswith("59-30-000-") and names[0].endswith(".jsonl")
    assert {k.split("/")[6] for k, _ in records} == {"10", "11"}
    head = boto_client("s3").head_object(Bucket=s3_bucket, Key=records[0][0])
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", kms)
    # content equal, by event id: read back through the reader
    store = S3Store(boto_client("s3"), s3_bucket)
    back = {
        e.event_id: e for e in read_events(store, "datacapture", ArchiveQuery(model="churn-model"))
    }
    assert len(back) == n
    for i, event_id in enumerate(ids):  # every event's content, by event id
        assert back[event_id].inputs == {
            "age": 20 + i % 50, "income": 1000.5 * (i % 7), "state": ["CA", "NY", "TX"][i % 3]
        }  # fmt: skip
        assert back[event_id].outputs.prediction == i % 2
        assert back[event_id].inference_id == f"inf-{i}"
    sample = back[ids[7]]
    assert sample.inputs == {"age": 27, "income": 0.0, "state": "NY"}
    assert (sample.inference_id, sample.latency_ms, sample.source) == ("inf-7", 1.5, "sdk")
    assert sample.outputs.prediction == 1 and sample.outputs.probability == 0.07
    assert sample.event_time == T0 + timedelta(seconds=7)


def test_archiver_survives_sigkill_without_losing_events(
    settings: Settings, new_topic: Callable[..., str], consumer_group: str, s3_bucket: str,
    boto_client: Callable[[str], Any], archiver: Callable[..., ArchiverProcess],
    eventually: Callable[..., Any],
) -> None:  # fmt: skip
    topic, dl_topic = new_topic(3), new_topic(1)
    # a short session: after each kill the group hands the partitions on in seconds (the
    # default 45 s session would be waited out three times)
    env = archiver_env(topic, dl_topic, consumer_group, f"s3://{s3_bucket}/cap",
                       MODELMON_ARCHIVER__ROLL_BYTES="20000", **SHORT_SESSION)  # fmt: skip
    ids: list[str] = []

    def archived() -> set[str]:
        records = s3_records(boto_client, s3_bucket, "cap", "kill-model")
        return {r["eventMetadata"]["eventId"] for _, r in records}

    client = CaptureClient("kill-model", settings=topic_settings(settings, topic))
    for _ in range(3):  # each round: new traffic, the archiver starts, writes some, is killed
        chunk = sdk_events(client, 1000)
        ids += chunk
        proc = archiver(**env)
        eventually(lambda c=set(chunk): archived() & c, 120, "part of the new traffic archived")
        proc.kill()
    ids += sdk_events(client, 500)
    client.close()
    proc = archiver(**env)
    eventually(lambda: len(archived()) >= len(ids), 180, "all events archived")
    assert proc.stop() == 0
    records = s3_records(boto_client, s3_bucket, "cap", "kill-model")
    counts = Counter(r["eventMetadata"]["eventId"] for _, r in records)
    assert set(counts) == set(ids)  # nothing lost
    # duplicates would be identifiable by event id; files are keyed by their first offset,
    # so a replay after a kill overwrites the same objects instead of adding copies
    assert sum(c - 1 for c in counts.values()) == 0


def _object_count(boto_client: Callable[[str], Any], bucket: str) -> int:
    resp = boto_client("s3").list_objects_v2(Bucket=bucket)
    return int(resp.get("KeyCount", 0))


def test_bad_messages_go_to_dead_letter_and_the_rest_is_archived(
    settings: Settings, new_topic: Callable[..., str], consumer_group: str, tmp_path: Path,
    archiver: Callable[..., ArchiverProcess], eventually: Callable[..., Any],
) -> None:  # fmt: skip
    topic, dl_topic = new_topic(1), new_topic(1)
    good = CaptureEvent(model_id="m1", event_time=T0, inputs={"x": 1}).model_dump_json()
    wrong_type = json.dumps(
        {"model_id": "m1", "event_time": T0.isoformat(), "inputs": {"x": [1, 2]}}
    )
    oversized = json.dumps(
        {"model_id": "m1", "event_time": T0.isoformat(), "inputs": {"x": "a" * 5000}}
    )
    producer = Producer(settings.kafka.librdkafka_config() | IN_ORDER)
    for value in (b"{not json", wrong_type.encode(), oversized.encode(), good.encode()):
        producer.produce(topic, value=value, key=b"m1")
    assert producer.flush(30) == 0
    dest = tmp_path / "archive"
    proc = archiver(**archiver_env(topic, dl_topic, consumer_group, str(dest),
                                   MODELMON_CAPTURE__MAX_PAYLOAD_BYTES="4096"))  # fmt: skip
    dead = consume_all(settings, dl_topic, consumer_group + "-dl", 3, eventually)
    eventually(lambda: list(LocalStore(dest).list("m1")), 60, "archive file")
    assert proc.stop() == 0
    records = [DeadLetterRecord.model_validate_json(m.value()) for m in dead]
    assert [r.source_offset for r in records] == [0, 1, 2]
    assert [base64.b64decode(r.original) for r in records] == [
        b"{not json",
        wrong_type.encode(),
        oversized.encode(),
    ]
    assert all(r.service == "archiver" and r.error_type == "InvalidEventError" for r in records)
    assert "json" in records[0].reason.lower()
    assert records[1].reason.startswith("schema_violation") and "$.inputs" in records[1].reason
    assert "exceeds the limit of 4096" in records[2].reason
    events = list(read_events(LocalStore(dest), "", ArchiveQuery(model="m1")))
    assert [e.inputs for e in events] == [{"x": 1}]
    metrics = (tmp_path / "archiver.log").read_text()
    assert "dead-lettered" in metrics


def test_redacted_fields_absent_from_topic_and_archive_and_encrypted_local_archive(
    settings: Settings, new_topic: Callable[..., str], consumer_group: str, tmp_path: Path,
    archiver: Callable[..., ArchiverProcess], eventually: Callable[..., Any],
) -> None:  # fmt: skip
    topic, dl_topic = new_topic(1), new_topic(1)
    key = "k" * 32
    red = {"redact_drop": ["ssn"], "redact_hash": ["email"], "redaction_key": key}
    with CaptureClient("pii", settings=topic_settings(settings, topic, **red)) as client:
        for i in range(5):
            client.capture({"ssn": f"123-45-{i:04d}", "email": f"u{i}@x.com", "age": i}, i)
        assert client.flush(30) == 0
    on_topic = consume_all(settings, topic, consumer_group + "-peek", 5, eventually)
    assert all(b"ssn" not in m.value() and b"@x.com" not in m.value() for m in on_topic)
    aes = base64.b64encode(bytes(range(32))).decode()
    dest = tmp_path / "archive"
    proc = archiver(**archiver_env(
        topic, dl_topic, consumer_group, str(dest),
        MODELMON_CAPTURE__REDACT_DROP='["ssn"]', MODELMON_CAPTURE__REDACT_HASH='["email"]',
        MODELMON_CAPTURE__REDACTION_KEY=key, MODELMON_ARCHIVER__ENCRYPTION_KEY=aes,
        MODELMON_ARCHIVER__GZIP="true",
    ))  # fmt: skip
    eventually(lambda: list(LocalStore(dest).list("pii")), 60, "archive file")
    assert proc.stop() == 0
    files = list(LocalStore(dest).list("pii"))
    assert all(f.endswith(".jsonl.gz.enc") for f in files)
    raw = b"".join(LocalStore(dest).get(f) for f in files)
    assert b"@x.com" not in raw and b"ssn" not in raw and raw.startswith(b"MMAG")
    events = list(
        read_events(LocalStore(dest), "", ArchiveQuery(model="pii"), key=bytes(range(32)))
    )
    assert len(events) == 5
    for e in events:
        assert "ssn" not in e.inputs
        expected = hmac.new(key.encode(), f"u{e.inputs['age']}@x.com".encode(), hashlib.sha256)
        assert str(e.inputs["email"]).startswith("hmac-sha256:" + expected.hexdigest() + ".")
        assert e.inputs["email"] == hash_value(f"u{e.inputs['age']}@x.com", key.encode())


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))


def test_s3_unavailable_is_retried_without_committing(
    settings: Settings, new_topic: Callable[..., str], consumer_group: str,
    boto_client: Callable[[str], Any], archiver: Callable[..., ArchiverProcess],
    eventually: Callable[..., Any], tmp_path: Path,
) -> None:  # fmt: skip
    """The bucket does not exist yet: writes fail and are retried; nothing is lost."""
    topic, dl_topic = new_topic(1), new_topic(1)
    bucket = f"late-bucket-{os.urandom(4).hex()}"
    with CaptureClient("late", settings=topic_settings(settings, topic)) as client:
        ids = sdk_events(client, 50)
    proc = archiver(**archiver_env(topic, dl_topic, consumer_group, f"s3://{bucket}/x"))
    log = tmp_path / "archiver.log"
    eventually(lambda: log.read_text().count("archive write failed") >= 2, 120, "retries")
    s3 = boto_client("s3")
    s3.create_bucket(Bucket=bucket)
    try:
        eventually(lambda: len(s3_records(boto_client, bucket, "x", "late")) >= 50, 120, "archive")
        assert proc.stop() == 0
        records = s3_records(boto_client, bucket, "x", "late")
        assert sorted(r["eventMetadata"]["eventId"] for _, r in records) == sorted(ids)
    finally:
        for key in [k for k, _ in s3_records(boto_client, bucket, "x", "late")]:
            s3.delete_object(Bucket=bucket, Key=key)
        s3.delete_bucket(Bucket=bucket)


def test_two_archivers_share_partitions_through_a_rebalance(
    settings: Settings, new_topic: Callable[..., str], consumer_group: str, s3_bucket: str,
    boto_client: Callable[[str], Any], archiver: Callable[..., ArchiverProcess],
    eventually: Callable[..., Any],
) -> None:  # fmt: skip
    topic, dl_topic = new_topic(3), new_topic(1)
    env = archiver_env(topic, dl_topic, consumer_group, f"s3://{s3_bucket}/rb")
    models = [f"rb-{i}" for i in range(6)]  # keys spread over the 3 partitions
    ids: dict[str, list[str]] = {}
    clients = {m: CaptureClient(m, settings=topic_settings(settings, topic)) for m in models}
    first = archiver(**env)
    for m, client in clients.items():
        ids[m] = sdk_events(client, 200)
    second = archiver(**env)  # joins the group: partitions move while the first is writing
    for m, client in clients.items():
        ids[m] += sdk_events(client, 200)
        client.close()

    def archived(m: str) -> list[str]:
        return [
            r["eventMetadata"]["eventId"] for _, r in s3_records(boto_client, s3_bucket, "rb", m)
        ]

    eventually(lambda: all(len(set(archived(m))) >= 400 for m in models), 180, "all archived")
    assert first.stop() == 0 and second.stop() == 0
    for m in models:
        got = archived(m)
        assert sorted(got) == sorted(ids[m])  # every event once: none lost, none duplicated
