"""HTTP ingest on the real stack: auth, limits, clear errors, dead letters, archive."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from modelmon.adapters.kafka import make_producer
from modelmon.events import CaptureEvent, DeadLetterRecord
from modelmon.redaction import RedactionPolicy
from modelmon.service import DeadLetters, Health
from modelmon.settings import Settings
from modelmon_services.ingest.app import Ingest, make_app

from .test_archiver import (
    ArchiverProcess,
    archiver,
    archiver_env,
    consume_all,
    s3_records,
)
from .test_proxy import LoopThread, call, loop_thread

__all__ = ["archiver", "loop_thread"]  # fixtures, re-used
ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "tests" / "fixtures" / "sagemaker_reference"
TOKEN = "s3cret-token"
T0 = datetime(2026, 4, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def topics(new_topic: Callable[..., str]) -> tuple[str, str]:
    return new_topic(2), new_topic(1)


@pytest.fixture
def ingest_port(
    settings: Settings, topics: tuple[str, str], loop_thread: LoopThread
) -> Iterator[int]:
    registry = CollectorRegistry()
    producer = make_producer(settings.kafka)
    dead = DeadLetters(
        lambda t, k, v: producer.produce(t, key=k, value=v), topics[1], "ingest", registry
    )
    ingest = Ingest(
        producer, topics[0], dead, registry, token=TOKEN, max_body_bytes=200_000,
        max_event_bytes=2_000, redaction=RedactionPolicy(drop=frozenset({"ssn"})),
        feature_names={"churn": [f"f{i}" for i in range(69)]},
    )  # fmt: skip
    health = Health()
    health.set_ready(True)
    yield loop_thread.serve(make_app(ingest, health, registry))


def post(port: int, body: bytes, ctype: str = "application/json", path: str = "/v1/capture",
         token: str | None = TOKEN) -> tuple[int, Any]:  # fmt: skip
    headers = {"Content-Type": ctype}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    status, _, _, answer = call(port, "POST", path, body, headers)
    return status, json.loads(answer) if answer else None


def event(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "model_id": "ing-model", "inference_id": f"inf-{i}",
        "event_time": (T0 + timedelta(seconds=i)).isoformat(),
        "inputs": {"x": i, "city": "Paris", "ssn": "000-00-0000"},
        "outputs": {"prediction": i % 2}, **extra,
    }  # fmt: skip


def test_auth_is_required_when_a_token_is_set(ingest_port: int) -> None:
    body = json.dumps(event(1)).encode()
    assert post(ingest_port, body, token=None)[0] == 401
    status, answer = post(ingest_port, body, token="wrong")
    assert status == 401 and "bearer token" in answer["error"]


def test_bad_input_gets_a_clear_error_and_a_dead_letter(
    settings: Settings, ingest_port: int, topics: tuple[str, str], consumer_group: str,
    eventually: Callable[..., Any],
) -> None:  # fmt: skip
    good = json.dumps(event(1))
    wrong_type = json.dumps(event(2, latency_ms="fast"))
    big = json.dumps(event(3, metadata={"blob": "x" * 3000}))
    body = "\n".join([good, "{broken", wrong_type, big]).encode()
    status, answer = post(ingest_port, body, "application/x-ndjson")
    assert status == 400
    assert answer["error"] == "3 of 4 documents invalid; nothing accepted"
    lines = {e["line"]: e["error"] for e in answer["errors"]}
    assert sorted(lines) == [2, 3, 4]
    assert lines[2].startswith("invalid JSON")
    assert (
        lines[3] == "latency_ms: Input should be a valid number, unable to parse string as a number"
    )
    assert lines[4].endswith("exceeds the limit of 2000")
    dead = consume_all(settings, topics[1], consumer_group, 3, eventually)
    records = [DeadLetterRecord.model_validate_json(m.value()) for m in dead]
    assert sorted(base64.b64decode(r.original) for r in records) == sorted(
        [b"{broken", wrong_type.encode(), big.encode()]
    )
    assert all(r.service == "ingest" for r in records)
    status, answer = post(ingest_port, b"x" * 300_000)
    assert status == 413 and "limit of 200000" in answer["error"]
    assert post(ingest_port, b"  ")[0] == 400
    status, answer = post(ingest_port, b"[1, 2]")
    assert status == 400 and answer["errors"][0]["error"] == "expected a JSON object, got int"


def test_ingested_events_are_archived_exactly_once(
    settings: Settings, ingest_port: int, topics: tuple[str, str], consumer_group: str,
    s3_bucket: str, boto_client: Callable[[str], Any], archiver: Callable[..., ArchiverProcess],
    eventually: Callable[..., Any],
) -> None:  # fmt: skip
    status, answer = post(ingest_port, json.dumps(event(0)).encode())
    assert status == 202 and answer["accepted"] == 1
    ids = list(answer["event_ids"])
    ndjson = "\n".join(json.dumps(event(i)) for i in range(1, 50)).encode()
    status, answer = post(ingest_port, ndjson, "application/x-ndjson")
    assert (status, answer["accepted"], answer["documents"]) == (202, 49, 49)
    ids += answer["event_ids"]
    sm = (REFERENCE / "churn_capture_sample.jsonl").read_bytes()
    status, answer = post(ingest_port, sm, "application/x-ndjson", "/v1/capture?model=churn")
    assert (status, answer["accepted"]) == (202, 3)
    proc = archiver(**archiver_env(topics[0], topics[1], consumer_group, f"s3://{s3_bucket}/in"))
    eventually(
        lambda: len(s3_records(boto_client, s3_bucket, "in", "ing-model")) >= 50, 120, "archive"
    )
    eventually(lambda: len(s3_records(boto_client, s3_bucket, "in", "churn")) >= 3, 60, "churn")
    assert proc.stop() == 0
    records = [r for _, r in s3_records(boto_client, s3_bucket, "in", "ing-model")]
    assert sorted(r["eventMetadata"]["eventId"] for r in records) == sorted(ids)
    assert all("ssn" not in r["captureData"]["endpointInput"]["data"] for r in records)
    churn = [r for _, r in s3_records(boto_client, s3_bucket, "in", "churn")]
    reference = [json.loads(line) for line in sm.decode().splitlines()]
    assert sorted(churn, key=lambda r: r["eventMetadata"]["eventId"]) == sorted(
        reference, key=lambda r: r["eventMetadata"]["eventId"]
    )  # SageMaker records in, the same records out, key for key and value for value
    back = CaptureEvent.model_validate(event(7))
    assert back.inputs["city"] == "Paris"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_ingest_command_refuses_to_run_open_unless_told_and_serves_metrics_on_admin_only(
    tmp_path: Path,
) -> None:
    port, admin = _free_port(), _free_port()
    cmd = [str(ROOT / ".venv/bin/modelmon"), "run", "ingest", "--port", str(port)]
    env = {**os.environ, "MODELMON_INGEST__TOKEN": "", "MODELMON_ADMIN__PORT": str(admin)}
    env.pop("MODELMON_INGEST__INSECURE", None)
    refused = subprocess.run(cmd, env=env, capture_output=True, timeout=60)
    assert refused.returncode != 0
    assert b"MODELMON_INGEST__INSECURE=true" in refused.stderr
    log = (tmp_path / "ingest.log").open("wb")
    proc = subprocess.Popen([*cmd, "--insecure"], stdout=log, stderr=log, env=env)
    try:
        from conftest import wait_until

        wait_until(lambda: _status(admin, "/readyz") == 200, 60, "ingest ready")
        assert b"modelmon_ingest_events_total 0.0" in call(admin, "GET", "/metrics")[3]
        assert _status(port, "/metrics") == 404  # never on the ingest listener
        assert _status(port, "/healthz") == 200
    finally:
        proc.terminate()
        assert proc.wait(30) == 0
    assert "INSECURE: ingest authentication is OFF" in (tmp_path / "ingest.log").read_text()


def _status(port: int, path: str) -> int:
    try:
        return call(port, "GET", path)[0]
    except OSError:
        return 0


def test_registered_models_only_when_required_and_csv_named_from_the_config(
    settings: Settings, new_topic: Callable[..., str], consumer_group: str, redis_client: Any,
    redis_prefix: str, loop_thread: LoopThread, eventually: Callable[..., Any],
) -> None:  # fmt: skip
    from modelmon.config import FeatureConfig, ModelConfig
    from modelmon.keys import Keys
    from modelmon.registry import ModelCatalog, Registry

    topic, dl_topic = new_topic(1), new_topic(1)
    registry = Registry(redis_client, Keys(redis_prefix))
    names = [f"f{i}" for i in range(69)]
    registry.register(
        ModelConfig(model_id="churn", features=[FeatureConfig(name=n) for n in names])
    )
    reg = CollectorRegistry()
    producer = make_producer(settings.kafka)
    dead = DeadLetters(lambda t, k, v: producer.produce(t, key=k, value=v), dl_topic, "ingest", reg)
    ingest = Ingest(
        producer, topic, dead, reg, token=None, max_body_bytes=200_000, max_event_bytes=20_000,
        redaction=RedactionPolicy(), catalog=ModelCatalog(registry, poll_seconds=0.0),
        insecure=True,
    )  # fmt: skip
    port = loop_thread.serve(make_app(ingest, Health(), reg))
    unknown = json.dumps(event(1))  # model "ing-model" is not registered
    status, answer = post(port, unknown.encode(), token=None)
    assert status == 400
    assert answer["errors"] == [
        {"line": 1, "error": "model 'ing-model' is not registered (modelmon model register)"}
    ]
    sm = (REFERENCE / "churn_capture_sample.jsonl").read_bytes()
    status, answer = post(port, sm, "application/x-ndjson", "/v1/capture?model=churn", token=None)
    assert (status, answer["accepted"]) == (202, 3)
    (dead_msg,) = consume_all(settings, dl_topic, consumer_group, 1, eventually)
    record = DeadLetterRecord.model_validate_json(dead_msg.value())
    assert (
        record.error_type == "UnknownModelError"
        and base64.b64decode(record.original) == unknown.encode()
    )
    events = consume_all(settings, topic, consumer_group + "-c", 3, eventually)
    first = CaptureEvent.model_validate_json(events[0].value())
    assert list(first.inputs)[:3] == ["f0", "f1", "f2"] and first.inputs["f2"] == 182.9
