"""Per-partition aggregation between flushes (pure)."""

from __future__ import annotations

import numpy as np

from modelmon.keys import WindowRef
from modelmon.profile import ProfileTracker
from modelmon.streaming.decode import DecodedBatch
from modelmon.streaming.partition import ModelPlan, PartitionAggregate
from modelmon.windows import WindowSpec

PLAN = ModelPlan(WindowSpec(10_000, 2_000, 5_000), kinds={"x": "numeric"})


def _batch(times: list[int], models: list[str], xs: list[float]) -> DecodedBatch:
    return DecodedBatch(
        index=np.arange(len(times), dtype=np.int64),
        event_ms=np.array(times, dtype=np.int64),
        model_ids=models,
        inputs=[{"x": x} for x in xs],
    )


def test_events_go_to_their_windows_and_late_ones_are_counted() -> None:
    agg = PartitionAggregate(stored_offset=None)
    batch = _batch(
        [1_000, 15_000, 2_000, 12_000, 3_000, 4_000],
        ["m", "m", "m", "m", "m", "ghost"],
        [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
    )
    result = agg.add(batch, last_offset=41, plans={"m": PLAN})
    assert (result.profiled, result.late, result.unknown) == (3, 2, [5])
    assert agg.next_offset == 42 and agg.stored_offset is None and agg.pending
    plan = agg.flush_plan()
    assert plan.from_offset is None and plan.next_offset == 42 and plan.watermark == 15_000
    w0, w1 = WindowRef("m", 10_000, 0), WindowRef("m", 10_000, 10_000)
    assert [(ref, close) for ref, close, _ in plan.partials] == [(w0, 12_000), (w1, 22_000)]
    assert plan.late == [(w0, 2)]
    assert plan.events == 3
    agg.flushed(plan)
    assert agg.stored_offset == 42 and not agg.pending
    assert agg.open_windows == 1  # window 0 closed at watermark 15s and left memory


def test_a_resumed_partition_continues_its_open_windows() -> None:
    tracker = ProfileTracker({"x": "numeric"})
    tracker.update({"x": np.array([1.0, 2.0])})
    ref = WindowRef("m", 10_000, 10_000)
    agg = PartitionAggregate(7, 11_000, {ref: (22_000, tracker.snapshot())})
    assert not agg.accepts(6) and agg.accepts(7)
    agg.add(_batch([13_000], ["m"], [3.0]), last_offset=7, plans={"m": PLAN})
    plan = agg.flush_plan()
    from modelmon.profile import DatasetProfile

    ((got_ref, _, blob),) = plan.partials
    assert got_ref == ref and plan.from_offset == 7 and plan.next_offset == 8
    assert DatasetProfile.deserialize(blob).row_count == 3
