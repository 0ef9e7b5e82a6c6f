"""Watermarks per (model, partition) (issue 19, class 3): one model's clock or backlog never
makes another model's events late."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from modelmon.streaming.decode import DecodedBatch
from modelmon.streaming.partition import ModelPlan, PartitionAggregate
from modelmon.windows import NO_WATERMARK, PartitionProgress, WindowSpec

PLAN = ModelPlan(WindowSpec(10_000, 2_000, 5_000), kinds={"x": "numeric"})
PLANS = {"a": PLAN, "b": PLAN}


def _batch(events: list[tuple[str, int]]) -> DecodedBatch:
    return DecodedBatch(
        index=np.arange(len(events), dtype=np.int64),
        event_ms=np.array([t for _, t in events], dtype=np.int64),
        model_ids=[m for m, _ in events],
        inputs=[{"x": 1.0} for _ in events],
    )


def test_a_backlogged_model_is_not_late_behind_another_models_clock() -> None:
    """Model b is 10 minutes behind model a on the same partition: none of b's events is late."""
    agg = PartitionAggregate(stored_offset=None)
    a = [("a", 600_000 + i * 1000) for i in range(30)]
    b = [("b", i * 1000) for i in range(30)]
    result = agg.add(_batch([e for pair in zip(a, b, strict=True) for e in pair]), 59, PLANS)
    assert (result.profiled, result.late) == (60, 0)
    assert agg.models.of("a") == 629_000 and agg.models.of("b") == 29_000
    assert agg.watermark == 629_000  # the partition's own: the largest
    plan = agg.flush_plan()
    assert plan.model_watermarks == [("a", 629_000), ("b", 29_000)]
    agg.flushed(plan)  # b's windows stay open: b's watermark has not passed them
    assert {ref.model_id for ref in agg._windows} >= {"b"}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("ab"), st.integers(0, 100_000)), min_size=1,
                max_size=60))  # fmt: skip
def test_lateness_of_each_model_depends_on_its_own_events_only(
    events: list[tuple[str, int]],
) -> None:
    together = PartitionAggregate(stored_offset=None)
    late_together = together.add(_batch(events), len(events) - 1, PLANS).late
    late_alone = 0
    for model in "ab":
        alone = PartitionAggregate(stored_offset=None)
        late_alone += alone.add(_batch([e for e in events if e[0] == model]), 0, PLANS).late
    assert late_together == late_alone


def test_state_from_before_per_model_watermarks_keeps_the_old_rule() -> None:
    agg = PartitionAggregate(stored_offset=5, watermark=50_000)  # no per-model marks stored
    result = agg.add(_batch([("b", 1_000)]), 5, PLANS)
    assert result.late == 1  # as before: the partition's watermark applies to every model


def test_a_partition_is_seen_per_model_by_the_detector() -> None:
    p = PartitionProgress(0, 629_000, 60, 1, 0, 60, model_watermarks={"a": 629_000, "b": 29_000})
    assert p.for_model("b").watermark_ms == 29_000
    assert p.for_model("c").watermark_ms == 629_000  # never carried c: the partition's own
    assert PartitionProgress(0, None, None, None, 0, 0).for_model("a").watermark_ms is None
    assert NO_WATERMARK < 0
