"""The native decoder (native/) and the pure-Python reference give one batch one result.

Random batches mix several models (registered with plans, and not), valid and invalid events:
types flipping per event, unicode names and values, NaN/Infinity literals, huge ints and
floats, missing and duplicate fields, unknown fields, bad JSON, wrong types. Both paths must
accept the same messages, give them the same event times and models, give every model the same
columns (value by value, type by type) and the rejected ones the same dead-letter reasons.
The rules themselves: docs/decode.md ("The typing rules").
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelmon.profile.numbers import Numbers
from modelmon.streaming import native_decode
from modelmon.streaming.decode import MAX_MESSAGE_BYTES, DecodedBatch, decode_batch

pytestmark = pytest.mark.skipif(
    not native_decode.available(),
    reason="the native decoder is not built (no cargo when the venv was made)",
)


@pytest.fixture(autouse=True)
def _native_on() -> Iterator[None]:
    """Both paths side by side, whichever the run selected (MODELMON_NATIVE)."""
    before = native_decode.active()
    native_decode.select(True)
    yield
    native_decode.select(before == "native")


PLANS: dict[str, tuple[str, ...]] = {"m0": ("a", "b", "c"), "m1": ("a", "ü x"), "m2": ()}
MODELS = ["m0", "m1", "m2", "m3-unregistered", "bad model", ""]
NAMES = ["a", "b", "c", "ü x", "d", "e\u0000", "😀"]

_tokens = st.sampled_from(
    ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "-0", "1E2", "0.1e-400", "[1]", "{}",
     "123456789012345678901234567890.5", "9223372036854775807", "9223372036854775808",
     "-9223372036854775808", "-9223372036854775809", "18446744073709551616", "4.9e-324",
     "9007199254740993", "1.7976931348623157e308", '"\\ud800"', '"\\ud83d\\ude00"', "true",
     '"\\u00e9"', "01", "1.", ".5", "+1", "null", '"3.5"']
)  # fmt: skip
_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**64), 2**64),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=6),
    st.sampled_from(["CA", "NY", "TX"]),
)  # fmt: skip
_value_text = st.one_of(_scalars.map(json.dumps), _scalars.map(json.dumps), _tokens)
_inputs = st.lists(st.tuples(st.sampled_from(NAMES) | st.text(max_size=4), _value_text), max_size=6)
_canonical_times = st.sampled_from(["2026-01-01T00:00:00Z", "2026-01-01T00:00:00.250Z"])
_times = _canonical_times | _canonical_times | st.sampled_from(
    ["2026-01-01T00:00:00Z", "2026-01-01T00:00:00.123Z", "2026-01-01T00:00:01.5+00:00",
     "2026-01-01t00:00:02.999999z", "2026-01-01 00:00:03Z", "2026-01-01T00:00:00+05:30",
     "2026-01-01T00:00:00.1234567Z", "2026-01-01T00:00:00", "2025-02-29T00:00:00Z",
     "2026-01-01T00:00:00+0000", "2026-01-01T00:00:00-00:00", "not a time", "1970-01-01T00:00:00Z"]
)  # fmt: skip
_valid_extras = st.lists(
    st.sampled_from(['"variant":"v1"', '"latency_ms":3.5', '"outputs":{"prediction":"yes"}']),
    max_size=2,
)
_extras = _valid_extras | st.lists(
    st.sampled_from(
        ['"variant":"v1"', '"variant":"bad variant"', '"event_id":"e1"', '"event_id":""',
         '"latency_ms":3', '"latency_ms":-1', '"latency_ms":1e999', '"schema_version":1',
         '"schema_version":2', '"outputs":{"prediction":1,"probability":0.5,"x":[NaN]}',
         '"outputs":{"prediction":[1]}', '"metadata":{"k":"v"}', '"metadata":{"k":1}',
         '"attributions":{"a":0.5}', '"source":"sdk"', '"source":"other"', '"unknown":1',
         '"request":{"content_type":"t","encoding":"CSV","data":"1"}',
         '"request":{"content_type":"t","encoding":"CSV"}', '"model_id":"m1"', '"inputs":{}',
         '"outputs":{"x":99999999999999999999999}', '"event_time":5'],
    ),
    max_size=3,
)  # fmt: skip


@st.composite
def _message(draw: st.DrawFn) -> bytes | None:
    kind = draw(st.integers(0, 19))
    if kind == 0:
        return None
    model = draw(st.sampled_from(MODELS))
    inputs = ",".join(f"{json.dumps(k)}:{v}" for k, v in draw(_inputs))
    fields = [f'"model_id":{json.dumps(model)}', f'"event_time":{json.dumps(draw(_times))}',
              f'"inputs":{{{inputs}}}', *draw(_extras)]  # fmt: skip
    text = "{" + ",".join(draw(st.permutations(fields))) + "}"
    raw = text.encode()
    if kind == 1:  # bad JSON: truncated
        raw = raw[: draw(st.integers(0, max(0, len(raw) - 1)))]
    elif kind == 2:  # invalid UTF-8 somewhere
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + b"\xff" + raw[at:]
    elif kind == 3:
        raw = raw + b" \n"
    return raw


def _canonical(col: Any) -> list[tuple[str, Any]]:
    """A column as the values it stands for, each with its type (floats by their bits)."""
    values = (col.objects() if isinstance(col, Numbers) else np.asarray(col)).tolist()
    return [(type(v).__name__, v.hex() if isinstance(v, float) else v) for v in values]


def _columns(batch: DecodedBatch, model: str, plans: dict[str, tuple[str, ...]]) -> dict:
    names, codes = batch.models()
    if model not in names:
        return {}
    positions = np.flatnonzero(codes == names.index(model))
    out = {}
    # two windows' worth: the first half and the rest, as a window split would select them
    for part in (positions[: len(positions) // 2], positions[len(positions) // 2 :]):
        cols = batch.columns_at(part, plans.get(model, ()), model)
        out[len(out)] = {name: _canonical(c) for name, c in sorted(cols.items())}
    return out


def _assert_same(values: list[bytes | None]) -> None:
    ref, ref_rejects = decode_batch(values)
    got = native_decode.decode_mixed(values, PLANS)
    assert got is not None
    nat, nat_rejects = got
    assert nat.index.tolist() == ref.index.tolist()
    assert nat.event_ms.tolist() == ref.event_ms.tolist()
    assert nat.model_ids == ref.model_ids
    assert [(r.index, r.reason, r.error_type, r.model_id) for r in nat_rejects] == [
        (r.index, r.reason, r.error_type, r.model_id) for r in ref_rejects
    ]
    for model in set(ref.model_ids):
        assert _columns(nat, model, dict(PLANS)) == _columns(ref, model, dict(PLANS)), model


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_message(), max_size=25))
def test_native_and_reference_decode_alike(values: list[bytes | None]) -> None:
    _assert_same(values)


def test_examples_at_the_edges() -> None:
    ok = b'{"model_id":"m0","event_time":"2026-01-01T00:00:00Z","inputs":{"a":%s}}'
    texts = ["1", "1.5", '"x"', "true", "null", "9007199254740993"]
    values: list[bytes | None] = [ok % t.encode() for t in texts]
    values += [b"x" * (MAX_MESSAGE_BYTES + 1), b"", None, ok % b"NaN", ok % b"1e999"]
    _assert_same(values)
    batch, rejects = native_decode.decode_mixed(values, PLANS) or (None, [])
    assert batch is not None and len(batch) == 6
    assert [r.reason.split(":")[0] for r in rejects] == [
        "oversize", "invalid_json", "no_value", "invalid_json", "number_out_of_range"
    ]  # fmt: skip


def test_many_models_in_one_batch_split_by_model() -> None:
    values = [
        json.dumps({"model_id": f"m{i % 50}", "event_time": "2026-01-01T00:00:00Z",
                    "inputs": {"x": i, "k": f"v{i % 3}"}}).encode()
        for i in range(500)
    ]  # fmt: skip
    plans = {f"m{i}": ("x", "k") for i in range(50)}
    batch, rejects = native_decode.decode_mixed(values, plans) or (None, [])
    assert batch is not None and not rejects and batch.groups is not None
    assert len(batch.groups) == 50
    x = batch.columns_at(np.arange(7, 500, 50), ("x", "k"), "m7")["x"]
    assert isinstance(x, Numbers) and x.values.tolist() == list(map(float, range(7, 500, 50)))
    assert not math.isnan(x.values.sum())
