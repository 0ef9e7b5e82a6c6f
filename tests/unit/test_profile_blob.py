"""The blob format: a bad blob always raises CorruptBlobError, never anything else."""

from __future__ import annotations

import struct
import zlib

import msgspec
import numpy as np
import pytest
from datasketches import kll_doubles_sketch
from hypothesis import given, settings
from hypothesis import strategies as st

from modelmon.errors import CorruptBlobError, PermanentError
from modelmon.profile import CategoricalProfile, DatasetProfile, NumericProfile, ProfileTracker
from modelmon.profile.codec import FORMAT_VERSION, MAGIC, TAG_DATASET, checksum


def body2(p: NumericProfile) -> dict[str, object]:
    """A numeric profile's body as format 2 wrote it (a map of named fields)."""
    m = p.moments
    return {
        "counts": [p.missing, p.type_mismatches, p.non_finite],
        "types": [p.integral, p.fractional],
        "moments": [m.count, m.sum, m.min, m.max, m.mean, m.m2],
        "kll2": p.sketch.serialize(),
    }


def sample_blob() -> bytes:
    t = ProfileTracker()
    t.update({"x": np.linspace(0, 1, 500), "c": ["a", "b"] * 250})
    return t.snapshot().serialize()


def reheader(body: bytes, version: int = FORMAT_VERSION, tag: int = TAG_DATASET) -> bytes:
    return struct.pack("<4sBBI", MAGIC, version, tag, checksum(version, tag, body)) + body


def test_corrupt_blob_is_a_permanent_error() -> None:
    assert issubclass(CorruptBlobError, PermanentError)


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"", "too short"),
        (b"MMPF\x01", "too short"),
        (b"JUNKJUNKJUNKJUNK", "not a modelmon profile"),
    ],
)
def test_bad_headers(blob: bytes, message: str) -> None:
    with pytest.raises(CorruptBlobError, match=message):
        DatasetProfile.deserialize(blob)


def test_wrong_version_names_both_versions() -> None:
    body = sample_blob()[10:]
    with pytest.raises(CorruptBlobError, match=r"version 9 is not supported.*reads 1"):
        DatasetProfile.deserialize(reheader(body, version=9))


def test_wrong_kind_of_blob() -> None:
    t = ProfileTracker()
    t.update({"x": [1.0, 2.0]})
    numeric = t.snapshot().features["x"]
    with pytest.raises(CorruptBlobError, match="holds a numeric profile, expected dataset"):
        DatasetProfile.deserialize(numeric.serialize())
    with pytest.raises(CorruptBlobError, match="expected categorical"):
        CategoricalProfile.deserialize(numeric.serialize())


def test_truncated_blob() -> None:
    blob = sample_blob()
    for cut in (11, len(blob) // 2, len(blob) - 1):
        with pytest.raises(CorruptBlobError, match="truncated or corrupt"):
            DatasetProfile.deserialize(blob[:cut])


def test_valid_crc_but_malformed_body() -> None:
    for body in (
        msgspec.msgpack.encode([1, 2, 3]),
        msgspec.msgpack.encode({"rows": "x", "features": []}),
        msgspec.msgpack.encode({"rows": 3, "features": [["x", "numeric", {"counts": [1]}]]}),
        msgspec.msgpack.encode({"rows": 3, "features": [["x", "weird", {}]]}),
        b"\xc1\xc1",
    ):
        with pytest.raises(CorruptBlobError):
            DatasetProfile.deserialize(reheader(body))


@pytest.mark.parametrize(("version", "key"), [(2, "kll2"), (1, "kll")])
def test_valid_crc_but_garbage_sketch(version: int, key: str) -> None:
    good = body2(NumericProfile())
    del good["kll2"]
    good[key] = b"\x05\x01\x0f\x00garbage-garbage-garbage"
    body = msgspec.msgpack.encode(good)
    blob = struct.pack("<4sBBI", MAGIC, version, 2, checksum(version, 2, body)) + body
    with pytest.raises(CorruptBlobError, match="KLL sketch"):
        NumericProfile.deserialize(blob)


def test_format_1_blob_with_datasketches_kll_still_reads() -> None:
    """A profile stored by the previous format (DataSketches' KLL bytes) keeps its values."""
    values = np.random.default_rng(3).normal(size=20_000)
    old = kll_doubles_sketch(1024)
    old.update(values)
    profile = ProfileTracker({"x": "numeric"})
    profile.update({"x": values})
    feature = profile.snapshot().features["x"]
    assert isinstance(feature, NumericProfile)
    body = body2(feature)
    del body["kll2"]
    body["kll"] = old.serialize()
    payload = msgspec.msgpack.encode(body)
    blob = struct.pack("<4sBBI", MAGIC, 1, 2, zlib.crc32(payload)) + payload
    restored = NumericProfile.deserialize(blob)
    assert restored.sketch.n == 20_000
    for q in (0.1, 0.5, 0.9):
        assert abs(restored.quantiles([q])[0] - old.get_quantile(q)) <= 0.05


def test_not_bytes() -> None:
    with pytest.raises(CorruptBlobError, match="must be bytes"):
        DatasetProfile.deserialize("MMPF")  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_any_single_byte_flip_is_detected(data: st.DataObject) -> None:
    blob = bytearray(sample_blob())
    i = data.draw(st.integers(0, len(blob) - 1))
    blob[i] ^= data.draw(st.integers(1, 255))
    with pytest.raises(CorruptBlobError):
        DatasetProfile.deserialize(bytes(blob))


@pytest.mark.parametrize("bad", ["x", None, [1.0], True])
def test_non_numeric_moments_are_a_corrupt_blob(bad: object) -> None:
    body = body2(NumericProfile())
    body["moments"] = [0, bad, 0.0, 0.0, 0.0, 0.0]
    payload = msgspec.msgpack.encode(body)
    blob = struct.pack("<4sBBI", MAGIC, 2, 2, zlib.crc32(payload)) + payload
    with pytest.raises(CorruptBlobError, match="malformed moments"):
        NumericProfile.deserialize(blob)
