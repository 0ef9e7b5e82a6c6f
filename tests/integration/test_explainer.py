"""The explainer on the real stack: captures in, attribution events out, exactly once through
SIGKILLs (Kafka transactions), the values equal to shap.TreeExplainer on the same rows."""

from __future__ import annotations

import json
import random
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import shap
from confluent_kafka import Consumer, Producer

from explainer_model import FEATURES, make_regressor, write_files
from modelmon.adapters.kafka import consumer_config, producer_config
from modelmon.config import ModelConfig
from modelmon.explain.sampling import sampled
from modelmon.keys import Keys
from modelmon.registry import Registry
from modelmon.settings import Settings

from .test_aggregator_support import ServiceProcess, wait_for

N = 1200
RATE = 0.5
MODEL = "explained-model"


def _capture(i: int, x: np.ndarray) -> bytes:
    inputs: dict[str, Any] = {f: float(v) for f, v in zip(FEATURES, x, strict=True)}
    if i % 200 == 7:
        inputs["f2"] = "not a number"  # dead-lettered when sampled
    event = {"event_id": f"e-{i}", "model_id": MODEL, "event_time": "2026-01-01T00:00:00Z"}
    return json.dumps({**event, "inputs": inputs}).encode()


def _produce(settings: Settings, topic: str, x: np.ndarray) -> None:
    producer = Producer(producer_config(settings.kafka))
    for i in range(N):
        producer.produce(topic, key=MODEL.encode(), value=_capture(i, x[i % len(x)]))
        if i % 50 == 49:
            producer.flush(30)
            time.sleep(0.05)  # a stream, so the kills land mid-way
    producer.flush(30)


class Collector:
    """Reads a topic (read-committed) from the start in a thread, keeping every message."""

    def __init__(self, settings: Settings, topic: str, group: str) -> None:
        self.messages: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._consumer = Consumer(consumer_config(settings.kafka, group))
        self._consumer.subscribe([topic])
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for msg in self._consumer.consume(500, 0.2):
                if msg.error() is None:
                    self.messages.append(json.loads(msg.value()))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._consumer.close()


def test_attributions_exactly_once_through_sigkills_and_equal_to_tree_explainer(
    settings: Settings, new_topic: Any, consumer_group: str, redis_client: Any,
    redis_prefix: str, tmp_path: Path,
) -> None:  # fmt: skip
    model, x = make_regressor(seed=2)
    write_files(tmp_path, model, x)
    config = ModelConfig.model_validate({"model_id": MODEL, "explainer": {
        "features": FEATURES, "model_path": "m.joblib", "sample_rate": RATE}})  # fmt: skip
    Registry(redis_client, Keys(redis_prefix)).register(config)
    capture, out, dead = new_topic(partitions=2), new_topic(partitions=2), new_topic(partitions=1)
    env = {
        "MODELMON_REDIS__KEY_PREFIX": redis_prefix,
        "MODELMON_TOPICS__CAPTURE": capture,
        "MODELMON_TOPICS__DEADLETTER": dead,
        "MODELMON_TOPICS__ATTRIBUTIONS": out,  # what the aggregator reads too
        "MODELMON_EXPLAINER__GROUP": consumer_group,
        "MODELMON_EXPLAINER__INSTANCE_ID": consumer_group,
        "MODELMON_EXPLAINER__BATCH_SIZE": "40",
        "MODELMON_EXPLAINER__MODELS_DIR": str(tmp_path / "models"),
        "MODELMON_ADMIN__PORT": "0",
        "MODELMON_KAFKA__EXTRA": '{"session.timeout.ms": "6000", "heartbeat.interval.ms": "1000"}',
        "PYTHONUNBUFFERED": "1",
    }
    wanted = [i for i in range(N) if sampled(f"e-{i}", RATE)]
    bad = {f"e-{i}" for i in wanted if i % 200 == 7}
    good = {f"e-{i}": i for i in wanted if f"e-{i}" not in bad}
    outputs = Collector(settings, out, consumer_group + "-out")
    letters = Collector(settings, dead, consumer_group + "-dead")
    feeder = threading.Thread(target=_produce, args=(settings, capture, x), daemon=True)
    feeder.start()
    rng, log = random.Random(4), tmp_path / "explainer.log"
    try:
        for _ in range(2):  # SIGKILL once it has explained a random amount more, mid-stream
            svc = ServiceProcess("explainer", env, log).start()
            target = len(outputs.messages) + rng.randint(50, 150)
            wait_for(lambda t=target: len(outputs.messages) >= t, 120, "explainer progress")
            time.sleep(rng.uniform(0.0, 0.2))
            assert svc.alive(), svc.logs()
            svc.kill()
            assert len(outputs.messages) < len(good), "the kill landed after the end"
        feeder.join(120)
        final = ServiceProcess("explainer", env, log).start()
        try:
            wait_for(lambda: len(outputs.messages) >= len(good), 180, "every sampled event")
            wait_for(lambda: len(letters.messages) >= len(bad), 60, "the dead letters")
            time.sleep(1.5)  # anything sent twice would show now
        finally:
            assert final.terminate() == 0, final.logs()
    finally:
        outputs.close()
        letters.close()
    ids = [m["event_id"] for m in outputs.messages]
    assert len(ids) == len(set(ids)) and set(ids) == set(good)  # exactly once, only the sampled
    assert [(d["code"], d["service"]) for d in letters.messages] == [
        ("not_explainable", "explainer")] * len(bad)  # fmt: skip
    rows = np.array([x[good[m["event_id"]] % len(x)] for m in outputs.messages])
    ours = np.array([[m["attributions"][f] for f in FEATURES] for m in outputs.messages])
    assert np.array_equal(ours, shap.TreeExplainer(model).shap_values(rows))
    assert all(m["model_id"] == MODEL and m["inputs"] == {} for m in outputs.messages)
