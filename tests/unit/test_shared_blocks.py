"""Joining a mixed batch's per-model blocks per column layout (streaming/blocks.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelmon.streaming import native_decode
from modelmon.streaming.blocks import Block, ModelGroup, SharedBlock, shared_blocks
from modelmon.streaming.decode import DecodedBatch


def _block(names: list[str], rows: int, seed: int, objects: tuple[str, ...] = ()) -> Block:
    rng = np.random.default_rng(seed)
    floats = rng.normal(size=(len(names), rows))
    tags = rng.integers(0, 6, size=(len(names), rows)).astype(np.uint8)
    objs = {n: np.array([f"{n}{seed}-{i}" for i in range(rows)], dtype=object) for n in objects}
    return Block(names, len(names), floats, tags, objs)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=1, max_size=8), st.randoms(use_true_random=False))
def test_joined_rows_are_each_models_rows_in_batch_order(sizes: list[int], rnd) -> None:  # type: ignore[no-untyped-def]
    total = sum(sizes)
    owner = [m for m, n in enumerate(sizes) for _ in range(n)]
    rnd.shuffle(owner)
    groups = {}
    for m, n in enumerate(sizes):
        positions = np.flatnonzero(np.asarray(owner) == m).astype(np.int64)
        objects = ("c",) if m % 3 else ()  # two layouts: with and without an object column
        groups[f"m{m}"] = ModelGroup(positions, _block(["a", "b", "c"], n, m, objects))
    groups["dicts"] = ModelGroup(np.array([total], dtype=np.int64))
    joined, rest = shared_blocks(groups)
    assert rest == ["dicts"]
    assert sum(len(s.positions) for s in joined) == total
    for s in joined:
        assert (np.diff(s.positions) > 0).all()
        for code, model in enumerate(s.models):
            mine = s.codes == code
            group = groups[model]
            assert group.block is not None
            np.testing.assert_array_equal(s.positions[mine], group.positions)
            np.testing.assert_array_equal(s.block.floats[:, mine], group.block.floats)
            np.testing.assert_array_equal(s.block.tags[:, mine], group.block.tags)
            for name, col in group.block.objects.items():
                assert s.block.objects[name][mine].tolist() == col.tolist()


def test_a_mixed_native_batch_offers_its_shared_blocks() -> None:
    events = [
        b'{"schema_version":1,"event_id":"e%d","model_id":"m%d","event_time":'
        b'"2026-01-01T00:00:00Z","inputs":{"x":%d,"y":"k"}}' % (i, i % 3, i)
        for i in range(9)
    ]
    batch = _native(events, {f"m{i}": ["x", "y"] for i in range(3)})
    shared = batch.shared_blocks()
    assert shared is not None
    joined, rest = shared
    assert rest == [] and len(joined) == 1
    [s] = joined
    np.testing.assert_array_equal(s.positions, np.arange(9))
    assert [s.models[c] for c in s.codes.tolist()] == [f"m{i % 3}" for i in range(9)]
    assert s.block.floats[0].tolist() == [float(i) for i in range(9)]


def _native(values: list[bytes], plans: dict[str, list[str]]) -> DecodedBatch:
    if not native_decode.available():
        pytest.skip("the native decoder is not built (no cargo when the venv was made)")
    was = native_decode.active() == "native"
    native_decode.select(True)
    try:
        got = native_decode.decode_mixed(values, plans)
    finally:
        native_decode.select(was)
    assert got is not None
    return got[0]


def _event(model: str, x: object, time: str = "2026-01-01T00:00:00Z") -> bytes:
    inputs = {"x": x, "y": "k"}
    return json.dumps({"model_id": model, "event_time": time, "inputs": inputs}).encode()


def _same_as_groups_joined(batch: DecodedBatch) -> list[SharedBlock]:
    got = batch.shared_blocks()
    assert got is not None and batch.groups is not None
    shared, rest = got
    rejoined, rest_again = shared_blocks(dict(batch.groups.items()))
    assert rest == rest_again
    assert [(s.models, s.codes.tolist(), s.positions.tolist(), s.block.floats.tobytes())
            for s in shared] == [
        (s.models, s.codes.tolist(), s.positions.tolist(), s.block.floats.tobytes())
        for s in rejoined
    ]  # fmt: skip
    return shared


def test_a_subset_keeps_the_shared_blocks_of_the_rows_kept() -> None:
    """Dropping events (as the event-time bounds do) cuts the same rows from the blocks."""
    values = [_event(f"m{i % 4}", i if i != 6 else "text") for i in range(12)]
    batch = _native(values, {f"m{i}": ["x", "y"] for i in range(4)})
    [numeric, texts] = _same_as_groups_joined(batch)  # m2 has a string in x: its own block
    assert (numeric.models, texts.models) == (["m0", "m1", "m3"], ["m2"])
    kept = np.array([0, 1, 3, 6, 7, 11], dtype=np.int64)
    part = batch.subset(kept)
    assert part.shared is not None
    [numeric, texts] = _same_as_groups_joined(part)
    assert numeric.positions.tolist() == [0, 1, 2, 4, 5]  # positions in the subset
    assert numeric.block.floats[0].tolist() == [0.0, 1.0, 3.0, 7.0, 11.0]
    assert [numeric.models[c] for c in numeric.codes] == ["m0", "m1", "m3", "m3", "m3"]
    assert texts.block.objects["x"].tolist() == ["text"]
    assert part.typed_columns(np.array([1]), ("x", "y"), "m1") is not None


def test_a_model_left_to_the_reference_leaves_its_block() -> None:
    """An event the native decoder leaves to the reference (a +05:30 offset) moves its model's
    events to dicts; the other models of its block stay in it, in batch order."""
    values = [_event(f"m{i % 3}", i) for i in range(9)]
    values[4] = _event("m1", 4, "2026-01-01T05:30:00+05:30")
    batch = _native(values, {f"m{i}": ["x", "y"] for i in range(3)})
    [s] = _same_as_groups_joined(batch)
    assert s.models == ["m0", "m2"]
    assert s.positions.tolist() == [0, 2, 3, 5, 6, 8]
    assert batch.groups is not None
    m1 = batch.groups["m1"]
    assert m1.block is None and m1.positions.tolist() == [1, 4, 7]
    assert [row["x"] for row in m1.inputs] == [1, 4, 7]
