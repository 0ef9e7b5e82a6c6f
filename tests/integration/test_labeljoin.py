"""The label join on the real stack: exact joined / unlabelled / expired counts through SIGKILLs,
quality state equal to scikit-learn on the same pairs, a quality alert on the alerts topic; bias
drift beside it: bias counts exact through the kills, each window's bias metrics equal to
``modelmon monitor`` on the window's joined rows, a bias alert when group b's predictions shift."""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from click.testing import CliRunner
from confluent_kafka import Consumer, Producer
from sklearn import metrics as skm

from modelmon.bias.analysis import analysis_json
from modelmon.bias.config import BiasConfig
from modelmon.bias.state import BiasState, merge_all, state_from_rows
from modelmon.cli import cli
from modelmon.config import ModelConfig
from modelmon.keys import Keys
from modelmon.quality.batch import QualityColumns, state_of_rows
from modelmon.quality.files import _jsonable
from modelmon.quality.join import partition_of
from modelmon.quality.problem import QualitySpec
from modelmon.registry import Registry
from modelmon.settings import Settings

from .test_aggregator_support import IN_ORDER, ServiceProcess, wait_for

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
N = 3000
JOIN_PARTS = 3
HORIZON_S = 60
SPEC = QualitySpec("BinaryClassification")
MODEL = f"churn-{uuid.uuid4().hex[:8]}"  # unique: CloudWatch (moto) is shared by every test
BIAS = {
    "label": "label", "label_values_or_threshold": [1], "predicted_label": "prediction",
    "facet": [{"name_or_index": "group", "value_or_threshold": ["b"]}],
}  # fmt: skip


def _group(i: int | str) -> str:
    return "b" if isinstance(i, int) and i % 3 == 0 else "a"


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def _capture(i: int | str, t_ms: int, prob: float) -> bytes:
    return json.dumps({
        "model_id": MODEL, "event_id": f"e-{i}", "inference_id": f"inf-{i}",
        "event_time": _iso(t_ms), "inputs": {"x": 1.0, "group": _group(i)},
        "outputs": {"prediction": int(prob >= 0.5), "probability": prob},
    }).encode()  # fmt: skip


def _label(i: int | str, t_ms: int, value: int) -> bytes:
    return json.dumps({
        "inference_id": f"inf-{i}", "model_id": MODEL, "label": value,
        "label_time": _iso(t_ms),
    }).encode()  # fmt: skip


def _plan(rng: random.Random) -> tuple[list[tuple[str, bytes]], dict[str, int], list[tuple]]:
    """(topic kind, message) in produce order, expected counters, the expected joined pairs."""
    msgs: list[tuple[str, bytes]] = []
    pairs = []
    early: list[tuple[str, bytes]] = []
    for i in range(N):
        t = T0 + i * 10
        prob = rng.random()
        if _group(i) == "b":  # group b's predictions shifted up: positive far more often
            prob = 0.45 + 0.55 * prob
        truth = int(prob >= 0.5) if rng.random() < 0.8 else int(prob < 0.5)
        kind = i % 10
        if kind == 6:  # the label comes first
            msgs.append(("label", _label(i, t, truth)))
        msgs.append(("capture", _capture(i, t, prob)))
        if i % 60 == 0:  # a re-sent capture: a duplicate prediction
            msgs.append(("capture", _capture(i, t, prob)))
        if kind <= 5 or kind == 7:
            early.append(("label", _label(i, t + 1000, truth)))
        if kind == 7:  # a second, different label: the first one wins
            early.append(("label", _label(i, t + 2000, 1 - truth)))
        if kind <= 7:
            pairs.append((f"inf-{i}", truth, int(prob >= 0.5), prob, _group(i), t))
        if len(early) > 40:  # labels trail their predictions by a few dozen messages
            msgs.extend(early[:20])
            del early[:20]
    msgs.extend(early)
    msgs.extend(("label", _label(f"orphan-{j}", T0 + j * 100, 1)) for j in range(200))
    expected = {
        "predictions": N, "labels": N // 10 * 8 + 200, "joined": N // 10 * 8,
        "duplicate_labels": N // 10, "duplicate_predictions": N // 60,
        "expired_predictions": N // 10 * 2, "expired_labels": 200, "unconfigured": 0,
    }  # fmt: skip
    return msgs, expected, pairs


