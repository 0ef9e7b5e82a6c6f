"""Small windows as exact groups (issue 23, docs/decisions/0007-exact-small-windows.md).

The batch-level fold (streaming/fold.py) and the exact groups (streaming/exact_groups.py,
profile/exact.py) must give the profiles the per-model tracker path (``exact=False``, the
reference) gives: counters, KLL sketches, frequent items, HLL and category samples equal,
moments within 1e-12 relative (sum and mean: of the sum of magnitudes; m2 of itself).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import msgspec
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelmon.errors import CorruptBlobError
from modelmon.keys import WindowRef
from modelmon.profile import DatasetProfile, ProfileTracker, codec
from modelmon.profile.categorical import CategoricalProfile
from modelmon.profile.numeric import NumericProfile
from modelmon.streaming import native_decode
from modelmon.streaming.decode import DecodedBatch, Rejected
from modelmon.streaming.exact_store import THRESHOLD
from modelmon.streaming.partition import FlushPlan, ModelPlan, PartitionAggregate
from modelmon.streaming.watermarks import ModelWatermarks
from modelmon.windows import WindowSpec

pytestmark = pytest.mark.skipif(
    not native_decode.available(),
    reason="the native decoder is not built (no cargo when the venv was made): no shared blocks",
)

T0 = 1_767_225_600_000
KINDS: dict[str, Any] = {"a": "numeric", "b": "numeric", "c": "categorical", "d": "categorical"}
FEATURES = ("a", "b", "c", "d")
SPEC = WindowSpec(10_000, 3_000, 60_000)


@pytest.fixture(autouse=True)
def _native_on(native_decoder: None) -> None:
    """Both paths side by side, whichever the run selected (MODELMON_NATIVE)."""


def _plans(models: int) -> dict[str, ModelPlan]:
    return {f"m{i}": ModelPlan(SPEC, kinds=KINDS, features=FEATURES) for i in range(models)}


def _event(model: str, ms: int, inputs: dict[str, Any]) -> bytes:
    when = datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")
    body = {"model_id": model, "variant": "v", "event_time": when.replace("+00:00", "Z"),
            "inputs": inputs}  # fmt: skip
    return msgspec.json.encode(body)


Decode = Callable[[list[bytes | None], dict[str, list[str]]], tuple[DecodedBatch, list[Rejected]]]


def native_mixed(values: list[bytes | None], features: dict[str, list[str]]) -> tuple[
        DecodedBatch, list[Rejected]]:  # fmt: skip
    got = native_decode.decode_mixed(values, features)
    assert got is not None
    return got


def _run(
    values: list[bytes | None], plans: dict[str, ModelPlan], batch: int, flush_every: int,
    exact: bool, decode: Decode = native_mixed,
) -> tuple[dict[WindowRef, bytes], list[FlushPlan], list[tuple[int, int, list[int]]]]:  # fmt: skip
    """Fold the messages in batches, flushing every few batches; the last blob per window."""
    agg = PartitionAggregate(None, exact=exact)
    features = {m: list(p.features) for m, p in plans.items()}
    blobs: dict[WindowRef, bytes] = {}
    flushes, results = [], []
    for i, lo in enumerate(range(0, len(values), batch)):
        r = agg.add(decode(values[lo : lo + batch], features)[0], lo + batch - 1, plans)
        results.append((r.profiled, r.late, sorted(r.unknown)))
        if i % flush_every == flush_every - 1 or lo + batch >= len(values):
            plan = agg.flush_plan()
            agg.flushed(plan)
            flushes.append(plan)
            blobs.update({ref: blob for ref, _, blob in plan.partials})
    return blobs, flushes, results


def _close(x: float, y: float, scale: float) -> bool:
    return x == y or math.isclose(x, y, rel_tol=1e-12, abs_tol=1e-12 * scale)


def assert_same(got: DatasetProfile, want: DatasetProfile) -> None:
    assert got.row_count == want.row_count and got.features.keys() == want.features.keys()
    for name, w in want.features.items():
        g = got.features[name]
        assert type(g) is type(w), name
        if isinstance(w, NumericProfile):
            assert isinstance(g, NumericProfile)
            counts = ("missing", "type_mismatches", "non_finite", "integral", "fractional")
            assert [getattr(g, c) for c in counts] == [getattr(w, c) for c in counts], name
            assert g.sketch.n == w.sketch.n and len(g.sketch.levels) == len(w.sketch.levels)
            for lg, lw in zip(g.sketch.levels, w.sketch.levels, strict=True):
                assert np.array_equal(lg, lw), name
            gm, wm = g.moments, w.moments
            scale = float(np.abs(w.sketch.items_and_weights()[0]).sum()) + 1.0
            assert (gm.count, gm.min, gm.max) == (wm.count, wm.min, wm.max), name
            assert _close(gm.sum, wm.sum, scale) and _close(gm.mean, wm.mean, scale), name
            assert _close(gm.m2, wm.m2, max(abs(wm.m2), 1.0)), name
        else:
            assert isinstance(g, CategoricalProfile) and isinstance(w, CategoricalProfile)
            counts = ("missing", "type_mismatches", "count", "integral", "fractional")
            assert [getattr(g, c) for c in counts] == [getattr(w, c) for c in counts], name
            assert g.counts() == w.counts() and g.maximum_error == w.maximum_error, name
            assert g.distinct.get_estimate() == w.distinct.get_estimate(), name
            assert g.sample is not None and w.sample is not None
            assert g.sample.keys.tolist() == w.sample.keys.tolist(), name
            assert g.sample.counts.tolist() == w.sample.counts.tolist(), name


def assert_paths_agree(
    values: list[bytes | None], plans: dict[str, ModelPlan], batch: int, flush_every: int,
    decode: Decode = native_mixed, reference: Decode = native_mixed,
) -> dict[WindowRef, bytes]:  # fmt: skip
    """Exact groups (fed by ``decode``) and the tracker reference (fed by ``reference``) give
    the same results, flush plans and profiles; the exact path's blobs."""
    got, got_flushes, got_results = _run(values, plans, batch, flush_every, True, decode)
    want, want_flushes, want_results = _run(values, plans, batch, flush_every, False, reference)
    assert got_results == want_results
    assert got.keys() == want.keys()
    for a, b in zip(got_flushes, want_flushes, strict=True):
        assert [p[:2] for p in a.partials] == [p[:2] for p in b.partials]
        assert (a.late, a.model_watermarks, a.watermark, a.events) == (
            b.late, b.model_watermarks, b.watermark, b.events)  # fmt: skip
    for ref, blob in got.items():
        assert_same(DatasetProfile.deserialize(blob), DatasetProfile.deserialize(want[ref]))
    return got


