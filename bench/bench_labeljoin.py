"""Label-join benchmarks: predictions held and labels joined per CPU-second (one process, the
joiner's real code path against the stack's Redis), bytes per pending prediction in Redis, and
the same join + per-window metrics done the way a user would without modelmon (pandas merge +
scikit-learn per window) on the same data.

Needs Redis from the local stack. Markdown on stdout, progress on stderr.
Usage: .venv/bin/python bench/bench_labeljoin.py [--predictions 200000]
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from confluent_kafka import TopicPartition
from prometheus_client import CollectorRegistry
from sklearn import metrics as skm

from modelmon.adapters.redis import make_redis
from modelmon.keys import Keys
from modelmon.quality.join import JoinRecord, ModelQuality, encode
from modelmon.quality.problem import QualitySpec
from modelmon.quality.store import JoinStore
from modelmon.settings import Settings
from modelmon_services.labeljoin.joiner import Joiner
from modelmon_services.labeljoin.metrics import LabelJoinMetrics
from summary import headline

T0 = 1_767_225_600_000
WINDOW_MS = 3_600_000
TOPIC = "bench.labeljoin"


@dataclass
class _Msg:
    _value: bytes
    _offset: int

    def error(self) -> None:
        return None

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset

    def value(self) -> bytes:
        return self._value


class _Consumer:
    """Hands the joiner pre-encoded join records, as the join topic would."""

    def __init__(self, values: list[bytes]) -> None:
        self.values, self.at = values, 0

    def consume(self, n: int, timeout: float) -> list[_Msg]:
        chunk = [_Msg(v, self.at + i) for i, v in enumerate(self.values[self.at : self.at + n])]
        self.at += len(chunk)
        return chunk

    def assign(self, partitions: Any) -> None:
        pass

    def commit(self, **_: Any) -> None:
        pass


def _data(n: int, seed: int = 1) -> tuple[list[bytes], list[bytes], pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    t = T0 + np.sort(rng.integers(0, 10 * WINDOW_MS, n))
    prob = rng.random(n)
    truth = np.where(rng.random(n) < 0.8, prob >= 0.5, prob < 0.5).astype(int)
    ids = [str(uuid.UUID(int=i + 1)) for i in range(n)]  # 36 characters, like real inference ids
    model = "churn-xgb"
    preds = [
        encode(JoinRecord("p", model, ids[i], int(t[i]), int(prob[i] >= 0.5), float(prob[i])))
        for i in range(n)
    ]
    labels = [
        encode(JoinRecord("l", model, ids[i], int(t[i]) + 60_000, int(truth[i]))) for i in range(n)
    ]
    pdf = pd.DataFrame({"id": ids, "t": t, "prob": prob, "pred": (prob >= 0.5).astype(int)})
    ldf = pd.DataFrame({"id": ids, "label": truth})
    return preds, labels, pdf, ldf


def _joiner(store: JoinStore, values: list[bytes]) -> tuple[Joiner, _Consumer]:
    model = ModelQuality(QualitySpec("BinaryClassification"), WINDOW_MS, 7 * 86_400_000, 100)
    consumer = _Consumer(values)
    joiner = Joiner(
        consumer, store, lambda: {"churn-xgb": model}, topic=TOPIC, partitions=1,  # type: ignore[arg-type]
        publish=lambda result, model: None, retry=lambda what, action: action(),
        clock_ms=lambda: int(time.time() * 1000), metrics=LabelJoinMetrics(CollectorRegistry()),
    )  # fmt: skip
    joiner._on_assign(consumer, [TopicPartition(TOPIC, 0)])  # type: ignore[arg-type]
    return joiner, consumer


def _drain(joiner: Joiner, consumer: _Consumer, batch: int = 5000) -> float:
    """CPU seconds to consume everything, flushing every 20,000 records (as 1 s would)."""
    started = time.process_time()
    since = 0
    while consumer.at < len(consumer.values):
        since += joiner.step(batch, 0)
        if since >= 20_000:
            joiner.flush()
            since = 0
    joiner.flush()
    return time.process_time() - started


def _pandas_way(pdf: pd.DataFrame, ldf: pd.DataFrame) -> float:
    started = time.process_time()
    joined = pdf.merge(ldf, on="id", how="inner")
    joined["window"] = joined["t"] // WINDOW_MS
    for _, w in joined.groupby("window"):
        y, p, s = w["label"].to_numpy(), w["pred"].to_numpy(), w["prob"].to_numpy()
        skm.confusion_matrix(y, p)
        skm.accuracy_score(y, p), skm.precision_score(y, p), skm.recall_score(y, p)
        skm.f1_score(y, p), skm.fbeta_score(y, p, beta=2), skm.fbeta_score(y, p, beta=0.5)
        skm.roc_auc_score(y, s)
    return time.process_time() - started


def _pending_bytes(redis: Any, keys: Keys, n: int) -> float:
    used = sum(
        int(redis.memory_usage(k, samples=0) or 0)
        for k in (keys.labeljoin_pending(0), keys.labeljoin_deadlines(0))
    )
    return used / n


def _latency(settings: Settings, rounds: int = 5) -> list[float]:
    """Seconds from the label that completes a window's min_labels to its ALARM on the alerts
    topic: `modelmon run labeljoin` (default 1 s flush) on the stack, fresh topics and prefix."""
    import json
    import os
    import subprocess

    from confluent_kafka import Consumer, Producer
    from confluent_kafka.admin import NewTopic

    from modelmon.adapters.kafka import make_admin
    from modelmon.config import ModelConfig
    from modelmon.registry import Registry

    tag = uuid.uuid4().hex[:8]
    names = {k: f"bench-lj-{k}-{tag}" for k in ("capture", "labels", "join", "alerts", "dead")}
    admin = make_admin(settings.kafka)
    for f in admin.create_topics([NewTopic(n, num_partitions=3 if k == "join" else 1)
                                  for k, n in names.items()]).values():  # fmt: skip
        f.result(30)
    redis, prefix = make_redis(settings.redis), f"bench-ljl-{tag}"
    constraints = {"binary_classification_constraints": {
        "accuracy": {"threshold": 0.99, "comparison_operator": "LessThanThreshold"}}}  # fmt: skip
    Registry(redis, Keys(prefix)).register(ModelConfig.model_validate({
        "model_id": "lat", "window": {"size_seconds": 60}, "alerts": {"cloudwatch": {
            "enabled": False}}, "quality": {"problem_type": "BinaryClassification",
        "min_labels": 100, "constraints": constraints}}))  # fmt: skip
    env = os.environ | {
        "MODELMON_REDIS__KEY_PREFIX": prefix, "MODELMON_TOPICS__CAPTURE": names["capture"],
        "MODELMON_TOPICS__LABELS": names["labels"], "MODELMON_TOPICS__ALERTS": names["alerts"],
        "MODELMON_TOPICS__DEADLETTER": names["dead"], "MODELMON_LABELJOIN__TOPIC": names["join"],
        "MODELMON_LABELJOIN__PARTITIONS": "3", "MODELMON_ADMIN__PORT": "0",
        "MODELMON_LABELJOIN__ROUTER_GROUP": f"r-{tag}",
        "MODELMON_LABELJOIN__JOIN_GROUP": f"j-{tag}",
        "MODELMON_LABELJOIN__INSTANCE_ID": tag, "MODELMON_LOG_LEVEL": "WARNING",
    }  # fmt: skip
    modelmon = os.path.join(os.path.dirname(sys.executable), "modelmon")
    proc = subprocess.Popen([modelmon, "run", "labeljoin"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    producer = Producer(settings.kafka.librdkafka_config())
    alerts = Consumer(settings.kafka.librdkafka_config() | {
        "group.id": f"a-{tag}", "auto.offset.reset": "earliest"})  # fmt: skip
    alerts.subscribe([names["alerts"]])
    store = JoinStore(redis, Keys(prefix), 3600)
    latencies = []
    try:
        for r in range(rounds):
            start = T0 + r * 60_000
            for i in range(100):
                t = datetime.fromtimestamp((start + i) / 1000, tz=UTC).isoformat()
                producer.produce(names["capture"], json.dumps({
                    "model_id": "lat", "inference_id": f"l{r}-{i}", "event_time": t,
                    "inputs": {}, "outputs": {"prediction": 1, "probability": 0.9}}).encode(),
                    b"lat")  # fmt: skip
            producer.flush(30)
            deadline = time.monotonic() + 120
            while sum(store.load(p).counts["predictions"] for p in range(3)) < 100 * (r + 1):
                assert time.monotonic() < deadline, "predictions not held in time"
                time.sleep(0.05)
            for i in range(100):
                label = {"inference_id": f"l{r}-{i}", "model_id": "lat", "label": i % 2,
                         "label_time": "2026-01-01T00:00:00Z"}  # fmt: skip
                producer.produce(names["labels"], json.dumps(label).encode(), f"l{r}-{i}".encode())
            producer.flush(30)
            sent = time.monotonic()
            while time.monotonic() - sent < 60:
                msg = alerts.poll(0.05)
                if msg is not None and msg.error() is None and b'"ALARM"' in msg.value():
                    latencies.append(time.monotonic() - sent)
                    break
    finally:
        proc.terminate()
        proc.wait(60)
        alerts.close()
        for key in redis.scan_iter(f"{prefix}:*", count=1000):
            redis.delete(key)
        admin.delete_topics(list(names.values()))
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--predictions", type=int, default=200_000)
    n = parser.parse_args().predictions
    settings = Settings()
    redis = make_redis(settings.redis)
    prefix = f"bench-lj-{uuid.uuid4().hex[:8]}"
    keys = Keys(prefix)
    store = JoinStore(redis, keys, 86_400)
    print(f"label join: {n:,} predictions then their labels", file=sys.stderr)
    preds, labels, pdf, ldf = _data(n)
    try:
        joiner, consumer = _joiner(store, preds + labels)
        consumer.values = preds
        held_cpu = _drain(joiner, consumer)
        per_pending = _pending_bytes(redis, keys, n)
        consumer.values = preds + labels
        joined_cpu = _drain(joiner, consumer)
        stored = store.load(0).counts
        assert stored["joined"] == n, stored
    finally:
        for key in redis.scan_iter(f"{prefix}:*", count=1000):
            redis.delete(key)
    pandas_cpu = _pandas_way(pdf, ldf)
    print("label -> quality alert latency (5 windows)", file=sys.stderr)
    latencies = sorted(_latency(settings))
    held_rate, joined_rate, pandas_rate = n / held_cpu, n / joined_cpu, n / pandas_cpu
    print("## Label join\n")
    print(f"{n:,} predictions (UUID inference ids) over 10 one-hour windows, then one label each")
    print("(binary, AUC state);")
    print("one process, the joiner's code path with fenced flushes every 20,000 records to the")
    print("stack's Redis (CPU time of this process; Redis' own CPU not included).\n")
    print("| what | value |\n|---|---|")
    print(f"| predictions held per CPU-second | {held_rate:,.0f} |")
    print(f"| labels joined per CPU-second (join + window quality state + flush) | "
          f"{joined_rate:,.0f} |")  # fmt: skip
    print(f"| bytes per pending prediction in Redis (hash entry + deadline) | {per_pending:,.0f} |")
    print(f"| pandas merge + scikit-learn per window, pairs per CPU-second | {pandas_rate:,.0f} |")
    if latencies:
        print(f"| label -> quality ALARM on the alerts topic, median / max of {len(latencies)} "
              f"| {latencies[len(latencies) // 2]:.2f} s / {latencies[-1]:.2f} s |")  # fmt: skip
    print(f"| 600M pending (1,000/s x 7 days) at this size | "
          f"{per_pending * 600e6 / 2**30:,.0f} GiB |")  # fmt: skip
    peer = f"pandas+sklearn batch {pandas_rate:,.0f}/s"
    ratio = f"{joined_rate / pandas_rate:.2f}x"
    headline("labeljoin", "labels joined per CPU-second (1 process)", f"{joined_rate:,.0f}/s",
             peer, ratio)  # fmt: skip
    headline("labeljoin", "predictions held per CPU-second", f"{held_rate:,.0f}/s")
    headline("labeljoin", "bytes per pending prediction (Redis, UUID ids)", f"{per_pending:,.0f} B")
    if latencies:
        headline("labeljoin", "label -> quality alert latency (median)",
                 f"{latencies[len(latencies) // 2]:.2f} s")  # fmt: skip


if __name__ == "__main__":
    main()
