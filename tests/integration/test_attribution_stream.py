"""Feature-attribution drift end to end on real Kafka, Redis and moto: attributions in capture
events and on the attributions topic (the explainer's output) are profiled exactly once by the
aggregators, and the detector flags the window whose ranking changed — and only it — while no
data-drift check fires; each window's NDCG equals the batch evaluation of the same events."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from confluent_kafka import Producer

from modelmon.attribution.evaluate import AttributionSettings, evaluate_attributions
from modelmon.attribution.state import state_of_events
from modelmon.keys import Keys
from modelmon.registry import Registry
from modelmon.settings import Settings
from modelmon.streaming.results import ResultStore

from .test_aggregator_support import (
    IN_ORDER,
    ServiceProcess,
    caught_up,
    high_watermarks,
    service_env,
    wait_for,
)
from .test_detector import SIZE, T0, _evaluated, _push_baseline, _rows

WEIGHTS = {"x": 4.0, "y": 2.0, "color": 1.0, "shortcut": 0.3}
SHORTCUT = {"x": 1.0, "y": 0.8, "color": 0.5, "shortcut": 6.0}
BASELINE = {
    "version": "1.0",
    "explanations": {
        "kernel_shap": {"label0": {"global_shap_values": {k: v * 0.8 for k, v in WEIGHTS.items()}}}
    },
}


def _stream(model_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Windows 0 and 2 attribute like the baseline, window 1 to the shortcut; the inputs are
    the same distribution throughout. Even events carry their attributions, odd ones get them
    from the attributions topic (capture-schema events with empty inputs)."""
    rng = np.random.default_rng(11)
    captures, explained = [], []
    for w, weights in enumerate((WEIGHTS, SHORTCUT, WEIGHTS)):
        rows = _rows(rng, 900, drift=False)
        for i, row in enumerate(rows):
            t = T0 + w * SIZE + (i * SIZE) // len(rows)
            when = datetime.fromtimestamp(t / 1000, UTC).isoformat().replace("+00:00", "Z")
            attributions = {k: float(v * rng.normal()) for k, v in weights.items()}
            event = {
                "model_id": model_id,
                "event_id": f"{w}-{i}",
                "event_time": when,
                "inputs": row,
                "outputs": {"prediction": 1},
            }
            if i % 2 == 0:
                event["attributions"] = attributions
            else:
                explained.append({**event, "inputs": {}, "attributions": attributions})
            captures.append(event)
    return captures, explained


def _produce(settings: Settings, topic: str, events: list[dict[str, Any]], parts: int) -> None:
    producer = Producer(settings.kafka.librdkafka_config() | {"linger.ms": 20, **IN_ORDER})
    for i, e in enumerate(events):
        producer.produce(topic, orjson.dumps(e), e["model_id"].encode(), partition=i % parts)
    assert producer.flush(60) == 0


