"""The Python SDK against the real broker (and a closed port, for Kafka being down)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from modelmon.capture import CaptureClient
from modelmon.capture.client import sampled
from modelmon.events import CaptureEvent
from modelmon.settings import Settings

from .test_archiver import consume_all, topic_settings

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_kafka_unreachable_never_raises_and_counts_drops(settings: Settings) -> None:
    down = settings.model_copy(
        update={
            "kafka": settings.kafka.model_copy(
                update={"bootstrap_servers": f"127.0.0.1:{_closed_port()}"}
            ),
            "capture": settings.capture.model_copy(update={"buffer_max_messages": 100}),
        }
    )
    reasons: list[tuple[str, int]] = []
    client = CaptureClient("down-model", settings=down, on_drop=lambda r, n: reasons.append((r, n)))
    results = [client.capture({"x": i}, i % 2) for i in range(1000)]
    assert sum(r is not None for r in results) == 100  # the bounded buffer
    assert client.drops == {"buffer_full": 900}
    assert reasons == [("buffer_full", 1)] * 900
    batch = client.capture_batch(np.ones((10, 3)), np.zeros(10))
    assert batch == 0 and client.drops["buffer_full"] == 910
    client.close(timeout=0.5)  # bounded: what is still queued counts as dropped
    assert client.drops == {"buffer_full": 910, "closed": 100}
    assert client.capture({"x": 1}) is None and client.drops["closed"] == 101


def test_every_input_shape_arrives_as_a_valid_capture_event(
    settings: Settings, new_topic: Callable[..., str], consumer_group: str,
    eventually: Callable[..., Any],
) -> None:  # fmt: skip
    topic = new_topic(1)
    cfg = topic_settings(settings, topic)
    client = CaptureClient("shapes", settings=cfg, feature_names=["a", "b"])
    assert client.capture({"a": np.int64(3), "b": np.float32(0.5)}, np.float64(0.25),
                          inference_id="i-1", event_time=T0, latency_ms=2.0,
                          attributions={"a": 0.1}, metadata={"k": "v"}) is not None  # fmt: skip
    assert client.capture([1.5, "x", None], {"prediction": "yes", "probability": 0.9}) is not None
    assert client.capture(pd.Series({"a": 7, "b": "s"}), 1) is not None
    frame = pd.DataFrame({"a": [1, 2], "b": ["u", "v"]})
    assert client.capture_batch(frame, pd.Series([0, 1]), inference_ids=["d-0", "d-1"]) == 2
    assert client.capture_batch(np.arange(4).reshape(2, 2), [[0.2, 0.8], [0.6, 0.4]]) == 2
    record = (REFERENCE_JSON).splitlines()[1]
    assert client.capture_sagemaker(record) == 2  # two instances in one SageMaker record
    assert client.capture({"a": {"nested": 1}}) is None and client.drops == {"invalid": 1}
    assert client.flush(30) == 0
    client.close()
    messages = consume_all(cfg, topic, consumer_group, 9, eventually)
    events = [CaptureEvent.model_validate_json(m.value()) for m in messages]
    assert all(m.key() == b"shapes" for m in messages)
    first = events[0]
    assert (first.inputs, first.outputs.prediction, first.inference_id) == (
        {"a": 3, "b": 0.5},
        0.25,
        "i-1",
    )
    assert (first.event_time, first.latency_ms, first.attributions, first.metadata) == (
        T0,
        2.0,
        {"a": 0.1},
        {"k": "v"},
    )
    assert events[1].inputs == {"a": 1.5, "b": "x", "_c2": None}
    assert events[1].outputs.probability == 0.9
    assert events.pop(2).inputs == {"a": 7, "b": "s"}
    assert [e.inputs for e in events[2:4]] == [{"a": 1, "b": "u"}, {"a": 2, "b": "v"}]
    assert [e.inference_id for e in events[2:4]] == ["d-0", "d-1"]
    assert events[4].outputs.scores == {"0": 0.2, "1": 0.8}
    assert events[5].inputs == {"a": 2, "b": 3}
    sm = events[6:8]
    assert [e.event_id for e in sm] == [
        "9066ac80-dde1-4370-a73e-ab997e2544f1-0",
        "9066ac80-dde1-4370-a73e-ab997e2544f1-1",
    ]
    assert sm[1].inputs["a"] == 43 and sm[1].outputs.prediction == 1
    assert sm[1].outputs.probability == 0.5041388273239136


def test_sampling_is_a_stable_hash_of_the_inference_id(
    settings: Settings, new_topic: Callable[..., str], consumer_group: str,
    eventually: Callable[..., Any],
) -> None:  # fmt: skip
    topic = new_topic(1)
    n, pct = 2000, 20.0
    ids = [f"loan-{i}" for i in range(n)]
    expected = [i for i in ids if sampled(i, pct)]
    # binomial tolerance: mean n*p = 400, sd = sqrt(n*p*(1-p)) ~ 17.9; 4 sd either side
    assert abs(len(expected) - n * pct / 100) < 4 * (n * 0.2 * 0.8) ** 0.5
    assert len(expected) == 387  # exact for these ids: sha256 is stable across processes
    other = subprocess.run(
        [sys.executable, "-c", "from modelmon.capture.client import sampled;"
         "print(sum(sampled(f'loan-{i}', 20.0) for i in range(2000)))"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert other.stdout.strip() == "387"
    client = CaptureClient(
        "sampled", settings=topic_settings(settings, topic), sampling_percentage=pct
    )
    got = [client.capture({"x": 1}, 0, inference_id=i) for i in ids]
    assert client.sampled_out == n - len(expected)
    assert client.flush(30) == 0
    client.close()
    messages = consume_all(settings, topic, consumer_group, len(expected), eventually)
    assert sorted(json.loads(m.value())["inference_id"] for m in messages) == sorted(expected)
    assert sum(g is not None for g in got) == len(expected)


REFERENCE_JSON = (
    Path(__file__).resolve().parents[1] / "fixtures/sagemaker_reference/json_capture_sample.jsonl"
).read_text()