_numbers = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.integers(-1000, 1000),
    st.floats(-1e12, 1e12, allow_nan=False),
    st.sampled_from([0.0, -0.0, 2.5, 1e-300, 2**53 + 1]),
)
_anything = st.one_of(
    st.none(), st.booleans(), _numbers,
    st.sampled_from(["3", " 4.5 ", "nan", "", "inf", "-Infinity", "x", "1_0", "7", "١", "CA"]),
    st.text(max_size=5),
)  # fmt: skip
_numeric_value = st.one_of(_numbers, _numbers, _numbers, _anything)
_categorical_value = st.one_of(st.sampled_from(["CA", "NY", "TX", " q"]), _anything)


_row = st.tuples(
    st.integers(0, 30),  # model (may be past the registered ones: unknown)
    st.integers(-12_000, 4_000),  # event time jitter (late events)
    st.lists(st.integers(0, 9), min_size=5, max_size=5),  # 0: that feature is absent
    _numeric_value, _numeric_value, _categorical_value, _categorical_value,
)  # fmt: skip


@st.composite
def _events(draw: st.DrawFn) -> tuple[list[bytes], int]:
    models = draw(st.integers(1, 30))
    step = draw(st.sampled_from([5, 50, 200]))
    out = []
    for i, (m, jitter, present, *row) in enumerate(draw(st.lists(_row, min_size=40, max_size=300))):
        inputs = {n: v for n, v, p in zip(FEATURES, row, present, strict=False) if p}
        if not present[4]:
            inputs["extra"] = 1  # a column the config does not list: the reference path
        out.append(_event(f"m{m % (models + 1)}", T0 + i * step + jitter, inputs))
    return out, models


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(events=_events(), batch=st.integers(1, 120), flush_every=st.integers(1, 4))
def test_exact_groups_give_the_reference_profiles(
    events: tuple[list[bytes], int], batch: int, flush_every: int
) -> None:
    values, models = events
    assert_paths_agree(values, _plans(models), batch, flush_every)


