"""Stress of the exact small-window path against the integration test's event stream.

``tests/integration/test_aggregator.py::test_window_profiles_equal_a_one_pass_profile_of_the_same_events``
once lost rows per (model, window) on one partition under load. This drives the same events
(two models, three partitions, in event-time order) through one ``PartitionAggregate`` per
partition as the aggregator does: consume batches made of runs of partitions (as librdkafka
hands them), each partition's part decoded natively in one call, periodic flushes that write a
partition when the real cadence (``flush_due`` with the default ``FlushCadence``) or a forced
flush says so, the last written partial per window kept as Redis keeps it (last write wins),
registry reloads (new plan objects) and restarts from the stored state. Every window's final
partial must hold exactly its events: row count, per-feature counts, extremes and categories.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelmon.keys import WindowRef
from modelmon.profile import DatasetProfile
from modelmon.profile.categorical import CategoricalProfile
from modelmon.profile.numeric import NumericProfile
from modelmon.streaming import native_decode
from modelmon.streaming.partition import FlushCadence, ModelPlan, PartitionAggregate
from modelmon.windows import WindowSpec

pytestmark = pytest.mark.skipif(
    not native_decode.available(),
    reason="the native decoder is not built (no cargo when the venv was made): no shared blocks",
)

T0 = 1_767_225_600_000
SIZE = 10_000
PARTITIONS = 3
KINDS: dict[str, Any] = {"x": "numeric", "y": "numeric", "color": "categorical"}


@dataclass(frozen=True)
class Event:
    """tests/integration/test_aggregator_support.py's event, encoded the same way."""

    model_id: str
    t_ms: int
    inputs: dict[str, Any]
    partition: int

    def encode(self) -> bytes:
        when = datetime.fromtimestamp(self.t_ms / 1000, UTC).isoformat().replace("+00:00", "Z")
        return orjson.dumps(
            {"model_id": self.model_id, "event_time": when, "inputs": self.inputs,
             "outputs": {"prediction": 1}}
        )  # fmt: skip


def make_events(model_id: str, start_ms: int, n: int, spacing_ms: int, seed: int) -> list[Event]:
    """The integration helper's ``make_events`` (same values, partition = i % 3)."""
    rng = np.random.default_rng(seed)
    xs = rng.normal(10.0, 2.0, n).round(4)
    ys = rng.integers(0, 100, n)
    colors = rng.choice(["red", "green", "blue"], n)
    return [
        Event(model_id, start_ms + i * spacing_ms,
              {"x": float(xs[i]), "y": int(ys[i]), "color": str(colors[i])}, i % PARTITIONS)
        for i in range(n)
    ]  # fmt: skip


def _events() -> list[Event]:
    events = make_events("m1", T0 + 3, 3000, 9, seed=1)
    events += make_events("m2", T0 + 5, 1000, 20, seed=2)
    events.sort(key=lambda e: e.t_ms)
    return events


EVENTS = _events()
VALUES = {p: [e.encode() for e in EVENTS if e.partition == p] for p in range(PARTITIONS)}


def _plans() -> dict[str, ModelPlan]:
    """The plans as the registry gives them (new objects on every reload)."""
    spec = WindowSpec(SIZE, 2_000, 60_000)
    return {
        m: ModelPlan(spec, kinds=dict(KINDS), features=("x", "y", "color")) for m in ("m1", "m2")
    }


@pytest.fixture(autouse=True)
def _native_on(native_decoder: None) -> None:
    """Whichever decoder the run selected (MODELMON_NATIVE)."""


