"""The pure-Python path's shared blocks (streaming/python_blocks.py, issue 23 item 1).

``decode_blocks`` must hand a mixed batch over as the native decoder does (the same blocks:
models, codes, positions, float and tag matrices, object columns), so the exact fold of
docs/decisions/0007-exact-small-windows.md runs on both paths; and the aggregator fed those
blocks must give the profiles, watermarks and late counts of the per-model tracker reference
(``PartitionAggregate(exact=False)`` on the reference decoder's dicts).
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_exact_windows import (
    KINDS,
    SPEC,
    T0,
    _categorical_value,
    _event,
    _numeric_value,
    assert_paths_agree,
)

from modelmon.keys import WindowRef
from modelmon.profile import codec
from modelmon.streaming import native_decode
from modelmon.streaming.blocks import SharedBlock
from modelmon.streaming.decode import DecodedBatch, Rejected, decode_batch
from modelmon.streaming.partition import ModelPlan
from modelmon.streaming.python_blocks import decode_blocks, with_blocks

#: Feature plans: models sharing one, a reordering, a subset.
PLANS = (("a", "b", "c", "d"), ("b", "a", "d", "c"), ("a", "c"))
BAD = [
    None,
    b"not json",
    b'{"model_id":"m1","event_time":"2026-01-01T00:00:00Z","inputs":{"a":NaN}}',
    b'{"model_id":"m2","event_time":"2026-01-01T00:00:00Z","inputs":{"a":[1]}}',
    b'{"model_id":"m3","event_time":"2026-01-01T00:00:00Z","inputs":{"a":1e999}}',
]


def _plans(models: int) -> dict[str, ModelPlan]:
    return {
        f"m{i}": ModelPlan(SPEC, kinds=KINDS, features=PLANS[i % len(PLANS)]) for i in range(models)
    }


_value = st.one_of(_numeric_value, _categorical_value)
_row = st.tuples(
    st.integers(0, 40),  # model (past the registered ones: unknown)
    st.integers(-12_000, 4_000),  # event time jitter (late events)
    st.lists(st.integers(0, 9), min_size=5, max_size=5),  # 0: absent; the 5th: "extra"
    st.lists(_value, min_size=4, max_size=4),
    st.integers(0, 60),  # 0: a bad message instead
)


@st.composite
def _events(draw: st.DrawFn) -> tuple[list[bytes | None], int]:
    models = draw(st.integers(1, 40))
    step = draw(st.sampled_from([5, 50, 200]))
    out: list[bytes | None] = []
    for i, (m, jitter, present, row, bad) in enumerate(
        draw(st.lists(_row, min_size=20, max_size=300))
    ):
        if not bad:
            out.append(BAD[i % len(BAD)])
            continue
        names = PLANS[m % len(PLANS)] if m % 7 else PLANS[0]  # some models with another's names
        inputs = {n: v for n, v, p in zip(names, row, present, strict=False) if p}
        if not present[4]:
            inputs["extra"] = 1  # a name the plan does not list: that model keeps dicts
        out.append(_event(f"m{m % (models + 1)}", T0 + i * step + jitter, inputs))
    return out, models


def _same_block(got: SharedBlock, want: SharedBlock) -> None:
    assert got.models == want.models
    assert got.codes.tolist() == want.codes.tolist()
    assert got.positions.tolist() == want.positions.tolist()
    g, w = got.block, want.block
    assert (g.names, g.planned) == (w.names, w.planned)
    assert np.array_equal(g.floats, w.floats, equal_nan=True)
    assert np.signbit(g.floats).tolist() == np.signbit(w.floats).tolist()  # -0.0
    assert g.tags.tolist() == w.tags.tolist()
    assert g.objects.keys() == w.objects.keys()
    for name, col in w.objects.items():  # each value with its type (1 is not 1.0 nor True)
        assert list(map(repr, g.objects[name])) == list(map(repr, col)), name


def _regular(block: SharedBlock) -> bool:
    """A block of models whose events list only their plans' names (the exact fold's)."""
    return block.block.planned == len(block.block.names)


def assert_native_blocks(values: list[bytes | None], plans: dict[str, ModelPlan]) -> DecodedBatch:
    features = {m: p.features for m, p in plans.items()}
    native = native_decode.decode_mixed(values, features)
    assert native is not None
    want, want_rejects = native
    got, rejects = decode_blocks(values, features)
    assert [(r.index, r.reason, r.model_id) for r in rejects] == [
        (r.index, r.reason, r.model_id) for r in want_rejects
    ]
    assert got.index.tolist() == want.index.tolist()
    assert got.event_ms.tolist() == want.event_ms.tolist()
    assert got.model_ids == want.model_ids
    assert got.model_codes is not None and want.model_codes is not None
    assert got.model_codes.tolist() == want.model_codes.tolist()
    assert got.groups is not None and want.groups is not None
    assert list(got.groups) == list(want.groups)
    assert got.shared is not None and want.shared is not None
    regular = [s for s in want.shared if _regular(s)]
    assert len(got.shared) == len(regular)
    for g, w in zip(got.shared, regular, strict=True):
        _same_block(g, w)
    # the others (names their plan does not list) keep dicts, as the reference decodes them
    apart = {m for s in want.shared if not _regular(s) for m in s.models}
    shared_blocks = got.shared_blocks()
    assert shared_blocks is not None
    assert set(shared_blocks[1]) == apart | set(want.groups.own)
    return got


@pytest.mark.skipif(not native_decode.available(), reason="the native decoder is not built")
@settings(
    max_examples=80,
    deadline=None,
    # the fixture only selects the native path for the test's duration: nothing to reset
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(events=_events())
def test_python_blocks_are_the_native_decoders(
    events: tuple[list[bytes | None], int], native_decoder: None
) -> None:
    values, models = events
    assert_native_blocks(values, _plans(models))


def _dicts(values: list[bytes | None], _: dict[str, list[str]]) -> tuple[
        DecodedBatch, list[Rejected]]:  # fmt: skip
    return decode_batch(values)


def assert_reference_profiles(values: list[bytes | None], plans: dict[str, ModelPlan],
                              batch: int, flush_every: int) -> dict[WindowRef, bytes]:  # fmt: skip
    """The Python blocks with exact groups against the reference dicts with trackers only."""
    return assert_paths_agree(values, plans, batch, flush_every, decode_blocks, _dicts)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(events=_events(), batch=st.integers(1, 120), flush_every=st.integers(1, 4))
def test_python_blocks_give_the_reference_profiles(
    events: tuple[list[bytes | None], int], batch: int, flush_every: int
) -> None:
    values, models = events
    assert_reference_profiles(values, _plans(models), batch, flush_every)


def _inputs(rng: random.Random, names: tuple[str, ...]) -> dict[str, Any]:
    pick = {"a": rng.gauss(0, 1), "b": rng.randrange(100), "c": rng.choice("xyz"), "d": "k"}
    return {n: pick[n] for n in names}


def test_many_small_models_take_the_exact_fold_on_the_python_path() -> None:
    """200 models, three plans: every window is an exact group, as on the native path."""
    rng = random.Random(3)
    plans = _plans(200)
    values: list[bytes | None] = [
        _event(m, T0 + 1_000 + rng.randrange(8_000), _inputs(rng, plans[m].features))
        for m in plans
        for _ in range(12)
    ]
    rng.shuffle(values)
    blobs = assert_reference_profiles(values, plans, 700, 2)
    assert len(blobs) == 200
    assert {blob[5] for blob in blobs.values()} == {codec.TAG_EXACT}
    batch = with_blocks(decode_batch(values[:700])[0], {m: p.features for m, p in plans.items()})
    assert batch.shared is not None and len(batch.shared) == len(PLANS)  # a block per layout


def test_a_value_of_no_capture_type_keeps_the_dicts() -> None:
    batch = DecodedBatch(
        index=np.arange(1), event_ms=np.array([T0]), model_ids=["m0"], inputs=[{"a": [1]}]
    )  # fmt: skip
    assert with_blocks(batch, {"m0": ("a",)}) is batch