def test_attribution_drift_fires_alone_and_streaming_equals_batch(
    settings: Settings,
    new_topic: Any,
    consumer_group: str,
    redis_client: Any,
    redis_prefix: str,
    tmp_path: Path,
    boto_client: Any,
) -> None:
    capture, attributions, alerts = (
        new_topic(partitions=3),
        new_topic(partitions=2),
        new_topic(partitions=1),
    )
    model = "attr-" + hashlib.sha256(redis_prefix.encode()).hexdigest()[:10]
    config = {
        "model_id": model,
        "window": {"size_seconds": 10, "allowed_lateness_seconds": 1, "idle_timeout_seconds": 2},
        "features": [
            {"name": "x", "kind": "numeric"},
            {"name": "y", "kind": "numeric"},
            {"name": "color", "kind": "categorical"},
        ],
        "explainability": {"baseline": BASELINE, "threshold": 0.9},
    }
    from modelmon.config import ModelConfig

    Registry(redis_client, Keys(redis_prefix)).register(ModelConfig.model_validate(config))
    _push_baseline(redis_client, redis_prefix, model, tmp_path)
    captures, explained = _stream(model)
    _produce(settings, attributions, explained, 2)
    _produce(settings, capture, captures, 3)
    common = {"MODELMON_TOPICS__ATTRIBUTIONS": attributions}
    # the explainer's topic first: its partials are in Redis before the windows complete
    attr_env = service_env(redis_prefix, attributions, consumer_group + "-attr") | common
    attr_agg = ServiceProcess("aggregator", attr_env, tmp_path / "attr.log").start()
    services = [attr_agg]
    try:
        marks = high_watermarks(settings, attributions, 2)
        wait_for(
            lambda: caught_up(redis_client, redis_prefix, attributions, marks),
            90,
            "the attributions topic flushed",
        )
        env = (
            service_env(redis_prefix, capture, consumer_group)
            | common
            | {
                "MODELMON_DETECTOR__TOPIC": capture,
                "MODELMON_DETECTOR__ALERTS_TOPIC": alerts,
                "MODELMON_DETECTOR__OUT": str(tmp_path / "reports"),
            }
        )
        services.append(ServiceProcess("aggregator", env, tmp_path / "agg.log").start())
        services.append(ServiceProcess("detector", env, tmp_path / "det.log").start())
        store = ResultStore(redis_client, Keys(redis_prefix), "test")
        wait_for(lambda: len(store.results(model)) == 3, 120, "three evaluated windows")
    finally:
        for svc in services:
            assert svc.terminate() == 0, svc.logs()

    records = _evaluated(settings, alerts)
    attribution = [r for r in records if r.get("check_type") == "feature_attribution_drift_check"]
    by_window = {r["window_start"]: r for r in attribution}
    assert len(by_window) == len(attribution) == 3  # one event per window, each exactly once
    states = [by_window[k]["state"] for k in sorted(by_window)]
    assert states == ["OK", "ALARM", "OK"]
    data_alarms = [
        r
        for r in records
        if r["type"] == "alert"
        and r["state"] == "ALARM"
        and r["check_type"] != "feature_attribution_drift_check"
    ]
    assert data_alarms == []  # the inputs never moved: no data check fires
    settings_ = AttributionSettings(BASELINE, 0.9)
    for k, record in sorted(by_window.items()):
        start = int(datetime.fromisoformat(k.replace("Z", "+00:00")).timestamp() * 1000)
        window = [e for e in captures if e["event_id"].startswith(f"{(start - T0) // SIZE}-")]
        batch = state_of_events(
            [
                *[e for e in window if "attributions" in e],
                *[e for e in explained if e["event_id"].startswith(f"{(start - T0) // SIZE}-")],
            ]
        )
        expected = evaluate_attributions(model, (start, start + SIZE), batch, settings_)
        assert len(batch) == 900
        assert record["value"] == pytest.approx(expected.checks[0].ndcg, abs=1e-12)
    folder = tmp_path / f"reports/{model}/modelmon/2026/01/01/00/0010/model-explainability"
    violations = json.loads((folder / "constraint_violations.json").read_text())
    assert [v["constraint_check_type"] for v in violations["violations"]] == [
        "feature_attribution_drift_check"
    ]
    assert "shortcut" in (folder / "report.html").read_text()
    cw = boto_client("cloudwatch")
    found = cw.list_metrics(
        Namespace="aws/sagemaker/Endpoints/explainability-metrics",
        MetricName="AttributionNDCG",
        Dimensions=[{"Name": "Endpoint", "Value": model}],
    )["Metrics"]
    assert found
    partials = list(redis_client.scan_iter(match=f"{redis_prefix}:attr:*:partial:*", count=1000))
    assert len(partials) == 3 * (3 + 2)  # every window on every partition of both topics
    assert all(0 < redis_client.ttl(k) <= 3600 for k in partials)  # evaluated: expiring soon
