"""The aggregator against real Kafka and Redis: streaming equals batch, late events, bad input."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from confluent_kafka import Consumer

from modelmon.keys import Keys, WindowRef
from modelmon.profile import (
    KS_ERROR_BOUND,
    CategoricalProfile,
    DatasetProfile,
    NumericProfile,
    ProfileTracker,
)
from modelmon.settings import Settings

from .test_aggregator_support import (
    Event,
    ServiceProcess,
    caught_up,
    expected_counts,
    high_watermarks,
    make_events,
    merged_windows,
    produce,
    produce_raw,
    register,
    service_env,
    wait_for,
)

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
SIZE = 10_000


def _run_until_caught_up(
    settings: Settings, redis_client: Any, prefix: str, topic: str, group: str, parts: int,
    tmp_path: Path, env: dict[str, str] | None = None,
) -> None:  # fmt: skip
    offsets = high_watermarks(settings, topic, parts)
    svc = ServiceProcess(
        "aggregator", service_env(prefix, topic, group) | (env or {}), tmp_path / "agg.log"
    ).start()
    try:
        wait_for(
            lambda: caught_up(redis_client, prefix, topic, offsets) or not svc.alive(),
            120, "the aggregator to catch up",
        )  # fmt: skip
        assert svc.alive(), svc.logs()
    finally:
        assert svc.terminate() == 0, svc.logs()


def test_window_profiles_equal_a_one_pass_profile_of_the_same_events(
    settings: Settings, new_topic: Any, consumer_group: str, redis_client: Any,
    redis_prefix: str, tmp_path: Path,
) -> None:  # fmt: skip
    topic = new_topic(partitions=3)
    register(redis_client, redis_prefix, "m1", size_seconds=10, allowed_lateness_seconds=2)
    register(redis_client, redis_prefix, "m2", size_seconds=10, allowed_lateness_seconds=2)
    events = make_events("m1", T0 + 3, 3000, 9, partitions=3, seed=1)
    events += make_events("m2", T0 + 5, 1000, 20, partitions=3, seed=2)
    events.sort(key=lambda e: e.t_ms)  # in event-time order: nothing is late
    produce(settings, topic, events)
    _run_until_caught_up(settings, redis_client, redis_prefix, topic, consumer_group, 3, tmp_path)

    windows = merged_windows(redis_client, redis_prefix, topic, 3)
    expected = {(m, SIZE, s): n for (m, s), n in expected_counts(events, SIZE).items()}
    got = {(ref.model_id, ref.size_ms, ref.start_ms): w.profile.row_count
           for ref, w in windows.items()}  # fmt: skip
    assert got == expected, _per_partition(redis_client, redis_prefix, topic, events, windows)
    assert all(w.late == 0 for w in windows.values())
    for ref, merged in windows.items():
        key = (ref.model_id, ref.start_ms)
        mine = [e for e in events if (e.model_id, e.t_ms - e.t_ms % SIZE) == key]
        one_pass = ProfileTracker({"x": "numeric", "y": "numeric", "color": "categorical"})
        one_pass.update({k: [e.inputs[k] for e in mine] for k in ("x", "y", "color")})
        batch = one_pass.snapshot()
        _compare(merged.profile.features, mine)
        _compare(batch.features, mine)
        bx, sx = batch.features["x"], merged.profile.features["x"]
        assert isinstance(bx, NumericProfile) and isinstance(sx, NumericProfile)
        probe = np.quantile([e.inputs["x"] for e in mine], np.linspace(0.05, 0.95, 19))
        assert np.max(np.abs(bx.cdf(probe) - sx.cdf(probe))) <= KS_ERROR_BOUND


def _per_partition(
    redis_client: Any, prefix: str, topic: str, events: list[Event], windows: dict[WindowRef, Any]
) -> str:  # fmt: skip
    """What each partition holds of each window against what it was sent, its late count and
    its state: enough to tell a lost flush from late (reordered) events when this fails."""
    keys = Keys(prefix)
    lines = []
    for p in range(3):
        state = redis_client.hgetall(keys.partition_state(topic, p))
        lines.append(f"partition {p} state {state}")
        for ref in windows:
            blob = redis_client.get(keys.partial(topic, p, ref))
            held = DatasetProfile.deserialize(blob).row_count if blob is not None else None
            sent = sum(1 for e in events if e.partition == p and e.model_id == ref.model_id
                       and e.t_ms - e.t_ms % ref.size_ms == ref.start_ms)  # fmt: skip
            late = redis_client.hget(keys.partition_late(topic, p), ref.member())
            lines.append(f"  {ref.member()}: holds {held}, sent {sent}, late {late}")
    return "\n".join(lines)


def _compare(features: Any, rows: list[Event]) -> None:
    xs = np.array([e.inputs["x"] for e in rows])
    x = features["x"]
    assert isinstance(x, NumericProfile)
    assert (x.count, x.missing, x.type_mismatches) == (len(rows), 0, 0)
    assert x.min == xs.min() and x.max == xs.max()
    assert abs(x.mean - xs.mean()) < 1e-9
    assert abs(x.std - xs.std()) < 1e-6
    qs = np.array([0.1, 0.5, 0.9])
    ranks = np.searchsorted(np.sort(xs), x.quantiles(qs), side="right") / len(xs)
    assert np.all(np.abs(ranks - qs) <= KS_ERROR_BOUND / 2 + 1 / len(xs))
    y = features["y"]
    assert isinstance(y, NumericProfile) and y.inferred_type == "Integral"
    color = features["color"]
    assert isinstance(color, CategoricalProfile)
    exact = {c: sum(1 for e in rows if e.inputs["color"] == c) for c in ("red", "green", "blue")}
    assert color.counts() == {c: n for c, n in exact.items() if n}


def test_late_events_are_counted_per_window_and_not_profiled(
    settings: Settings, new_topic: Any, consumer_group: str, redis_client: Any,
    redis_prefix: str, tmp_path: Path,
) -> None:  # fmt: skip
    topic = new_topic(partitions=2)
    register(redis_client, redis_prefix, "m", size_seconds=10, allowed_lateness_seconds=2)
    x = {"x": 1.0, "y": 1, "color": "red"}
    events = [
        Event("m", T0 + 1_000, x, 0),
        Event("m", T0 + 11_999, x, 0),  # window 1; window 0 stays open until 12s
        Event("m", T0 + 5_000, x, 0),  # on time
        Event("m", T0 + 12_000, x, 0),  # closes window 0 on partition 0
        Event("m", T0 + 9_999, x, 0),  # late
        Event("m", T0 + 3_000, x, 0),  # late
        Event("m", T0 + 4_000, x, 1),  # partition 1 has its own watermark: on time
    ]
    produce(settings, topic, events)
    _run_until_caught_up(settings, redis_client, redis_prefix, topic, consumer_group, 2, tmp_path)

    windows = merged_windows(redis_client, redis_prefix, topic, 2)
    w0, w1 = WindowRef("m", SIZE, T0), WindowRef("m", SIZE, T0 + SIZE)
    assert set(windows) == {w0, w1}
    assert (windows[w0].profile.row_count, windows[w0].late) == (3, 2)
    assert (windows[w1].profile.row_count, windows[w1].late) == (2, 0)
    assert windows[w0].partitions == (0, 1)
    # the archiver consumes the same topic on its own: the late events are archived too
    archived = _archive(topic, consumer_group, tmp_path, expected=len(events))
    assert sorted(archived) == sorted(e.t_ms for e in events)


def _archive(topic: str, group: str, tmp_path: Path, expected: int) -> list[int]:
    """Run the archiver over ``topic``; the event times (ms) of the records it wrote."""
    out = tmp_path / "archive"
    env = {
        "MODELMON_TOPICS__CAPTURE": topic,
        "MODELMON_ARCHIVER__DESTINATION": str(out),
        "MODELMON_ARCHIVER__GROUP_ID": f"{group}-archiver",
        "MODELMON_ARCHIVER__ROLL_SECONDS": "0.5",
        "MODELMON_ADMIN__PORT": "0",
    }
    archiver = ServiceProcess("archiver", env, tmp_path / "archiver.log").start()

    def times() -> list[int]:
        lines = [ln for f in out.rglob("*.jsonl") for ln in f.read_bytes().splitlines() if ln]
        stamps = [orjson.loads(ln)["eventMetadata"]["inferenceTime"] for ln in lines]
        return [int(np.datetime64(t.rstrip("Z"), "ms").astype(np.int64)) for t in stamps]

    try:
        wait_for(lambda: len(times()) >= expected or not archiver.alive(), 120, "the archive")
    finally:
        assert archiver.terminate() == 0, archiver.logs()
    return times()


def test_bad_input_is_dead_lettered_and_the_stream_goes_on(
    settings: Settings, new_topic: Any, consumer_group: str, redis_client: Any,
    redis_prefix: str, tmp_path: Path,
) -> None:  # fmt: skip
    topic, deadletter = new_topic(partitions=1), new_topic(partitions=1)
    register(redis_client, redis_prefix, "m", size_seconds=10, allowed_lateness_seconds=2)
    good = Event("m", T0 + 1, {"x": 1.0}).encode()
    values = [good, b"{not json", Event("ghost", T0 + 2, {"x": 1.0}).encode(), good, b""]
    produce_raw(settings, topic, values, partition=0)
    env = {"MODELMON_TOPICS__DEADLETTER": deadletter}
    _run_until_caught_up(
        settings, redis_client, redis_prefix, topic, consumer_group, 1, tmp_path, env
    )

    windows = merged_windows(redis_client, redis_prefix, topic, 1)
    assert {ref: w.profile.row_count for ref, w in windows.items()} == {WindowRef("m", SIZE, T0): 2}
    records = _read_all(settings, deadletter, 3)
    by_offset = {r["source_offset"]: r for r in records}
    assert sorted(by_offset) == [1, 2, 4]
    assert by_offset[2]["error_type"] == "UnknownModelError"
    assert by_offset[2]["model_id"] == "ghost"
    assert by_offset[1]["error_type"] == "InvalidEventError"
    assert base64.b64decode(by_offset[1]["original"]) == b"{not json"
    assert all(r["service"] == "aggregator" and r["source_topic"] == topic for r in records)


def _read_all(settings: Settings, topic: str, n: int) -> list[dict[str, Any]]:
    consumer = Consumer(
        settings.kafka.librdkafka_config()
        | {"group.id": f"read-{topic}", "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([topic])
    got: list[dict[str, Any]] = []
    try:
        wait_for(lambda: got.extend(_values(consumer)) or len(got) >= n, 60, f"{n} records")
    finally:
        consumer.close()
    assert len(got) == n
    return got


def _values(consumer: Consumer) -> list[dict[str, Any]]:
    return [orjson.loads(m.value()) for m in consumer.consume(100, 0.5) if m.error() is None]