def _register(redis_client: Any, prefix: str) -> None:
    constraints = {
        "version": 0.0,
        "binary_classification_constraints": {
            "accuracy": {"threshold": 0.95, "comparison_operator": "LessThanThreshold"},
            "auc": {"threshold": 0.5, "comparison_operator": "LessThanThreshold"},
        },
    }
    config = ModelConfig.model_validate({
        "model_id": MODEL, "window": {"size_seconds": 10, "rolling_windows": 2},
        "quality": {"problem_type": "BinaryClassification", "label_horizon_seconds": HORIZON_S,
                    "min_labels": 50, "constraints": constraints},
        "bias": {"analysis_config": BIAS, "baseline": _fair_baseline()},
    })  # fmt: skip
    Registry(redis_client, Keys(prefix)).register(config)


def _fair_baseline() -> dict[str, Any]:
    """A bias baseline (analysis.json) from traffic that treats both groups alike."""
    rng = random.Random(3)
    rows = []
    for i in range(2000):
        prob = rng.random()
        truth = int(prob >= 0.5) if rng.random() < 0.8 else int(prob < 0.5)
        rows.append({"group": _group(i), "label": truth, "prediction": int(prob >= 0.5)})
    config = BiasConfig.model_validate(BIAS)
    return analysis_json(config, state_from_rows(config, rows), ("post_training",))


def _counters(redis_client: Any, prefix: str) -> dict[str, int]:
    total: dict[str, int] = {}
    for p in range(JOIN_PARTS):
        raw = redis_client.hgetall(Keys(prefix).labeljoin_state(p))
        for k, v in raw.items():
            if k.startswith(b"c:"):
                total[k[2:].decode()] = total.get(k[2:].decode(), 0) + int(v)
    return total


def _produce(settings: Settings, topics: dict[str, str], msgs: list[tuple[str, bytes]]) -> None:
    """Captures keyed by model id, labels by inference id (the topics' contracts)."""
    producer = Producer(settings.kafka.librdkafka_config() | {"linger.ms": 5, **IN_ORDER})
    for n, (kind, value) in enumerate(msgs):
        key = MODEL.encode() if kind == "capture" else json.loads(value)["inference_id"].encode()
        producer.produce(topics[kind], value, key)
        if n % 100 == 0:  # ~15 s in all: the kills land mid-stream
            producer.poll(0)
            time.sleep(0.2)
    assert producer.flush(60) == 0


def _sentinels(settings: Settings, topic: str) -> None:
    """One far-future prediction per join partition: every watermark passes every horizon."""
    producer = Producer(settings.kafka.librdkafka_config() | IN_ORDER)
    chosen: dict[int, str] = {}
    j = 0
    while len(chosen) < JOIN_PARTS:
        chosen.setdefault(partition_of(f"inf-sentinel-{j}", JOIN_PARTS), f"sentinel-{j}")
        j += 1
    for name in chosen.values():
        producer.produce(topic, _capture(name, T0 + 3_600_000, 0.9), MODEL.encode())
    assert producer.flush(30) == 0


