"""The aggregator's attribution partials (pure): the same events as the profile, once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from modelmon.keys import WindowRef
from modelmon.profile import DatasetProfile
from modelmon.streaming.attributions import PartitionAttributions, attributions_of
from modelmon.streaming.decode import decode_batch
from modelmon.streaming.partition import ModelPlan, PartitionAggregate
from modelmon.windows import WindowSpec

T0 = 1_767_225_600_000
SPEC = WindowSpec(size_ms=1_000, lateness_ms=0, idle_timeout_ms=5_000)
PLANS = {"m": ModelPlan(SPEC), "other": ModelPlan(SPEC)}


def _msg(model: str, t_ms: int, attributions: Any = None) -> bytes:
    when = datetime.fromtimestamp(t_ms / 1000, UTC).isoformat()
    doc: dict[str, Any] = {"model_id": model, "event_time": when, "inputs": {"x": 1}}
    if attributions is not None:
        doc["attributions"] = attributions
    return orjson.dumps(doc)


@given(st.lists(st.tuples(st.integers(0, 4_000), st.booleans()), min_size=1, max_size=60))
@settings(max_examples=60, deadline=None)
def test_attributions_cover_exactly_the_events_the_profile_covers(
    events: list[tuple[int, bool]],
) -> None:
    values = [_msg("m" if mine else "other", T0 + t, {"a": 1.0, "b": -2.0}) for t, mine in events]
    agg, tracker = PartitionAggregate(None), PartitionAttributions(None)
    profiled: dict[WindowRef, int] = {}
    for start in range(0, len(values), 7):  # batches of 7, in offset order
        chunk = values[start : start + 7]
        batch, _ = decode_batch(chunk)
        offsets = list(range(start, start + len(chunk)))
        tracker.add(chunk, offsets, batch, PLANS, {"m": "label0"}, agg.models.of)
        agg.add(batch, offsets[-1], PLANS)
        plan = agg.flush_plan()
        agg.flushed(plan)
        for ref, _, blob in plan.partials:  # each partial is the window's whole profile
            profiled[ref] = DatasetProfile.deserialize(blob).row_count
    attributed = {
        ref: state.labels["label0"]["a"].count
        for ref in {WindowRef("m", 1_000, T0 + s) for s in range(0, 5_000, 1_000)}
        if (state := tracker.state(ref)) is not None
    }
    assert attributed == {ref: n for ref, n in profiled.items() if ref.model_id == "m"}


def test_other_models_missing_and_malformed_attributions_are_ignored() -> None:
    values = [
        _msg("m", T0, {"a": 1.0}),
        _msg("m", T0 + 1),  # none
        _msg("m", T0 + 2, {"a": "high"}),  # not a number: the validator rejects the event
        _msg("other", T0 + 3, {"a": 5.0}),  # no explainability section
    ]
    assert attributions_of(values[2]) is None and attributions_of(b"") is None
    batch, _ = decode_batch(values)
    tracker = PartitionAttributions(None)
    taken = tracker.add(values, [0, 1, 2, 3], batch, PLANS, {"m": "label0"}, lambda _: -1)
    assert taken == 1
    state = tracker.state(WindowRef("m", 1_000, T0))
    assert state is not None and state.global_shap("label0") == {"a": 1.0}
    assert tracker.state(WindowRef("other", 1_000, T0)) is None


def test_offsets_the_stored_partials_hold_are_skipped_and_closed_windows_leave() -> None:
    values = [_msg("m", T0 + i, {"a": 1.0}) for i in range(4)]
    batch, _ = decode_batch(values)
    tracker = PartitionAttributions(stored_offset=2)  # offsets 0-1 are stored already
    assert tracker.add(values, [0, 1, 2, 3], batch, PLANS, {"m": "label0"}, lambda _: -1) == 2
    plan = tracker.flush_plan(4)
    assert plan is not None and plan.from_offset == 2 and len(plan.partials) == 1
    assert tracker.flush_plan(2) is None  # nothing new past the stored offset
    tracker.flushed(plan, {"m": T0 + 5_000})  # the model's watermark passed the window
    assert tracker.open_windows == 0 and tracker.stored_offset == 4
