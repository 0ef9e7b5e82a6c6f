"""The per-model feature cap (issue 19, class 5): feature-name floods are counted, not profiled
without bound, and cannot change another model's window."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from modelmon.profile import DatasetProfile
from modelmon.streaming.decode import DecodedBatch
from modelmon.streaming.feature_cap import cap_features
from modelmon.streaming.partition import ModelPlan, PartitionAggregate
from modelmon.windows import WindowSpec

SPEC = WindowSpec(10_000, 2_000, 5_000)
names = st.text("abcdefgh", min_size=1, max_size=3)
rows = st.lists(st.dictionaries(names, st.one_of(st.none(), st.integers(0, 9)), max_size=12),
                min_size=1, max_size=20)  # fmt: skip


def _batch(inputs: list[dict[str, object]], model: str = "flood") -> DecodedBatch:
    n = len(inputs)
    return DecodedBatch(
        index=np.arange(n, dtype=np.int64), event_ms=np.full(n, 1_000, dtype=np.int64),
        model_ids=[model] * n, inputs=inputs,  # type: ignore[arg-type]
    )  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(rows, min_size=1, max_size=5), st.integers(1, 8), st.sets(names, max_size=3))
def test_a_window_never_profiles_more_than_the_cap_and_counts_the_rest(
    batches: list[list[dict[str, object]]], cap: int, configured: set[str]
) -> None:
    plan = ModelPlan(SPEC, features=tuple(sorted(configured)), max_features=cap)
    agg = PartitionAggregate(stored_offset=None)
    for i, inputs in enumerate(batches):
        agg.add(_batch(inputs), last_offset=i, plans={"flood": plan})
    [(_, _, blob)] = agg.flush_plan().partials
    profile = DatasetProfile.deserialize(blob)
    assert set(profile.features) >= configured
    assert len(profile.features) <= max(cap, len(configured))
    values = sum(v is not None for inputs in batches for row in inputs for v in row.values())
    profiled = sum(f.count for f in profile.features.values())  # present values
    assert profiled + agg.over_cap["flood"] == values


def test_a_flood_of_names_in_one_model_leaves_another_models_window_exact() -> None:
    plans = {"flood": ModelPlan(SPEC, max_features=10), "calm": ModelPlan(SPEC, max_features=10)}
    flood = [{f"n{i}_{j}": j for j in range(1000)} for i in range(100)]  # 100k new names
    calm = [{"x": float(i)} for i in range(50)]
    agg = PartitionAggregate(stored_offset=None)
    agg.add(_batch(flood), last_offset=0, plans=plans)
    agg.add(_batch(calm, "calm"), last_offset=1, plans=plans)
    plan = agg.flush_plan()
    partials = {ref.model_id: DatasetProfile.deserialize(b) for ref, _, b in plan.partials}
    assert len(partials["flood"].features) == 10
    profiled = sum(f.count for f in partials["flood"].features.values())
    assert agg.over_cap["flood"] == 100 * 1000 - profiled > 0
    assert partials["calm"].row_count == 50 and list(partials["calm"].features) == ["x"]


def test_configured_features_always_pass_the_cap() -> None:
    cols = {"a": [1], "b": [2], "z": [3]}
    kept, dropped = cap_features(cols, tracked=set(), configured={"z"}, limit=1)
    assert list(kept) == ["z"] and dropped == 2
