"""Poison messages (issue 19, class 1): no bytes make a decode path raise; each bad message
becomes a rejection with a reason code, and the good ones around it are kept."""

from __future__ import annotations

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capture_corpus import anything, bad, good
from modelmon.streaming.decode import TypedDecoder, decode_batch
from modelmon.streaming.poison import REASON_CODES
from modelmon.validation import check_capture

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _code(reason: str) -> str:
    return reason.split(":", 1)[0]


@FUZZ
@given(st.lists(anything, min_size=1, max_size=20))
def test_decode_batch_never_raises_and_accounts_for_every_message(
    corpus: list[tuple[str, bytes]],
) -> None:
    values = [v for _, v in corpus]
    batch, rejects = decode_batch(values)
    assert len(batch) + len(rejects) == len(values)
    rejected = {r.index for r in rejects}
    for i, (kind, _) in enumerate(corpus):
        assert (i in rejected) == (kind != "good"), (kind, values[i][:200])
    assert {_code(r.reason) for r in rejects} <= REASON_CODES


@FUZZ
@given(st.lists(anything, min_size=1, max_size=20))
def test_typed_decoder_never_raises_and_declines_any_bad_batch(
    corpus: list[tuple[str, bytes]],
) -> None:
    typed = TypedDecoder("m-a", {"age": None, "income": None, "state": None, "score": None,
                                  "flag": None})  # fmt: skip
    values = [v for _, v in corpus]
    batch = typed.decode(values)
    if any(kind != "good" for kind, _ in corpus):
        assert batch is None
    elif batch is not None:
        assert len(batch) == len(values)


@FUZZ
@given(bad)
def test_every_bad_message_has_a_reason_code(message: tuple[str, bytes]) -> None:
    kind, value = message
    problem = check_capture(value)
    assert problem is not None, kind
    assert _code(problem) in REASON_CODES


def test_invalid_utf8_inside_a_string_is_a_dead_letter_not_an_exception() -> None:
    """The message that stopped the aggregator for good (issue 19 #1)."""
    value = b'{"model_id":"m","event_time":"2026-01-01T00:00:00Z","inputs":{"a":"\xff\xfe"}}'
    ok = orjson.dumps({"model_id": "m", "event_time": "2026-01-01T00:00:00Z", "inputs": {}})
    batch, rejects = decode_batch([ok, value, ok])
    assert batch.index.tolist() == [0, 2]
    assert [(r.index, _code(r.reason), r.model_id) for r in rejects] == [(1, "invalid_utf8", None)]


def test_nesting_past_the_decoder_depth_is_too_deep() -> None:
    value = b'{"model_id":"m","event_time":"2026-01-01T00:00:00Z","inputs":{},"outputs":{"x":'
    value += b"[" * 100_000 + b"]" * 100_000 + b"}}"  # named outputs may be any JSON
    [reject] = decode_batch([value])[1]
    assert _code(reject.reason) == "too_deep"


@FUZZ
@given(st.lists(good(), min_size=1, max_size=10))
def test_good_messages_all_pass(corpus: list[tuple[str, bytes]]) -> None:
    assert all(check_capture(v) is None for _, v in corpus)
