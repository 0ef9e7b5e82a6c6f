"""Columnar decoding of capture messages (pure)."""

from __future__ import annotations

import numpy as np
import orjson

from modelmon.profile import (
    CategoricalProfile,
    DatasetProfile,
    FeatureKind,
    NumericProfile,
    ProfileTracker,
)
from modelmon.profile.numbers import Numbers
from modelmon.streaming.decode import (
    MAX_MESSAGE_BYTES,
    DecodedBatch,
    TypedDecoder,
    column,
    decode_batch,
    feature_names,
    take,
)


def _msg(model: str, t: str, **inputs: object) -> bytes:
    doc = {"model_id": model, "event_time": t, "inputs": inputs, "metadata": {"k": "v"}}
    return orjson.dumps(doc)


def test_good_messages_decode_to_columns_in_order() -> None:
    values = [
        _msg("m1", "2026-01-01T00:00:01.250Z", a=1.5, b="x"),
        _msg("m2", "2026-01-01T01:00:00+01:00", a=2, c=None),
    ]
    batch, rejects = decode_batch(values)
    assert rejects == []
    assert batch.index.tolist() == [0, 1]
    assert batch.model_ids == ["m1", "m2"]
    assert batch.event_ms.tolist() == [1767225601250, 1767225600000]
    assert feature_names(batch.inputs, ["z"]) == ["a", "b", "c", "z"]
    a = column(batch.inputs, "a")  # a float and an int: each keeps its type
    assert isinstance(a, Numbers)
    assert a.values.tolist() == [1.5, 2.0] and a.integral is not None
    assert a.integral.tolist() == [False, True]
    b = column(batch.inputs, "b")
    assert b.dtype == object and b.tolist() == ["x", None]


def test_bad_messages_are_rejected_with_a_reason_and_the_rest_kept() -> None:
    values = [
        _msg("m1", "2026-01-01T00:00:00Z", a=1),
        b"not json",
        _msg("m1", "2026-01-01T00:00:00", a=1),  # no timezone
        None,
        orjson.dumps({"model_id": "bad id!", "event_time": "2026-01-01T00:00:00Z", "inputs": {}}),
        _msg("m1", "2026-01-01T00:00:00Z", a=[1, 2]),  # not a scalar
        _msg("m3", "2026-01-01T00:00:02Z", a=3),
    ]
    batch, rejects = decode_batch(values)
    assert batch.index.tolist() == [0, 6]
    assert [r.index for r in rejects] == [1, 2, 3, 4, 5]
    assert all(r.error_type == "InvalidEventError" and r.reason for r in rejects)
    assert rejects[1].model_id == "m1"
    assert rejects[0].model_id is None


def test_take_picks_items_by_index() -> None:
    items = ["a", "b", "c"]
    assert take(items, np.array([2, 0])) == ["c", "a"]
    assert take(items, np.array([1])) == ["b"]
    assert take(items, np.array([], dtype=np.int64)) == []


def test_columns_keep_ints_and_bools_numeric_and_mixed_types_as_objects() -> None:
    rows = [{"a": 1, "b": True, "c": 1, "d": 1.5, "e": True},
            {"a": 2, "b": False, "c": "x", "d": 2.5, "e": 0.5}]  # fmt: skip
    assert _array(column(rows, "a")).dtype.kind == "i"
    assert _array(column(rows, "b")).dtype.kind == "b"
    assert _array(column(rows, "c")).tolist() == [1, "x"]
    assert _array(column(rows, "missing")).tolist() == [None, None]
    assert _array(column(rows, "d")).dtype == np.float64  # floats only: a plain float array
    e = _array(column(rows, "e"))  # a bool among floats: objects, so the bool stays a bool
    assert e.dtype == object and e.tolist() == [True, 0.5]


def _array(col: object) -> np.ndarray:
    assert isinstance(col, np.ndarray)
    return col


def _profile(batch: DecodedBatch, kinds: dict[str, FeatureKind]) -> dict[str, object]:
    tracker = ProfileTracker(kinds)
    positions = np.arange(len(batch), dtype=np.int64)
    tracker.update(batch.columns_at(positions, kinds))
    return _summary(tracker.snapshot())


def _summary(profile: DatasetProfile) -> dict[str, object]:
    out: dict[str, object] = {"rows": profile.row_count}
    for name, p in profile.features.items():
        out[name] = (p.kind, p.missing, p.type_mismatches, p.type_counts(), p.present)
        if isinstance(p, NumericProfile):
            out[name + ".moments"] = (p.count, p.sum, p.min, p.max)
        else:
            assert isinstance(p, CategoricalProfile)
            out[name + ".counts"] = p.counts()
    return out