def test_join_counts_exact_through_sigkills_and_quality_equals_sklearn(
    settings: Settings, new_topic: Any, consumer_group: str, redis_client: Any,
    redis_prefix: str, tmp_path: Path, boto_client: Any,
) -> None:  # fmt: skip
    topics = {"capture": new_topic(partitions=2), "label": new_topic(partitions=3)}
    join_topic, alerts = new_topic(partitions=JOIN_PARTS), new_topic(partitions=1)
    _register(redis_client, redis_prefix)
    msgs, expected, pairs = _plan(random.Random(11))
    env = {
        "MODELMON_REDIS__KEY_PREFIX": redis_prefix,
        "MODELMON_TOPICS__CAPTURE": topics["capture"],
        "MODELMON_TOPICS__LABELS": topics["label"],
        "MODELMON_TOPICS__ALERTS": alerts,
        "MODELMON_TOPICS__DEADLETTER": new_topic(partitions=1),
        "MODELMON_LABELJOIN__TOPIC": join_topic,
        "MODELMON_LABELJOIN__PARTITIONS": str(JOIN_PARTS),
        "MODELMON_LABELJOIN__ROUTER_GROUP": consumer_group + "-router",
        "MODELMON_LABELJOIN__JOIN_GROUP": consumer_group,
        "MODELMON_LABELJOIN__INSTANCE_ID": consumer_group,
        "MODELMON_LABELJOIN__FLUSH_SECONDS": "0.2",
        "MODELMON_LABELJOIN__BATCH_SIZE": "150",
        "MODELMON_ADMIN__PORT": "0",
        "MODELMON_LABELJOIN__REPORTS": str(tmp_path / "reports"),
        "MODELMON_KAFKA__EXTRA": '{"session.timeout.ms": "6000", "heartbeat.interval.ms": "1000"}',
        "PYTHONUNBUFFERED": "1",
    }
    producer = threading.Thread(target=_produce, args=(settings, topics, msgs), daemon=True)
    producer.start()
    rng = random.Random(5)
    log = tmp_path / "labeljoin.log"
    seen = 0
    for _ in range(3):  # SIGKILL once it has joined a random amount more, mid-stream
        svc = ServiceProcess("labeljoin", env, log).start()
        target = seen + rng.randint(100, 300)
        wait_for(lambda t=target: _counters(redis_client, redis_prefix).get("joined", 0) >= t,
                 120, "join progress")  # fmt: skip
        time.sleep(rng.uniform(0.0, 0.3))
        assert svc.alive(), svc.logs()
        svc.kill()
        seen = _counters(redis_client, redis_prefix).get("joined", 0)
        assert seen < expected["joined"]  # the kill landed mid-stream
    producer.join(120)
    final = ServiceProcess("labeljoin", env, log).start()
    try:
        routed = expected["predictions"] + expected["duplicate_predictions"]
        wait_for(lambda: sum(_counters(redis_client, redis_prefix).get(k, 0) for k in (
            "predictions", "duplicate_predictions")) >= routed and sum(
            _counters(redis_client, redis_prefix).get(k, 0) for k in ("labels",
            "duplicate_labels")) >= expected["labels"] + expected["duplicate_labels"],
            180, "everything routed and joined")  # fmt: skip
        _sentinels(settings, topics["capture"])
        wait_for(lambda: _counters(redis_client, redis_prefix).get("expired_predictions", 0)
                 >= expected["expired_predictions"], 120, "expiry")  # fmt: skip
        time.sleep(1.0)  # anything counted twice would show now
    finally:
        assert final.terminate() == 0, final.logs()
    counts = _counters(redis_client, redis_prefix)
    counts["predictions"] -= JOIN_PARTS  # the sentinels
    assert {k: counts.get(k, 0) for k in expected} == expected
    _assert_quality_equals_sklearn(redis_client, redis_prefix, pairs)
    _assert_quality_alert(settings, alerts, redis_client, redis_prefix)
    _assert_bias(settings, alerts, redis_client, redis_prefix, pairs, tmp_path)
    (report,) = sorted((tmp_path / "reports" / MODEL / "modelmon").glob("*/*/*/*/*/model-quality"))[
        :1
    ]
    violations = json.loads((report / "constraint_violations.json").read_text())["violations"]
    assert [v["metric_name"] for v in violations] == ["accuracy"]
    stats = json.loads((report / "statistics.json").read_text())
    assert stats["binary_classification_metrics"]["confusion_matrix"]
    cw = boto_client("cloudwatch")
    endpoint = [{"Name": "Endpoint", "Value": MODEL}]
    namespace = "aws/sagemaker/Endpoints/model-metrics"
    published = cw.list_metrics(Namespace=namespace, Dimensions=endpoint)["Metrics"]
    assert {"accuracy", "auc", "f1", "label_coverage"} <= {m["MetricName"] for m in published}
    bias = cw.list_metrics(Namespace="aws/sagemaker/Endpoints/bias-metrics",
                           Dimensions=endpoint)["Metrics"]  # fmt: skip
    dppl = [m for m in bias if m["MetricName"] == "bias_metric_DPPL"]
    assert dppl and {d["Name"] for d in dppl[0]["Dimensions"]} == {
        "Endpoint", "MonitoringSchedule", "BiasStage", "Label", "LabelValue", "Facet",
        "FacetValue"}  # fmt: skip