@dataclass
class _Run:
    """The partitions' aggregates and what the store holds of each."""

    rng: random.Random
    plans: dict[str, ModelPlan] = field(default_factory=_plans)
    aggs: dict[int, PartitionAggregate] = field(default_factory=dict)
    stored: dict[int, dict[WindowRef, tuple[int, bytes]]] = field(default_factory=dict)
    at: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for p in range(PARTITIONS):
            self.aggs[p], self.stored[p], self.at[p] = PartitionAggregate(None), {}, 0

    def consume(self, max_batch: int) -> None:
        """One consume batch: runs of partitions, each partition's part folded in at once."""
        budget = self.rng.randint(1, max_batch)
        parts: dict[int, tuple[int, list[bytes]]] = {}
        while budget > 0:
            live = [p for p in range(PARTITIONS) if self.at[p] < len(VALUES[p])]
            if not live:
                break
            p = self.rng.choice(live)
            run = VALUES[p][self.at[p] : self.at[p] + self.rng.randint(1, budget)]
            first, values = parts.get(p, (self.at[p], []))
            parts[p] = (first, values + run)
            self.at[p] += len(run)
            budget -= len(run)
        features = {m: list(plan.features) for m, plan in self.plans.items()}
        for p, (first, values) in sorted(parts.items()):
            got = native_decode.decode_mixed(values, features)
            assert got is not None and not got[1]
            self.aggs[p].add(got[0], first + len(values) - 1, self.plans)

    def flush(self, p: int, restart: bool) -> None:
        agg = self.aggs[p]
        plan = agg.flush_plan()
        agg.flushed(plan)
        self.stored[p].update({ref: (close, blob) for ref, close, blob in plan.partials})
        if restart:  # resume from the store, as an assignment or a fenced write does
            lowest = min([plan.watermark, *(m for _, m in plan.model_watermarks)])
            opened = {
                ref: (close, DatasetProfile.deserialize(blob))
                for ref, (close, blob) in self.stored[p].items()
                if close > lowest
            }
            marks = dict(plan.model_watermarks)
            self.aggs[p] = PartitionAggregate(plan.next_offset, plan.watermark, opened, marks)

    def done(self) -> bool:
        return all(self.at[p] == len(VALUES[p]) for p in range(PARTITIONS))


def _check(got: DatasetProfile, rows: list[Event]) -> None:
    assert got.row_count == len(rows)
    for name in ("x", "y"):
        values = [float(e.inputs[name]) for e in rows]
        f = got.features[name]
        assert isinstance(f, NumericProfile)
        assert (f.count, f.missing, f.type_mismatches) == (len(rows), 0, 0), name
        assert (f.min, f.max) == (min(values), max(values)), name
        assert math.isclose(f.mean, sum(values) / len(values), rel_tol=1e-9), name
    color = got.features["color"]
    assert isinstance(color, CategoricalProfile)
    assert color.counts() == dict(Counter(str(e.inputs["color"]) for e in rows))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    max_batch=st.sampled_from([1, 7, 50, 500, 1500, 5000, 20_000]),
    forced=st.floats(0.0, 0.5),
    restarts=st.floats(0.0, 0.2),
)
def test_every_window_partial_holds_exactly_its_events(
    seed: int, max_batch: int, forced: float, restarts: float
) -> None:
    run = _Run(random.Random(seed))
    cadence = FlushCadence()  # the service's default (settings: flush_bytes_per_event, ...)
    while not run.done():
        run.consume(max_batch)
        if run.rng.random() < 0.05:
            run.plans = _plans()  # a registry reload
        waited = run.rng.choice([0.0, 0.3, 1.0, cadence.max_seconds])
        for p, agg in run.aggs.items():
            if agg.pending and (run.rng.random() < forced or agg.flush_due(waited, cadence)):
                run.flush(p, restart=run.rng.random() < restarts)
    for p, agg in run.aggs.items():
        if agg.pending:
            run.flush(p, restart=False)
        assert not agg.open_windows or agg.stored_offset == len(VALUES[p])
        mine = [e for e in EVENTS if e.partition == p]
        want = Counter((e.model_id, e.t_ms - e.t_ms % SIZE) for e in mine)
        got = {(ref.model_id, ref.start_ms): DatasetProfile.deserialize(blob)
               for ref, (_, blob) in run.stored[p].items()}  # fmt: skip
        assert {k: v.row_count for k, v in got.items()} == dict(want), p
        for (model, start), profile in got.items():
            _check(
                profile, [e for e in mine if (e.model_id, e.t_ms - e.t_ms % SIZE) == (model, start)]
            )