def test_a_typed_decoder_profiles_like_the_generic_decoder_and_declines_surprises() -> None:
    typed = TypedDecoder("m1", {"a": "numeric", "b": "categorical", "c": None})
    values = [
        _msg("m1", "2026-01-01T00:00:01.250Z", a=1.5, b="x"),
        _msg("m1", "2026-01-01T00:00:02Z", a=2, b=3, c=None),
    ]
    batch = typed.decode(values)
    assert batch is not None and batch.model_id == "m1"
    generic, _ = decode_batch(values)
    assert batch.event_ms.tolist() == generic.event_ms.tolist()
    kinds: dict[str, FeatureKind] = {"a": "numeric", "b": "categorical"}
    assert _profile(batch, kinds) == _profile(generic, kinds)
    a = batch.columns_at(np.array([1]), kinds)["a"]
    assert isinstance(a, Numbers) and a.values.tolist() == [2.0] and a.integral is not None
    offsets = [_msg("m1", "2026-01-01T01:00:00.5+01:00", a=1), _msg("m1", "1999-12-31T23:59:59Z")]
    shifted = typed.decode(offsets)  # not the canonical form: parsed one by one, as msgspec does
    assert shifted is not None
    assert shifted.event_ms.tolist() == decode_batch(offsets)[0].event_ms.tolist()
    assert typed.decode([_msg("m1", "2026-01-01T00:00:00Z", a=1, extra=2)]) is None
    assert typed.decode([_msg("m2", "2026-01-01T00:00:00Z", a=1)]) is None
    assert typed.decode([_msg("m1", "2026-01-01T00:00:00", a=1)]) is None  # no timezone
    assert typed.decode([_msg("m1", "2026-01-01T00:00:00Z", a=True)]) is None  # a bool
    huge = b'{"model_id":"m1","event_time":"2026-01-01T00:00:00Z","inputs":{"a":1%s}}' % (
        b"0" * 400
    )
    assert typed.decode([huge]) is None  # an int no float can hold
    assert typed.decode([b"junk"]) is None
    assert typed.decode([None]) is None


def test_typed_and_generic_profiles_agree_value_by_value_across_chunks() -> None:
    """Ints and floats mixed at random in one numeric feature, over many decode chunks: every
    value keeps its own type (Integral or Fractional), missing and whole floats included."""
    rng = np.random.default_rng(7)
    n = 1000
    ints = rng.integers(-50, 50, n).tolist()
    floats = (rng.normal(0, 10, n).round(1)).tolist()  # some are whole: 3.0 stays Fractional
    pick = rng.integers(0, 3, n).tolist()
    cats = rng.choice(["u", "v", "w"], n).tolist()
    values = [
        _msg("m1", f"2026-01-01T00:00:{i % 60:02d}Z",
             x=ints[i] if pick[i] == 0 else (floats[i] if pick[i] == 1 else None), k=cats[i])
        for i in range(n)
    ]  # fmt: skip
    typed = TypedDecoder("m1", {"x": "numeric", "k": "categorical"})
    batch = typed.decode(values)
    assert batch is not None
    kinds: dict[str, FeatureKind] = {"x": "numeric", "k": "categorical"}
    generic, _ = decode_batch(values)
    got = _profile(batch, kinds)
    assert got == _profile(generic, kinds)
    n_int, n_float = pick.count(0), pick.count(1)
    assert got["x"] == (
        "numeric", pick.count(2), 0,
        {"Integral": n_int, "Fractional": n_float, "String": 0}, n_int + n_float,
    )  # fmt: skip
    assert got["k.counts"] == {c: cats.count(c) for c in ("u", "v", "w")}
    # a subset of rows (one window of a batch): the same, value by value
    rows = np.flatnonzero(np.arange(n) % 7 == 3)
    sub = ProfileTracker(kinds)
    sub.update(batch.columns_at(rows, kinds))
    x = sub.snapshot().features["x"]
    picked = [pick[i] for i in rows.tolist()]
    assert x.type_counts() == {"Integral": picked.count(0), "Fractional": picked.count(1),
                               "String": 0}  # fmt: skip
    assert x.missing == picked.count(2)


def test_a_typed_decoder_rests_after_repeated_surprises() -> None:
    typed = TypedDecoder("m1", {"a": "numeric"})
    good = [_msg("m1", "2026-01-01T00:00:00Z", a=1)]
    extra = [_msg("m1", "2026-01-01T00:00:00Z", a=1, b=2)]
    assert [typed.decode(extra) for _ in range(3)] == [None, None, None]
    assert typed.decode(good) is None  # resting: the generic decoder takes these batches
    for _ in range(99):
        typed.decode(good)
    assert typed.decode(good) is not None


def test_oversized_or_absurd_inputs_decline_the_typed_path_and_dead_letter_generically() -> None:
    typed = TypedDecoder("m1", {"a": "numeric", "b": "categorical"})
    good = [_msg("m1", "2026-01-01T00:00:00Z", a=1.5, b="x") for _ in range(300)]
    long_time = _msg("m1", "2" * 1_000_000, a=1.5, b="x")  # under the size limit
    assert typed.decode([*good, long_time]) is None  # no 300 x 1M-character array
    batch, rejects = decode_batch([*good, long_time])
    assert len(batch) == 300 and [r.index for r in rejects] == [300]
    too_big = _msg("m1", "2026-01-01T00:00:00Z", a=1.5, b="x" * MAX_MESSAGE_BYTES)
    assert typed.decode([*good, too_big]) is None
    assert [r.index for r in decode_batch([*good, too_big])[1]] == [300]


def test_generic_columns_keep_bools_and_big_ints_exact_for_categories() -> None:
    rows = [{"k": True}, {"k": 2}]
    assert _array(column(rows, "k")).tolist() == [True, 2]  # not [1, 2]
    big = [{"k": 9007199254740993}, {"k": 1.5}]
    assert _array(column(big, "k")).tolist() == [9007199254740993, 1.5]
    wide = [{"k": -1}, {"k": 2**63 + 1}]
    assert _array(column(wide, "k")).tolist() == [-1, 2**63 + 1]


def test_far_future_times_are_exact_on_both_paths() -> None:
    typed = TypedDecoder("m1", {"a": "numeric"})
    for t in ("9999-12-31T23:59:59.999999Z", "5000-06-15T12:34:56.789999-00:00"):
        values = [_msg("m1", t, a=1)]
        batch = typed.decode(values)
        assert batch is not None
        assert batch.event_ms.tolist() == decode_batch(values)[0].event_ms.tolist()
    assert decode_batch([_msg("m1", "9999-12-31T23:59:59.999999Z")])[0].event_ms.tolist() == [
        253402300799999
    ]
