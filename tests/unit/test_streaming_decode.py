"""Columnar decoding of capture messages (pure)."""

from __future__ import annotations

import numpy as np
import orjson

from modelmon.streaming.decode import TypedDecoder, column, decode_batch, feature_names, take


def _msg(model: str, t: str, **inputs: object) -> bytes:
    return orjson.dumps({"model_id": model, "event_time": t, "inputs": inputs, "extra": [1]})


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
    assert column(batch.inputs, "a").tolist() == [1.5, 2.0]
    assert column(batch.inputs, "a").dtype == np.float64
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
    rows = [{"a": 1, "b": True, "c": 1}, {"a": 2, "b": False, "c": "x"}]
    assert column(rows, "a").dtype.kind == "i"
    assert column(rows, "b").dtype.kind == "b"
    assert column(rows, "c").tolist() == [1, "x"]
    assert column(rows, "missing").tolist() == [None, None]


def test_a_typed_decoder_gives_the_generic_columns_and_declines_surprises() -> None:
    typed = TypedDecoder("m1", {"a": "numeric", "b": "categorical", "c": None})
    values = [
        _msg("m1", "2026-01-01T00:00:01.250Z", a=1.5, b="x"),
        _msg("m1", "2026-01-01T00:00:02Z", a=2, b=3, c=None),
    ]
    batch = typed.decode(values)
    assert batch is not None and batch.typed is typed
    generic, _ = decode_batch(values)
    assert batch.event_ms.tolist() == generic.event_ms.tolist()
    got = batch.columns_of(batch.inputs, ["a", "b", "c"])
    want = generic.columns_of(generic.inputs, ["a", "b", "c"])
    assert got.keys() == want.keys()
    for name in got:
        assert got[name].tolist() == want[name].tolist() and got[name].dtype == want[name].dtype
    assert typed.decode([_msg("m1", "2026-01-01T00:00:00Z", a=1, extra=2)]) is None
    assert typed.decode([_msg("m2", "2026-01-01T00:00:00Z", a=1)]) is None
    assert typed.decode([_msg("m1", "2026-01-01T00:00:00", a=1)]) is None  # no timezone
    assert typed.decode([b"junk"]) is None
    assert typed.decode([None]) is None


def test_a_typed_decoder_rests_after_repeated_surprises() -> None:
    typed = TypedDecoder("m1", {"a": "numeric"})
    good = [_msg("m1", "2026-01-01T00:00:00Z", a=1)]
    extra = [_msg("m1", "2026-01-01T00:00:00Z", a=1, b=2)]
    assert [typed.decode(extra) for _ in range(3)] == [None, None, None]
    assert typed.decode(good) is None  # resting: the generic decoder takes these batches
    for _ in range(99):
        typed.decode(good)
    assert typed.decode(good) is not None
