"""The capture archive files a model under its endpoint name (issue 22, item 3).

The archiver reads each model's ``endpoint_name`` from the registry (the model id when unset or
unregistered) and ``modelmon capture read --model`` finds the files there again.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from confluent_kafka import Producer

from modelmon.archive.layout import parse_key
from modelmon.archive.store import LocalStore
from modelmon.config import ModelConfig
from modelmon.events import CaptureEvent
from modelmon.keys import Keys
from modelmon.registry import Registry
from modelmon.settings import Settings

from .test_aggregator_support import IN_ORDER
from .test_archiver import MODELMON, T0, ArchiverProcess, archiver, archiver_env

__all__ = ["archiver"]  # the fixture


def test_captures_are_filed_under_the_endpoint_name(
    settings: Settings, new_topic: Callable[..., str], consumer_group: str, tmp_path: Path,
    archiver: Callable[..., ArchiverProcess], eventually: Callable[..., Any],
    redis_client: Any, redis_prefix: str,
) -> None:  # fmt: skip
    Registry(redis_client, Keys(redis_prefix)).register(
        ModelConfig(model_id="churn-model", endpoint_name="churn-prod")
    )
    topic, dl_topic = new_topic(1), new_topic(1)
    producer = Producer(settings.kafka.librdkafka_config() | IN_ORDER)
    sent = {"churn-model": 3, "other-model": 2}  # other-model is not registered
    for model, count in sent.items():
        for i in range(count):
            event = CaptureEvent(model_id=model, event_id=f"{model}-{i}", event_time=T0,
                                 inputs={"x": i})  # fmt: skip
            producer.produce(topic, key=model.encode(), value=event.model_dump_json().encode())
    assert producer.flush(30) == 0
    dest = tmp_path / "archive"
    env = {"MODELMON_REDIS__KEY_PREFIX": redis_prefix}
    proc = archiver(**archiver_env(topic, dl_topic, consumer_group, str(dest), **env))
    store = LocalStore(dest)
    eventually(lambda: list(store.list("churn-prod")) and list(store.list("other-model")), 60,
               "files of both models")  # fmt: skip
    assert proc.stop() == 0
    folders = {parsed.model for key in store.list("") if (parsed := parse_key(key))}
    assert folders == {"churn-prod", "other-model"}
    for model, count in sent.items():
        done = subprocess.run(
            [MODELMON, "capture", "read", "--model", model, "--source", str(dest)],
            env={**proc.env, **env}, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        events = [json.loads(line) for line in done.stdout.splitlines()]
        assert sorted(e["event_id"] for e in events) == [f"{model}-{i}" for i in range(count)]
        assert {e["model_id"] for e in events} == {model}