def _inputs(rng: random.Random) -> dict[str, Any]:
    return {"a": rng.gauss(0, 1), "b": rng.randrange(100), "c": rng.choice("xyz"), "d": "k"}


def _uniform(model: str, n: int, start: int = 0, seed: int = 1) -> list[bytes]:
    rng = random.Random(seed)
    return [_event(model, T0 + 1_000 + (start + i) % 8_000, _inputs(rng)) for i in range(n)]


@pytest.mark.parametrize("rows", [THRESHOLD, THRESHOLD + 1, 3 * THRESHOLD])
@pytest.mark.parametrize("batch", [7, 100, 5 * THRESHOLD])
def test_a_group_becomes_a_tracker_past_the_threshold(rows: int, batch: int) -> None:
    values = _uniform("m0", rows)
    blobs = assert_paths_agree(values, _plans(1), batch, 2)
    (blob,) = blobs.values()
    assert blob[5] == (codec.TAG_EXACT if rows <= THRESHOLD else codec.TAG_DATASET)


def test_identical_batches_give_identical_blobs() -> None:
    values = [v for m in range(40) for v in _uniform(f"m{m}", 30, seed=m)]
    random.Random(5).shuffle(values)
    first = _run(values, _plans(40), 97, 3, exact=True)[0]
    again = _run(values, _plans(40), 97, 3, exact=True)[0]
    assert first == again
    assert {blob[5] for blob in first.values()} == {codec.TAG_EXACT}


def _exact_blob() -> bytes:
    values = [
        _event("m0", T0 + i, {"a": x, "b": i, "c": c, "d": None})
        for i, (x, c) in enumerate([(1.5, "x"), ("s", "y"), (None, 3), (2**60, True), (-0.0, "x")])
    ]
    blobs = _run(values, _plans(1), 10, 1, exact=True)[0]
    (blob,) = blobs.values()
    assert blob[5] == codec.TAG_EXACT
    return blob


def test_the_exact_blob_round_trips() -> None:
    profile = DatasetProfile.deserialize(_exact_blob())
    tracker = ProfileTracker(KINDS)
    tracker.update({
        "a": np.array([1.5, "s", None, 2**60, -0.0], dtype=object),
        "b": np.array([0, 1, 2, 3, 4], dtype=object),
        "c": np.array(["x", "y", 3, True, "x"], dtype=object),
        "d": np.array([None] * 5, dtype=object),
    })  # fmt: skip
    assert_same(profile, tracker.snapshot())
    again = DatasetProfile.deserialize(profile.serialize())
    assert_same(again, profile)


def _body(blob: bytes) -> dict[str, Any]:
    return codec.unpack(blob, codec.TAG_EXACT)[1]


@pytest.mark.parametrize(
    "change",
    [
        {"rows": 4}, {"rows": -1}, {"names": ["a", "a", "c", "d"]}, {"kinds": b"\x00\x00\x01"},
        {"kinds": b"\x00\x00\x01\x07"}, {"counts": b"\x00" * 8}, {"values": b"\x00" * 8},
        {"values": np.array([np.inf] * 2 + [0.0] * 5).tobytes()},
        {"values": np.array([5.0, 1.0, 0, 1, 2, 3, 4]).tobytes()},
        {"ccount": b"\x00" * 16}, {"texts": b"\xff\xfe\x00\x01"}, {"tlen": b""},
        {"clen": b"\x09\x00\x00\x00\x00\x00\x00\x00"},
    ],
)  # fmt: skip
def test_a_bad_exact_blob_is_refused(change: dict[str, Any]) -> None:
    body = {**_body(_exact_blob()), **change}
    with pytest.raises(CorruptBlobError):
        DatasetProfile.deserialize(codec.pack(codec.TAG_EXACT, body))


@settings(max_examples=100, deadline=None)
@given(at=st.integers(10, 500), bit=st.integers(0, 7))
def test_a_flipped_bit_is_refused(at: int, bit: int) -> None:
    blob = bytearray(_exact_blob())
    blob[at % len(blob)] ^= 1 << bit
    with pytest.raises(CorruptBlobError):
        DatasetProfile.deserialize(bytes(blob))


