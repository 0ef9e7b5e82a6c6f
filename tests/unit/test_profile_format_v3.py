"""Profile format 3: every field round-trips bit for bit, blobs of formats 2 (fixtures written
by the previous code) still read exactly, and malformed bodies are a CorruptBlobError."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest
from datasketches import frequent_items_error_type
from hypothesis import given, settings
from hypothesis import strategies as st

from modelmon.errors import CorruptBlobError
from modelmon.profile import CategoricalProfile, DatasetProfile, NumericProfile, ProfileTracker
from modelmon.profile.codec import FORMAT_VERSION, MAGIC, TAG_DATASET, checksum

from .profile_cases import CASES
from .test_profile_properties import batches, profile_of

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "profile_v2"


def _bits(*xs: float) -> bytes:
    return struct.pack(f"<{len(xs)}d", *xs)


def assert_identical(a: DatasetProfile, b: DatasetProfile) -> None:
    """Every field equal, floats bit for bit, sketches byte for byte."""
    assert a.row_count == b.row_count
    assert list(a.features) == list(b.features) or sorted(a.features) == sorted(b.features)
    for name, f in a.features.items():
        assert_same_feature(f, b.features[name])


def assert_same_feature(f: Any, g: Any) -> None:
    assert type(f) is type(g)
    if isinstance(f, NumericProfile):
        assert (f.missing, f.type_mismatches, f.non_finite, f.integral, f.fractional) == (
            g.missing, g.type_mismatches, g.non_finite, g.integral, g.fractional,
        )  # fmt: skip
        m, n = f.moments, g.moments
        assert m.count == n.count
        assert _bits(m.sum, m.min, m.max, m.mean, m.m2) == _bits(n.sum, n.min, n.max, n.mean, n.m2)
        assert (f.sketch.k, f.sketch.n, f.sketch.compactions) == (
            g.sketch.k, g.sketch.n, g.sketch.compactions,
        )  # fmt: skip
        assert [lv.tobytes() for lv in f.sketch.levels] == [lv.tobytes() for lv in g.sketch.levels]
        assert all(lv.dtype == np.float64 for lv in g.sketch.levels)
    else:
        assert isinstance(f, CategoricalProfile)
        assert (f.missing, f.type_mismatches, f.count, f.integral, f.fractional) == (
            g.missing, g.type_mismatches, g.count, g.integral, g.fractional,
        )  # fmt: skip
        # DataSketches' frequent-items bytes are not a fixed point of deserialize + serialize
        # (its hash map's layout may change), in any format: compare what it holds
        assert _frequent(f) == _frequent(g)
        assert f.distinct.serialize_compact() == g.distinct.serialize_compact()
        if f.sample is None:
            assert g.sample is None
        else:
            assert g.sample is not None
            assert f.sample.threshold == g.sample.threshold
            assert f.sample.keys.tolist() == g.sample.keys.tolist()
            assert f.sample.counts.tolist() == g.sample.counts.tolist()
            assert f.sample.hashes.tolist() == g.sample.hashes.tolist()


def _frequent(p: CategoricalProfile) -> tuple[Any, ...]:
    items = p.frequent.get_frequent_items(frequent_items_error_type.NO_FALSE_NEGATIVES, 0)
    sketch = p.frequent
    return (sorted(items), sketch.total_weight, sketch.num_active_items, p.maximum_error)


@pytest.mark.parametrize("case", sorted(CASES))
def test_format_2_fixtures_read_exactly(case: str) -> None:
    expected = CASES[case]()
    stored = (FIXTURES / f"{case}.dataset.bin").read_bytes()
    assert stored[4] == 2
    assert_identical(expected, DatasetProfile.deserialize(stored))
    for name, feature in expected.features.items():
        blob = (FIXTURES / f"{case}.{name}.{feature.kind}.bin").read_bytes()
        assert_same_feature(feature, type(feature).deserialize(blob))


@pytest.mark.parametrize("case", sorted(CASES))
def test_format_3_round_trips_every_field(case: str) -> None:
    p = CASES[case]()
    blob = p.serialize()
    assert blob[4] == FORMAT_VERSION == 3
    assert_identical(p, DatasetProfile.deserialize(blob))
    for feature in p.features.values():
        assert_same_feature(feature, type(feature).deserialize(feature.serialize()))


def test_a_small_window_partial_takes_a_fifth_of_format_2() -> None:
    old = (FIXTURES / "windowed.dataset.bin").read_bytes()
    assert len(CASES["windowed"]().serialize()) < len(old) / 5


@settings(max_examples=60, deadline=None)
@given(batches())
def test_any_profile_round_trips_bit_for_bit(parts: list[dict[str, list[Any]]]) -> None:
    p = profile_of(parts)
    assert_identical(p, DatasetProfile.deserialize(p.serialize()))


def _numeric(batches_: list[np.ndarray]) -> NumericProfile:  # type: ignore[type-arg]
    t = ProfileTracker({"x": "numeric"})
    for b in batches_:
        t.update({"x": b})
    f = t.snapshot().features["x"]
    assert isinstance(f, NumericProfile)
    return f


def test_moments_are_stored_only_when_the_sketch_does_not_give_them() -> None:
    rng = np.random.default_rng(2)
    many = _numeric([rng.normal(size=50) for _ in range(5)])  # exact: sum, mean, m2 stored
    big = _numeric([rng.normal(size=3000)])  # compacted: all five stored
    assert NumericProfile().to_body3()[4] is None
    assert many.to_body3()[4] is not None and len(many.to_body3()[4]) == 3
    assert big.sketch.is_estimation_mode() and len(big.to_body3()[4]) == 5
    for f in (many, big, NumericProfile()):
        assert_same_feature(f, NumericProfile.deserialize(f.serialize()))


def test_the_category_sample_is_stored_only_when_the_sketch_does_not_give_it() -> None:
    few = ProfileTracker({"c": "categorical"})
    few.update({"c": np.array(["a", "b", "a", "c"], dtype=object)})
    many = ProfileTracker({"c": "categorical"})
    many.update({"c": np.array([f"k{i}" for i in range(6000)], dtype=object)})
    f, g = few.snapshot().features["c"], many.snapshot().features["c"]
    assert isinstance(f, CategoricalProfile) and isinstance(g, CategoricalProfile)
    assert f.to_body()[3] == 0
    assert isinstance(g.to_body()[3], list)
    for p in (f, g):
        assert_same_feature(p, CategoricalProfile.deserialize(p.serialize()))


def _reblob(body: Any) -> bytes:
    payload = msgspec.msgpack.encode(body)
    return struct.pack("<4sBBI", MAGIC, 3, TAG_DATASET, checksum(3, TAG_DATASET, payload)) + payload


garbage = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1), st.floats(), st.text(max_size=4),
    st.binary(max_size=12), st.lists(st.integers(-3, 3000), max_size=4),
)  # fmt: skip


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict | list):
        for key, child in node.items() if isinstance(node, dict) else enumerate(node):
            out.extend(_paths(child, (*prefix, key)))
    return out


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_a_malformed_body_with_a_valid_crc_is_a_corrupt_blob(data: st.DataObject) -> None:
    body = msgspec.msgpack.decode(CASES[data.draw(st.sampled_from(["small", "windowed"]))]()
                                  .serialize()[10:])  # fmt: skip
    path = data.draw(st.sampled_from(_paths(body)))
    node = body
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = data.draw(garbage)
    try:
        p = DatasetProfile.deserialize(_reblob(body))
    except CorruptBlobError:
        return
    assert all(f.rows == p.row_count for f in p.features.values())  # read: still consistent


@pytest.mark.parametrize("xs", [[0.0, -0.0], [-0.0, 0.0], [-0.0], [5e-324, -5e-324, 0.0]])
def test_signed_zeros_and_subnormals_keep_their_bits(xs: list[float]) -> None:
    f = _numeric([np.array(xs)])
    g = NumericProfile.deserialize(f.serialize())
    assert_same_feature(f, g)
    assert _bits(g.min, g.max) == _bits(f.min, f.max)


@settings(max_examples=50, deadline=None)
@given(at=st.integers(4, 5), bit=st.integers(0, 7))
def test_a_flipped_version_or_tag_bit_is_refused(at: int, bit: int) -> None:
    """From format 3 the CRC covers the version and tag bytes: 3 read as 2, or a dataset read
    as another kind, is refused like any other flipped bit."""
    tracker = ProfileTracker({"x": "numeric"})
    tracker.update({"x": [1.5, 2.25, None]})
    blob = bytearray(tracker.snapshot().serialize())
    blob[at] ^= 1 << bit
    with pytest.raises(CorruptBlobError):
        DatasetProfile.deserialize(bytes(blob))