def _assert_quality_equals_sklearn(redis_client: Any, prefix: str, pairs: list[tuple]) -> None:
    keys = [k for k in redis_client.scan_iter(f"{prefix}:lj:{{lj:*}}:q:{MODEL}:*")]
    state = SPEC.empty()
    for blob in redis_client.mget(keys):
        state = SPEC.merge(state, SPEC.deserialize(blob))
    y = np.array([p[1] for p in pairs])
    pred = np.array([p[2] for p in pairs])
    score = np.array([p[3] for p in pairs])
    m = state.metrics()
    rows = [{"inference_id": p[0], "label": p[1], "prediction": p[2], "probability": p[3]}
            for p in pairs]  # fmt: skip
    batch = state_of_rows(SPEC, rows, QualityColumns("label", "prediction", "probability"))
    assert json.dumps(_jsonable(batch.metrics())) == json.dumps(_jsonable(m))  # stream == batch
    tn, fp, fn, tp = skm.confusion_matrix(y, pred).ravel()
    assert m["confusion_matrix"] == {"0": {"0": tn, "1": fp}, "1": {"0": fn, "1": tp}}
    assert abs(m["auc"]["value"] - skm.roc_auc_score(y, score)) <= state.auc_error_bound() + 1e-12
    results = redis_client.zrange(Keys(prefix).quality_results(MODEL), 0, -1)
    published = {json.loads(r)["window_start_ms"]: json.loads(r)["labelled"] for r in results}
    final: dict[int, int] = {}
    for key, blob in zip(keys, redis_client.mget(keys), strict=True):
        start = int((key if isinstance(key, str) else key.decode()).rsplit(":", 1)[1])
        final[start] = final.get(start, 0) + SPEC.deserialize(blob).count
    # every window's last published result holds all its pairs, through the kills
    assert published == {s: n for s, n in final.items() if n >= 50}, (published, final)


def _assert_quality_alert(settings: Settings, topic: str, redis_client: Any, prefix: str) -> None:
    results = redis_client.zrange(Keys(prefix).quality_results(MODEL), 0, -1)
    assert results, "no quality window evaluated"
    first = json.loads(results[0])
    assert 0 < first["coverage"] <= 1 and first["labelled"] >= 50
    by_start = {json.loads(r)["window_start_ms"]: json.loads(r) for r in results}
    rolling = [json.loads(r) for r in
               redis_client.zrange(Keys(prefix).quality_rolling_results(MODEL), 0, -1)]  # fmt: skip
    assert rolling, "no rolling view evaluated"
    for view in rolling:  # a view of 2 windows holds both windows' labelled pairs
        assert view["window_end_ms"] - view["window_start_ms"] == 20_000
        parts = [by_start.get(view["window_start_ms"] + i * 10_000) for i in range(2)]
        if all(parts) and view["window_end_ms"] <= T0 + 30_000:
            assert view["labelled"] >= max(p["labelled"] for p in parts if p)
    consumer = Consumer(settings.kafka.librdkafka_config() | {
        "group.id": f"{topic}-reader", "auto.offset.reset": "earliest"})  # fmt: skip
    consumer.subscribe([topic])
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30
    alarms: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not alarms:
        msg = consumer.poll(0.5)
        if msg is not None and msg.error() is None:
            events.append(json.loads(msg.value()))
            alarms = [e for e in events if e["state"] == "ALARM"
                      and e["check_type"] == "model_quality_check"]  # fmt: skip
    consumer.close()
    assert alarms, [e["check_type"] for e in events]
    assert alarms[0]["feature"] == "accuracy" and "+/-" in alarms[0]["description"]