def test_a_resumed_partition_continues_an_exact_window_as_a_tracker() -> None:
    plans = _plans(3)
    first = [v for m in range(3) for v in _uniform(f"m{m}", 20, seed=m)]
    later = [v for m in range(3) for v in _uniform(f"m{m}", 20, start=20, seed=10 + m)]
    stored, flushes, _ = _run(first, plans, 25, 1, exact=True)
    opened = {ref: (SPEC.close_of(ref.start_ms), DatasetProfile.deserialize(b))
              for ref, b in stored.items()}  # fmt: skip
    agg = PartitionAggregate(flushes[-1].next_offset, flushes[-1].watermark, opened,
                             dict(flushes[-1].model_watermarks))  # fmt: skip
    got = native_decode.decode_mixed(later, {m: p.features for m, p in plans.items()})
    assert got is not None
    agg.add(got[0], 200, plans)
    resumed = {ref: DatasetProfile.deserialize(b) for ref, _, b in agg.flush_plan().partials}
    whole = _run(first + later, plans, 25, 1, exact=False)[0]
    assert resumed.keys() == whole.keys()
    for ref, profile in resumed.items():
        assert_same(profile, DatasetProfile.deserialize(whole[ref]))


def test_memory_follows_the_open_windows_not_every_window_seen() -> None:
    plans = _plans(20)
    values = [_event(f"m{i % 20}", T0 + i * 40, {"a": i, "b": 1.5, "c": f"v{i}", "d": "k"})
              for i in range(30_000)]  # fmt: skip
    agg = PartitionAggregate(None)
    features = {m: p.features for m, p in plans.items()}
    for lo in range(0, len(values), 500):
        got = native_decode.decode_mixed(values[lo : lo + 500], features)
        assert got is not None
        agg.add(got[0], lo + 499, plans)
        agg.flushed(agg.flush_plan())
    groups = agg.exact
    assert len(groups) == agg.open_windows <= 3 * 20
    assert len(groups.refs) < 1024 + 2 * len(groups) + 2 * 20
    assert len(groups.texts.texts) < 65536 + 4 * 20 * THRESHOLD


@settings(max_examples=100, deadline=None)
@given(
    events=st.lists(st.tuples(st.integers(0, 5), st.integers(-50, 50)), min_size=1, max_size=60),
    known=st.dictionaries(st.sampled_from([f"m{i}" for i in range(6)]), st.integers(-20, 20)),
)
def test_advance_codes_is_advance_per_model(
    events: list[tuple[int, int]], known: dict[str, int]
) -> None:
    names = [f"m{i}" for i in range(6)]
    codes = np.array([c for c, _ in events], dtype=np.int64)
    times = np.array([t for _, t in events], dtype=np.int64)
    fast, slow = ModelWatermarks(-7, known or None), ModelWatermarks(-7, known or None)
    got = fast.advance_codes(names, codes, times)
    want = np.empty(len(times), dtype=np.int64)
    for c, name in enumerate(names):
        rows = np.flatnonzero(codes == c)
        if len(rows):
            want[rows] = slow.advance(name, times[rows])
    assert got.tolist() == want.tolist() and fast.items() == slow.items()


def test_the_flush_size_estimate_of_exact_groups_is_close() -> None:
    """Before any flush the estimate is an upper bound (8 B per value); after one, it is
    scaled by what the packed values really took, and close."""
    plans = _plans(50)
    agg = PartitionAggregate(None)
    for start, first in ((0, True), (40, False)):
        values = [v for m in range(50) for v in _uniform(f"m{m}", 40, start, seed=m + start)]
        got = native_decode.decode_mixed(values, {m: p.features for m, p in plans.items()})
        assert got is not None
        agg.add(got[0], start * 50 + len(values) - 1, plans)
        estimate = agg.estimated_flush_bytes()
        plan = agg.flush_plan()
        real = sum(len(blob) for _, _, blob in plan.partials)
        agg.flushed(plan)
        if first:
            assert real <= estimate <= 8 * real
        else:
            assert 0.7 * real <= estimate <= 1.3 * real
