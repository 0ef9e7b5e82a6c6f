"""Hypothesis strategies of capture messages, good and bad, by class (shared by the unit and
integration tests of issue 19: poison input, one validator, the property-based corpus).

Each strategy yields ``(kind, bytes)``; ``kind`` is ``"good"`` for a valid capture event and the
class of bad input otherwise. Good events are dated inside ``[base_ms, base_ms + span_ms)``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from hypothesis import strategies as st

BASE_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
SPAN_MS = 60_000

_names = st.sampled_from(["age", "income", "state", "score", "flag"])
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**53), 2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)


def iso(ms: int) -> str:
    return (
        datetime.fromtimestamp(ms / 1000, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


@st.composite
def good_docs(
    draw: st.DrawFn, models: tuple[str, ...] = ("m-a", "m-b"), base_ms: int = BASE_MS
) -> dict[str, Any]:
    offset = draw(st.integers(0, SPAN_MS - 1))
    doc: dict[str, Any] = {
        "model_id": draw(st.sampled_from(models)),
        "event_time": iso(base_ms + offset),
        "inputs": draw(st.dictionaries(_names, _scalars, max_size=5)),
    }
    if draw(st.booleans()):
        doc["latency_ms"] = draw(st.floats(0, 1e6))
    if draw(st.booleans()):
        doc["metadata"] = draw(
            st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2)
        )
    return doc


def good(
    models: tuple[str, ...] = ("m-a", "m-b"), base_ms: int = BASE_MS
) -> st.SearchStrategy[tuple[str, bytes]]:
    return good_docs(models, base_ms).map(lambda d: ("good", orjson.dumps(d)))


#: Every time an RFC 3339 string can hold (years 1-9999).
any_time = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59), timezones=st.just(UTC)
)


@st.composite
def dated_outside(draw: st.DrawFn, low_ms: int, high_ms: int) -> tuple[str, bytes]:
    """A valid event dated outside ``[low_ms, high_ms]`` (anywhere from year 1 to 9999)."""
    when = draw(any_time.filter(lambda t: not low_ms <= t.timestamp() * 1000 <= high_ms))
    doc = draw(good_docs())
    doc["event_time"] = when.isoformat().replace("+00:00", "Z")
    return "out_of_bounds", orjson.dumps(doc)


@st.composite
def feature_flood(draw: st.DrawFn, base_ms: int = BASE_MS) -> tuple[str, bytes]:
    """A valid event of ``m-b`` with hundreds of new feature names."""
    doc = draw(good_docs(("m-b",), base_ms))
    tag = draw(st.integers(0, 10**9))
    doc["inputs"] = {f"flood_{tag}_{i}": i for i in range(draw(st.integers(100, 600)))}
    return "good", orjson.dumps(doc)


@st.composite
def invalid_utf8(draw: st.DrawFn) -> tuple[str, bytes]:
    """A valid event with invalid UTF-8 bytes inserted inside one of its strings."""
    raw = orjson.dumps(draw(good_docs()))
    quotes = [i for i, b in enumerate(raw) if b == ord('"')]
    at = draw(st.sampled_from(quotes)) + 1  # just inside an opening or closing quote
    junk = draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80\x80", b"\xf8\x88"]))
    return "invalid_utf8", raw[:at] + junk + raw[at:]


@st.composite
def huge_number(draw: st.DrawFn) -> tuple[str, bytes]:
    digits = draw(st.integers(309, 5000))  # past float64: 1e308 still fits
    text = draw(st.sampled_from([b"1" + b"0" * digits, b"1e" + str(digits).encode()]))
    field = draw(st.sampled_from([b'"inputs":{"a":%s}', b'"latency_ms":%s']))
    body = b'{"model_id":"m-a","event_time":"2026-01-01T00:00:00Z",' + field % text
    if b"inputs" not in field:
        body += b',"inputs":{}'
    return "huge_number", body + b"}"


@st.composite
def deep_nesting(draw: st.DrawFn) -> tuple[str, bytes]:
    depth = draw(st.integers(50, 20_000))
    where = draw(st.sampled_from([b"inputs", b"metadata", b"outputs", b"nowhere"]))
    nest = b"[" * depth + b"]" * depth
    return "deep_nesting", (
        b'{"model_id":"m-a","event_time":"2026-01-01T00:00:00Z","inputs":{},"%s":%s}'
        % (where + b"_x" if where != b"inputs" else b"extra", nest)
    )


@st.composite
def wrong_shape(draw: st.DrawFn) -> tuple[str, bytes]:
    """Valid JSON that breaks one schema rule."""
    doc = draw(good_docs())
    breakage = draw(
        st.sampled_from(
            [
                ("latency_ms", "fast"),
                ("latency_ms", -1),
                ("event_time", 1767225600),
                ("event_time", "2026-01-01T00:00:00"),  # no zone
                ("event_time", "not a time"),
                ("model_id", "bad id/x"),
                ("inputs", {"nested": {"a": 1}}),
                ("inputs", [1, 2]),
                ("schema_version", 2),
                ("unknown_field", 1),
                ("metadata", {"k": 1}),
                ("outputs", {"probability": "high"}),
            ]
        )
    )
    doc[breakage[0]] = breakage[1]
    return "wrong_shape", orjson.dumps(doc)


random_bytes = st.binary(max_size=200).map(lambda b: ("random_bytes", b))

bad = st.one_of(random_bytes, invalid_utf8(), huge_number(), deep_nesting(), wrong_shape())
anything = st.one_of(good(), bad)
