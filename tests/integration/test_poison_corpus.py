"""Issue 19's property-based corpus on the real stack: random bytes, invalid UTF-8 at random
positions, huge numbers, deep nesting, wrong shapes, dates across the whole range and valid
events, produced to the capture topic while an aggregator and an archiver run. At the end both
are alive, every message is counted, archived or dead-lettered exactly once by each, and the
good events' window counts are exact."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import Producer
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from capture_corpus import bad, dated_outside, feature_flood, good
from conftest import wait_until
from modelmon.archive.store import LocalStore
from modelmon.config import ModelConfig
from modelmon.events import DeadLetterRecord
from modelmon.keys import Keys
from modelmon.limits import epoch_ms
from modelmon.registry import Registry
from modelmon.settings import Settings

from .test_aggregator_support import (
    IN_ORDER,
    ServiceProcess,
    caught_up,
    high_watermarks,
    merged_windows,
    service_env,
)
from .test_archiver import archiver_env, consume_all

PARTITIONS = 2
SIZE_MS = 10_000
FEATURES = ("age", "income", "state", "score", "flag")
PAST_MS = 30 * 86_400_000
NOW_MS = int(time.time() * 1000)
BASE_MS = NOW_MS - 600_000 - NOW_MS % SIZE_MS  # good events: ten minutes ago, one minute long

corpus = st.lists(
    st.one_of(
        good(base_ms=BASE_MS),
        bad,
        dated_outside(NOW_MS - PAST_MS, NOW_MS + 300_000),
        feature_flood(BASE_MS).map(lambda m: ("flood", m[1])),
    ),
    min_size=200,
    max_size=300,
)


def _register(redis_client: Any, prefix: str) -> None:
    registry = Registry(redis_client, Keys(prefix))
    for model in ("m-a", "m-b"):
        registry.register(ModelConfig.model_validate({
            "model_id": model, "features": [{"name": f} for f in FEATURES],
            "window": {"size_seconds": SIZE_MS // 1000, "allowed_lateness_seconds": 3600},
        }))  # fmt: skip


def _produce(settings: Settings, topic: str, messages: list[tuple[str, bytes]]) -> None:
    producer = Producer(settings.kafka.librdkafka_config() | IN_ORDER)
    for i, (_, value) in enumerate(messages):
        producer.produce(topic, value, b"m-a", partition=i % PARTITIONS)
    assert producer.flush(60) == 0


def _archived(dest: Path) -> list[dict[str, Any]]:
    store = LocalStore(dest)
    return [orjson.loads(line) for key in store.list("") for line in
            store.get(key).splitlines() if line.strip()]  # fmt: skip


@settings(
    max_examples=3, derandomize=True, deadline=None, phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)  # fmt: skip
@given(corpus)
def test_corpus_is_counted_archived_or_dead_lettered_exactly_once(
    settings: Settings, new_topic: Callable[..., str], consumer_group: str, redis_client: Any,
    redis_prefix: str, tmp_path: Path, messages: list[tuple[str, bytes]],
) -> None:  # fmt: skip
    run = f"{len(list(tmp_path.iterdir()))}"
    topic, deadletter = new_topic(PARTITIONS), new_topic(1)
    prefix, group, dest = f"{redis_prefix}-{run}", f"{consumer_group}-{run}", tmp_path / run
    _register(redis_client, prefix)
    _produce(settings, topic, messages)
    limits = {"MODELMON_LIMITS__PAST_SECONDS": str(PAST_MS // 1000),
              "MODELMON_LIMITS__MAX_FEATURES": "50"}  # fmt: skip
    agg = ServiceProcess("aggregator", service_env(prefix, topic, group, deadletter) | limits,
                         tmp_path / f"agg-{run}.log").start()  # fmt: skip
    arc = ServiceProcess("archiver", archiver_env(topic, deadletter, group + "-arc", str(dest)),
                         tmp_path / f"arc-{run}.log").start()  # fmt: skip
    kinds = Counter(k for k, _ in messages)
    print("corpus:", dict(kinds))  # the figures of the closing note (pytest -s)
    counted = kinds["good"] + kinds["flood"]  # valid and within bounds
    to_agg_dl = len(messages) - counted
    to_arc_dl = len(messages) - counted - kinds["out_of_bounds"]
    try:
        offsets = high_watermarks(settings, topic, PARTITIONS)
        wait_until(lambda: caught_up(redis_client, prefix, topic, offsets) or not agg.alive(),
                   120, "the aggregator to catch up")  # fmt: skip
        dead = consume_all(settings, deadletter, group + "-dl", to_agg_dl + to_arc_dl, wait_until)
        wait_until(lambda: len(_archived(dest)) >= len(messages) - to_arc_dl or not arc.alive(),
                   120, "the archive")  # fmt: skip
        assert agg.alive(), agg.logs()
        assert arc.alive(), arc.logs()
    finally:
        assert agg.terminate() == 0, agg.logs()
        assert arc.terminate() == 0, arc.logs()
    source = {(i % PARTITIONS, i // PARTITIONS): kind for i, (kind, _) in enumerate(messages)}
    records = [DeadLetterRecord.model_validate_json(m.value()) for m in dead]
    kept = {"aggregator": {"good", "flood"}, "archiver": {"good", "flood", "out_of_bounds"}}
    for service, refused in kept.items():
        got = [(r.source_partition, r.source_offset) for r in records if r.service == service]
        assert len(got) == len(set(got)), f"{service} dead-lettered a message twice"
        assert {source[s] for s in got} <= set(kinds) - refused
        assert len(got) == sum(n for k, n in kinds.items() if k not in refused), service
    assert len(_archived(dest)) == counted + kinds["out_of_bounds"]
    windows = merged_windows(redis_client, prefix, topic, PARTITIONS)
    got_counts = {(ref.model_id, ref.start_ms): w.profile.row_count for ref, w in windows.items()}
    expected: Counter[tuple[str, int]] = Counter()
    for kind, value in messages:
        if kind in ("good", "flood"):
            doc = orjson.loads(value)
            ms = epoch_ms(datetime.fromisoformat(doc["event_time"]))
            expected[(doc["model_id"], ms - ms % SIZE_MS)] += 1
    assert got_counts == dict(expected)
    assert sum(w.late for w in windows.values()) == 0