def _assert_bias(
    settings: Settings, topic: str, redis_client: Any, prefix: str, pairs: list[tuple],
    tmp_path: Path,
) -> None:  # fmt: skip
    """Bias counts exact, each window's published metrics equal to ``monitor``, the alert."""
    keys = list(redis_client.scan_iter(f"{prefix}:lj:{{lj:*}}:b:{MODEL}:*"))
    state = merge_all(BiasState.deserialize(b) for b in redis_client.mget(keys))
    cells = sum(state.facets["group"].cells.values())
    assert int(cells[:4].sum()) == len(pairs)  # every joined pair once, through the kills
    assert int(cells[4:].sum()) == N + JOIN_PARTS  # every captured prediction once (+ sentinels)
    baseline = tmp_path / "bias-baseline"
    baseline.mkdir()
    (baseline / "analysis.json").write_text(json.dumps(_fair_baseline()))
    (baseline / "bias_config.json").write_text(json.dumps(BIAS))
    results = [json.loads(r) for r in
               redis_client.zrange(Keys(prefix).bias_results(MODEL), 0, -1)]  # fmt: skip
    assert len(results) == 3, [r["window_start_ms"] for r in results]
    for result in results:
        start = result["window_start_ms"]
        rows = [p for p in pairs if start <= p[5] < start + 10_000]
        data = tmp_path / f"joined-{start}.csv"
        data.write_text("group,label,prediction\n" + "".join(
            f"{p[4]},{p[1]},{p[2]}\n" for p in rows))  # fmt: skip
        out = tmp_path / f"monitor-{start}"
        run = CliRunner().invoke(cli, ["monitor", "--baseline", str(baseline), "--data",
                                       str(data), "--out", str(out), "-q"])  # fmt: skip
        assert run.exit_code in (0, 1), run.output
        assert result["joined"] == len(rows)
        batch = json.loads((out / "analysis.json").read_text())
        post, pre = "post_training_bias_metrics", "pre_training_bias_metrics"
        assert result["analysis"][post] == batch[post]  # streaming == batch, metric for metric
        # the window's pre-training metrics (its joined labels) == baseline create on its rows
        made = tmp_path / f"baseline-{start}"
        run = CliRunner().invoke(cli, ["baseline", "create", "--analysis", "bias", "--data",
                                       str(data), "--config", str(baseline / "bias_config.json"),
                                       "--out", str(made), "-q"])  # fmt: skip
        assert run.exit_code == 0, run.output
        assert result["analysis"][pre] == json.loads((made / "analysis.json").read_text())[pre]
        violations = json.loads((out / "constraint_violations.json").read_text())
        assert result["violations"] == violations["violations"]
        assert any(v["metric_name"] == "DPPL" for v in result["violations"])
    (report,) = sorted((tmp_path / "reports" / MODEL / "modelmon").glob("*/*/*/*/*/model-bias"))[:1]
    assert json.loads((report / "analysis.json").read_text()) == results[0]["analysis"]
    consumer = Consumer(settings.kafka.librdkafka_config() | {
        "group.id": f"{topic}-bias-reader", "auto.offset.reset": "earliest"})  # fmt: skip
    consumer.subscribe([topic])
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not found:
        msg = consumer.poll(0.5)
        if msg is not None and msg.error() is None:
            event = json.loads(msg.value())
            if event["check_type"] == "bias_drift_check" and event["state"] == "ALARM":
                found.append(event)
    consumer.close()
    assert found and found[0]["feature"].startswith("group=b/")
