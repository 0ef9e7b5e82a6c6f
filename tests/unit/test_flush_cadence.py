"""The size-aware flush cadence (issue 23 item 2): which partitions a periodic flush writes, and
the flush-size estimate it rests on."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from modelmon.profile import ProfileTracker
from modelmon.streaming.decode import DecodedBatch
from modelmon.streaming.partition import FlushCadence, ModelPlan, PartitionAggregate
from modelmon.windows import WindowSpec

PLAN = ModelPlan(WindowSpec(10_000, 2_000, 5_000), kinds={"x": "numeric", "c": "categorical"})
CADENCE = FlushCadence(bytes_per_event=64.0, max_seconds=10.0)


def _batch(times: list[int], xs: list[float]) -> DecodedBatch:
    return DecodedBatch(
        index=np.arange(len(times), dtype=np.int64),
        event_ms=np.array(times, dtype=np.int64),
        model_ids=["m"] * len(times),
        inputs=[{"x": x, "c": f"v{int(x) % 7}"} for x in xs],
    )


def _fed(times: list[int]) -> PartitionAggregate:
    agg = PartitionAggregate(stored_offset=None)
    agg.add(_batch(times, [float(i) for i in range(len(times))]), len(times) - 1, {"m": PLAN})
    return agg


@settings(max_examples=40, deadline=None)
@given(
    rows=st.integers(1, 6000),
    batches=st.integers(1, 4),
    card=st.integers(1, 3000),
    seed=st.integers(0, 2**16),
)
def test_the_flush_size_estimate_is_close_to_the_serialized_size(
    rows: int, batches: int, card: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    tracker = ProfileTracker({"x": "numeric", "c": "categorical"})
    for _ in range(batches):
        cats = np.array([f"cat-{i}" for i in rng.integers(0, card, rows)], dtype=object)
        tracker.update({"x": rng.normal(0, 1, rows), "c": cats, "y": rng.random(rows)})
    actual = len(tracker.snapshot().serialize())
    assert 0.7 * actual <= tracker.estimated_bytes() <= 1.3 * actual + 200


def test_nothing_pending_is_never_due() -> None:
    agg = PartitionAggregate(stored_offset=5)
    assert not agg.flush_due(100.0, CADENCE)


def test_a_partition_whose_partials_are_cheap_per_event_is_due() -> None:
    agg = _fed([1_000] * 2_000)  # ~16 KB for 2,000 events: ~10 B per event
    assert agg.flush_due(0.0, CADENCE)


def test_an_expensive_partition_waits_until_a_window_completes_or_max_seconds() -> None:
    agg = _fed([1_000, 2_000])  # two events, ~ a kilobyte of partial: not worth a write yet
    assert agg.estimated_flush_bytes() > 2 * CADENCE.bytes_per_event
    assert not agg.flush_due(9.9, CADENCE)
    assert agg.flush_due(10.0, CADENCE)  # the oldest unwritten event waited max_seconds
    assert agg.flush_due(0.0, FlushCadence(bytes_per_event=0))  # 0: every flush writes
    agg.add(_batch([13_000], [3.0]), 2, {"m": PLAN})  # watermark 13 s > close 12 s
    assert agg.completed_windows()
    assert agg.flush_due(0.0, CADENCE)  # the detector waits for the completed window


def test_only_offsets_moved_is_due_at_once() -> None:
    agg = PartitionAggregate(stored_offset=None)
    agg.add(_batch([], []), 9, {"m": PLAN})  # e.g. a batch of dead letters only
    assert agg.pending and agg.flush_due(0.0, CADENCE)


def test_a_skipped_flush_loses_nothing_the_next_write_carries_every_event() -> None:
    agg = _fed([1_000, 2_000])
    assert not agg.flush_due(1.0, CADENCE)
    agg.add(_batch([3_000, 4_000], [7.0, 8.0]), 3, {"m": PLAN})
    plan = agg.flush_plan()
    from modelmon.profile import DatasetProfile

    ((_, _, blob),) = plan.partials
    assert plan.from_offset is None and plan.next_offset == 4
    assert DatasetProfile.deserialize(blob).row_count == 4 and plan.events == 4
