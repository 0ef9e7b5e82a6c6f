"""The native decoder (native/) and the pure-Python reference give one batch one result.

Random batches mix several models (registered with plans, equal and different, and not), valid
and invalid events: types flipping per event (a string in a numeric feature), unicode names and
values, NaN/Infinity literals, huge ints and floats, missing and duplicate fields, names a plan
does not list, unknown fields, bad JSON, wrong types. Both paths must accept the same messages,
give them the same event times and models, give every model the same columns (value by value,
type by type) and the rejected ones the same dead-letter reasons; the native decoder's shared
blocks must hold exactly each model's rows and columns, as joining its per-model groups does.
The rules themselves: docs/decode.md ("The typing rules").
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelmon.profile.numbers import Numbers
from modelmon.streaming import native_decode
from modelmon.streaming.blocks import SharedBlock, layout, shared_blocks
from modelmon.streaming.decode import MAX_MESSAGE_BYTES, DecodedBatch, decode_batch

pytestmark = pytest.mark.skipif(
    not native_decode.available(),
    reason="the native decoder is not built (no cargo when the venv was made)",
)


@pytest.fixture(autouse=True)
def _native_on(native_decoder: None) -> None:
    """Both paths side by side, whichever the run selected (MODELMON_NATIVE)."""


PLANS: dict[str, tuple[str, ...]] = {
    "m0": ("a", "b", "c"), "m1": ("a", "ü x"), "m2": (), "m4": ("a", "b", "c"), "m5": ("a", "ü x")
}  # fmt: skip
MODELS = ["m0", "m1", "m2", "m3-unregistered", "m4", "m5", "bad model", ""]
NAMES = ["a", "b", "c", "ü x", "d", "e\u0000", "😀"]
#: Plans drawn per batch: models of equal plans share one layout (and one native block).
_PLAN_CHOICES = [("a", "b", "c"), ("a", "ü x"), (), ("c", "b", "a"), ("a", "b", "c", "d")]
_plan = st.sampled_from(_PLAN_CHOICES[:2]) | st.sampled_from(_PLAN_CHOICES)
_plans = st.fixed_dictionaries({}, optional={m: _plan for m in ["m0", "m1", "m2", "m4", "m5"]})

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
_numbers = st.one_of(
    st.integers(-(2**60), 2**60), st.floats(allow_nan=False, allow_infinity=False)
).map(json.dumps)
#: Values as UTF-8 text (json.dumps would escape astral characters as surrogate pairs, which
#: the native decoder leaves to the reference: its models then keep dicts).
_utf8_values = st.one_of(
    *[_numbers] * 6, st.sampled_from(["CA", "NY"]).map(json.dumps),
    _scalars.map(lambda v: json.dumps(v, ensure_ascii=False)),
)  # fmt: skip
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
def _message(
    draw: st.DrawFn, plans: dict[str, tuple[str, ...]] = PLANS, odd: int = 1
) -> bytes | None:
    """A message; ``odd`` in 20 are invalid or unusual (bad JSON, a time the native decoder
    leaves to the reference, extra fields)."""
    kind = draw(st.integers(0, 19)) if draw(st.integers(0, 19)) < odd * 4 else 4
    if kind == 0:
        return None
    registered = sorted(plans) if odd == 0 and plans and draw(st.integers(0, 3)) else MODELS
    model = draw(st.sampled_from(registered))
    planned = plans.get(model, ())
    if planned and draw(st.integers(0, 7)):  # mostly the plan's names (no per-model path)
        names = st.sampled_from(planned)
        values = _utf8_values if odd == 0 else _numbers | _numbers | _value_text
        pairs = draw(st.lists(st.tuples(names, values), max_size=6))
    elif odd == 0:
        pairs = draw(
            st.lists(
                st.tuples(st.sampled_from(NAMES) | st.text(max_size=4), _utf8_values), max_size=6
            )
        )
    else:
        pairs = draw(_inputs)
    inputs = ",".join(f"{json.dumps(k, ensure_ascii=odd > 0)}:{v}" for k, v in pairs)
    times, extras = (_times, _extras) if kind != 4 else (_canonical_times, _valid_extras)
    fields = [f'"model_id":{json.dumps(model)}', f'"event_time":{json.dumps(draw(times))}',
              f'"inputs":{{{inputs}}}', *draw(extras)]  # fmt: skip
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


def _assert_same(
    values: list[bytes | None], plans: dict[str, tuple[str, ...]] = PLANS
) -> DecodedBatch:
    ref, ref_rejects = decode_batch(values)
    got = native_decode.decode_mixed(values, plans)
    assert got is not None
    nat, nat_rejects = got
    assert nat.index.tolist() == ref.index.tolist()
    assert nat.event_ms.tolist() == ref.event_ms.tolist()
    assert nat.model_ids == ref.model_ids
    assert [(r.index, r.reason, r.error_type, r.model_id) for r in nat_rejects] == [
        (r.index, r.reason, r.error_type, r.model_id) for r in ref_rejects
    ]
    for model in set(ref.model_ids):
        assert _columns(nat, model, plans) == _columns(ref, model, plans), model
    _assert_shared_blocks(nat, ref, plans)
    return nat


def _assert_shared_blocks(
    nat: DecodedBatch, ref: DecodedBatch, plans: dict[str, tuple[str, ...]]
) -> None:
    """The native shared blocks: each model's rows in exactly one block (or its dicts), one
    layout per block, each model's columns the reference's, and the same blocks as joining
    the per-model groups (``blocks.shared_blocks`` over them, cut one by one)."""
    got = nat.shared_blocks()
    assert got is not None and nat.groups is not None
    shared, rest = got
    names, codes = nat.models()
    seen: list[str] = []
    for s in shared:
        assert s.models == sorted(s.models) and len(set(s.models)) == len(s.models)
        assert (np.diff(s.positions) > 0).all() and len(s.codes) == len(s.positions)
        assert s.block.floats.shape == s.block.tags.shape == (len(s.block.names), len(s.codes))
        assert all(len(col) == len(s.codes) for col in s.block.objects.values())
        for code, model in enumerate(s.models):
            mine = s.positions[s.codes == code]
            assert mine.tolist() == np.flatnonzero(codes == names.index(model)).tolist()
            if len(mine):
                cols = s.block.columns(np.flatnonzero(s.codes == code))
                expected = ref.columns_at(mine, plans.get(model, ()), None)
                assert _canonical_all(cols) == _canonical_all(expected), model
        seen += s.models
    assert sorted(seen + rest) == sorted(names) and len(seen) == len(set(seen))
    assert [s.models[0] for s in shared] == sorted(s.models[0] for s in shared)
    rejoined, rest_again = shared_blocks(dict(nat.groups.items()))  # per-model groups, joined
    assert rest_again == rest
    assert [_dump(s) for s in rejoined] == [_dump(s) for s in shared]


def _canonical_all(cols: dict) -> dict:
    return {n: _canonical(c) for n, c in sorted(cols.items())}


def _dump(s: SharedBlock) -> tuple:
    return (
        s.models, s.codes.tolist(), s.positions.tolist(), layout(s.block),
        s.block.floats.tobytes(), s.block.tags.tolist(),
        {n: _canonical(c) for n, c in s.block.objects.items()},
    )  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_message(odd=5), max_size=25))
def test_native_and_reference_decode_alike(values: list[bytes | None]) -> None:
    _assert_same(values)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_models_of_equal_plans_share_blocks_that_hold_each_models_columns(
    data: st.DataObject,
) -> None:
    plans = data.draw(_plans)
    values = data.draw(st.lists(_message(plans, odd=data.draw(st.integers(0, 1))), max_size=40))
    _assert_same(values, plans)


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


_digits = st.text("0123456789", min_size=1, max_size=24)
_exponents = st.tuples(st.sampled_from("eE"), st.sampled_from(["", "+", "-"]), st.integers(0, 420))
_edge_numbers = st.sampled_from(
    ["-0", "-0.0", "0.0", "0e0", "4.9e-324", "2.4703282292062327e-324", "1e-320", "1e-400",
     "2.2250738585072014e-308", "2.2250738585072011e-308", "1.7976931348623157e308",
     "1.7976931348623159e308", "1e309", "-1e309", "9007199254740992", "9007199254740993",
     "9007199254740993.0", "9223372036854775807", "-9223372036854775808", "9223372036854775808",
     "18446744073709551615", "18446744073709551616", "-18446744073709551617", "1e22", "1e23",
     "0.30000000000000004", "123456789012345678", "1234567890123456789", "5e-1", "1E+2"]
)  # fmt: skip


@st.composite
def _number_text(draw: st.DrawFn) -> str:
    """JSON number text: many digits, fractions, exponents of every form, and the edges."""
    if draw(st.integers(0, 3)) == 0:
        return draw(_edge_numbers)
    whole = draw(_digits).lstrip("0") or "0"
    frac = draw(st.sampled_from(["", "."])) and "." + draw(_digits)
    exp = "".join(map(str, draw(_exponents))) if draw(st.booleans()) else ""
    return draw(st.sampled_from(["", "-"])) + whole + frac + exp


@st.composite
def _spaced_event(draw: st.DrawFn) -> bytes:
    """A valid-looking event of model m0 with numbers from ``_number_text``, written with the
    separators of a JSON writer chosen at random (none, spaces, newlines), sometimes with a
    NUL byte or a control character slipped in."""
    values = [draw(_number_text() | _utf8_values) for _ in range(3)]
    writers = [(",", ":"), (", ", ": "), (",\n ", " : "), ("\t,", ":\r\n")]
    comma, colon = draw(st.sampled_from(writers))
    inputs = comma.join(f'"{k}"{colon}{v}' for k, v in zip("abc", values, strict=True))
    outputs = f'{{"prediction"{colon}{values[0]},"x"{colon}[[{values[1]}]]}}'
    fields = [f'"model_id"{colon}"m0"', f'"event_time"{colon}"2026-01-01T00:00:00.5Z"',
              f'"inputs"{colon}{{{inputs}}}', f'"latency_ms"{colon}{draw(_number_text())}',
              f'"outputs"{colon}{outputs}']  # fmt: skip
    raw = ("{" + comma.join(draw(st.permutations(fields))) + "}").encode()
    if draw(st.integers(0, 9)) == 0:  # anywhere, or inside a number (simd-json read 1\0 2 as 1)
        digits = [i for i in range(1, len(raw)) if raw[i - 1] in b"0123456789"]
        anywhere = st.integers(0, len(raw))
        at = draw(anywhere | st.sampled_from(digits) if digits else anywhere)
        odd = st.sampled_from([b"\x00", b"\x01", b"\x1f", b"\x7f", b" ", b"x", b".", b"-", b"e"])
        raw = raw[:at] + draw(odd) + raw[at:]
    return raw


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_spaced_event(), min_size=1, max_size=20))
def test_numbers_whitespace_and_control_bytes_decode_alike(values: list[bytes | None]) -> None:
    """The native decoder's one-pass reading of common events (native/src/fast.rs) against the
    reference: every number form, JSON whitespace anywhere, NUL and control bytes."""
    _assert_same(values)
