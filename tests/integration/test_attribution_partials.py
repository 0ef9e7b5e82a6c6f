"""Attribution partials in Redis: exactly once beside the profile flush, on real Redis.

A crash between the attribution flush and the profile flush (the attribution offset ahead),
a replay from the profile offset, and a zombie's flush: every attribution counts once."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelmon.errors import FencedWriteError
from modelmon.keys import Keys, WindowRef
from modelmon.streaming.attribution_store import AttributionAwareStore, AttributionStore
from modelmon.streaming.decode import decode_batch
from modelmon.streaming.partition import ModelPlan, PartitionAggregate
from modelmon.streaming.store import PartitionStore
from modelmon.windows import WindowSpec

T0 = 1_767_225_600_000
SPEC = WindowSpec(size_ms=10_000, lateness_ms=0, idle_timeout_ms=5_000)
PLANS = {"m": ModelPlan(SPEC)}
LABELS = {"m": "label0"}
_RUNS = itertools.count()


def _values(n: int, offset: int = 0) -> list[bytes]:
    out = []
    for i in range(offset, offset + n):
        when = datetime.fromtimestamp((T0 + i * 10) / 1000, UTC).isoformat()
        out.append(
            orjson.dumps(
                {
                    "model_id": "m",
                    "event_time": when,
                    "inputs": {"x": i},
                    "attributions": {"a": 1.0, "b": float(i % 3)},
                }
            )
        )
    return out


def _fold(
    store: AttributionAwareStore, agg: PartitionAggregate, values: list[bytes], first: int
) -> None:
    offsets = list(range(first, first + len(values)))
    batch, rejects = decode_batch(values)
    assert not rejects
    tracker = store.trackers[0]
    tracker.add(values, offsets, batch, PLANS, LABELS, agg.models.of)
    agg.add(batch, offsets[-1], PLANS)


def _store(redis_client: Any, prefix: str) -> AttributionAwareStore:
    keys = Keys(prefix)
    return AttributionAwareStore(
        PartitionStore(redis_client, keys, "cap"), AttributionStore(redis_client, keys, "cap")
    )


class _FailingProfileStore:
    """The real store, whose next flush dies (the process crashed after the attributions)."""

    def __init__(self, inner: PartitionStore) -> None:
        self.inner = inner

    def flush(self, *args: Any) -> None:
        raise RuntimeError("crash between the two flushes")

    def load(self, p: int) -> Any:
        return self.inner.load(p)

    def clear(self, p: int) -> None:
        self.inner.clear(p)


@pytest.fixture
def prefix(redis_prefix: str) -> str:
    return redis_prefix


@given(st.integers(1, 60), st.integers(1, 60))
@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_a_crash_between_the_flushes_counts_every_attribution_once(
    redis_client: Any, prefix: str, first: int, second: int
) -> None:
    p = f"{prefix}:{next(_RUNS)}"
    keys = Keys(p)
    store = _store(redis_client, p)
    agg = PartitionAggregate(store.load(0).offset)
    _fold(store, agg, _values(first), 0)
    plan = agg.flush_plan()
    store.flush(0, plan, 0)
    agg.flushed(plan)
    # second batch: the attribution flush lands, the profile flush does not
    crashing = AttributionAwareStore(
        _FailingProfileStore(PartitionStore(redis_client, keys, "cap")),
        AttributionStore(redis_client, keys, "cap"),
    )
    crashing.trackers[0] = store.trackers[0]
    _fold(crashing, agg, _values(second, first), first)
    with pytest.raises(RuntimeError):
        crashing.flush(0, agg.flush_plan(), 0)
    # restart: resume from the profile offset, replay the second batch
    fresh = _store(redis_client, p)
    stored = fresh.load(0)
    assert stored.offset == first and fresh.trackers[0].stored_offset == first + second
    agg2 = PartitionAggregate(
        stored.offset, stored.watermark, stored.open_windows, stored.model_watermarks
    )
    _fold(fresh, agg2, _values(second, first), first)
    fresh.flush(0, agg2.flush_plan(), 0)
    state, parts = AttributionStore(redis_client, keys, "cap").window(WindowRef("m", 10_000, T0))
    n = first + second
    assert parts == 1 and state.labels["label0"]["a"].count == n
    assert state.labels["label0"]["b"].total == pytest.approx(sum(i % 3 for i in range(n)))


def test_a_zombie_attribution_flush_is_refused(redis_client: Any, prefix: str) -> None:
    store = _store(redis_client, prefix)
    agg = PartitionAggregate(store.load(0).offset)
    _fold(store, agg, _values(5), 0)
    plan = store.trackers[0].flush_plan(5)
    assert plan is not None
    AttributionStore(redis_client, Keys(prefix), "cap").flush(0, plan)
    with pytest.raises(FencedWriteError):  # the same range again: Redis moved on
        AttributionStore(redis_client, Keys(prefix), "cap").flush(0, plan)
    assert np.isfinite(
        store.trackers[0].state(WindowRef("m", 10_000, T0)).global_shap("label0")["a"]
    )
