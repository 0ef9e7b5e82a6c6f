"""``POST /v1/labels`` on the real stack: auth, all-or-nothing errors, labels keyed by id."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer
from prometheus_client import CollectorRegistry

from modelmon.adapters.kafka import make_producer
from modelmon.quality.labels import LabelEvent
from modelmon.redaction import RedactionPolicy
from modelmon.service import DeadLetters, Health
from modelmon.settings import Settings
from modelmon_services.ingest.app import Ingest, make_app

from .test_proxy import LoopThread, call, loop_thread

__all__ = ["loop_thread"]
REFERENCE = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "sagemaker_reference"
TOKEN = "label-token"


@pytest.fixture
def served(
    settings: Settings, new_topic: Callable[..., str], loop_thread: LoopThread
) -> Iterator[tuple[int, str, str]]:
    labels, dead_topic, capture = new_topic(2), new_topic(1), new_topic(1)
    registry = CollectorRegistry()
    producer = make_producer(settings.kafka)
    dead = DeadLetters(
        lambda t, k, v: producer.produce(t, key=k, value=v), dead_topic, "ingest", registry
    )
    ingest = Ingest(
        producer, capture, dead, registry, token=TOKEN, max_body_bytes=100_000,
        max_event_bytes=1_000, redaction=RedactionPolicy(),
    )  # fmt: skip
    health = Health()
    health.set_ready(True)
    yield loop_thread.serve(make_app(ingest, health, registry, labels)), labels, dead_topic


def _post(port: int, body: bytes, path: str = "/v1/labels", token: str | None = TOKEN,
          ctype: str = "application/json") -> tuple[int, Any]:  # fmt: skip
    headers = {"Content-Type": ctype} | ({"Authorization": f"Bearer {token}"} if token else {})
    status, _, _, answer = call(port, "POST", path, body, headers)
    return status, json.loads(answer) if answer else None


def _read(settings: Settings, topic: str, n: int, group: str) -> list[Any]:
    consumer = Consumer(settings.kafka.librdkafka_config() | {
        "group.id": group, "auto.offset.reset": "earliest"})  # fmt: skip
    consumer.subscribe([topic])
    msgs: list[Any] = []
    for _ in range(120):
        msg = consumer.poll(0.5)
        if msg is not None and msg.error() is None:
            msgs.append(msg)
        if len(msgs) >= n:
            break
    consumer.close()
    return msgs


def test_labels_posted_as_ndjson_and_sagemaker_records_land_keyed_by_inference_id(
    settings: Settings, served: tuple[int, str, str], consumer_group: str
) -> None:
    port, labels, _ = served
    assert _post(port, b'{"inference_id": "a"}', token=None)[0] == 401
    lines = [
        json.dumps({"inference_id": f"inf-{i}", "model_id": "churn", "label": i % 2,
                    "label_time": "2026-01-01T00:00:00Z"})
        for i in range(5)
    ]  # fmt: skip
    status, answer = _post(port, "\n".join(lines).encode(), ctype="application/x-ndjson")
    assert status == 202 and answer["accepted"] == 5
    truth = (REFERENCE / "actuals.jsonl").read_text().splitlines()[:3]
    status, answer = _post(port, "\n".join(truth).encode(), path="/v1/labels?model=churn",
                           ctype="application/x-ndjson")  # fmt: skip
    assert status == 202 and answer["accepted"] == 3
    msgs = _read(settings, labels, 8, consumer_group)
    events = [LabelEvent.model_validate_json(m.value()) for m in msgs]
    assert len(events) == 8
    assert all(m.key() == e.inference_id.encode() for m, e in zip(msgs, events, strict=True))
    assert {e.source for e in events} == {"ingest", "sagemaker"}


def test_a_bad_label_rejects_the_request_with_its_line_and_a_dead_letter(
    settings: Settings, served: tuple[int, str, str], consumer_group: str
) -> None:
    port, _, dead = served
    good = json.dumps({"inference_id": "x", "model_id": "churn", "label": 1,
                       "label_time": "2026-01-01T00:00:00Z"})  # fmt: skip
    truth = (REFERENCE / "actuals.jsonl").read_text().splitlines()[0]  # no ?model=
    body = "\n".join([good, '{"model_id": "churn"}', "{broken", truth]).encode()
    status, answer = _post(port, body, ctype="application/x-ndjson")
    assert status == 400 and answer["error"] == "3 of 4 documents invalid; nothing accepted"
    reasons = {e["line"]: e["error"] for e in answer["errors"]}
    assert "inference_id" in reasons[2] and reasons[3].startswith("invalid JSON")
    assert "?model=ID" in reasons[4]
    assert len(_read(settings, dead, 3, consumer_group)) == 3
    assert _post(port, b"x" * 200_000)[0] == 413
