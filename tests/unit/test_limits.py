"""Event-time bounds, capped dead letters and rate-limited warnings (issue 19, pure parts)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import numpy as np
import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from modelmon.limits import EventTimeBounds, capture_verdict, epoch_ms
from modelmon.lograte import RateLimitedLog
from modelmon.streaming.bounds import reject_out_of_bounds
from modelmon.streaming.decode import decode_batch
from modelmon.streaming.partition import ModelPlan, PartitionAggregate
from modelmon.windows import WindowSpec
from modelmon_services.ingest.guard import dead_letter_capped
from modelmon_services.ingest.parse import LineError

NOW = 1_767_225_600_000  # 2026-01-01T00:00:00Z
BOUNDS = EventTimeBounds(future_ms=300_000, past_ms=7 * 86_400_000)
PLAN = ModelPlan(WindowSpec(10_000, 2_000, 5_000), kinds={"x": "numeric"})

#: Every time an RFC 3339 string can hold (years 1-9999), as epoch milliseconds.
any_time = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59), timezones=st.just(UTC)
)


def _event(when: datetime, model: str = "m", x: float = 1.0) -> bytes:
    iso = when.isoformat().replace("+00:00", "Z")
    return orjson.dumps({"model_id": model, "event_time": iso, "inputs": {"x": x}})


def _inside(ms: int) -> bool:
    return NOW - BOUNDS.past_ms <= ms <= NOW + BOUNDS.future_ms


@settings(max_examples=300, deadline=None)
@given(st.lists(any_time, min_size=1, max_size=30))
def test_out_of_bounds_events_are_rejected_and_never_move_the_watermark(
    times: list[datetime],
) -> None:
    values = [_event(t) for t in times]
    batch, rejects = reject_out_of_bounds(*decode_batch(values), BOUNDS, NOW)
    inside = [_inside(epoch_ms(t)) for t in times]
    assert batch.index.tolist() == [i for i, ok in enumerate(inside) if ok]
    assert [r.index for r in rejects] == [i for i, ok in enumerate(inside) if not ok]
    assert all(r.reason.startswith("event_time_out_of_bounds: ") for r in rejects)
    agg = PartitionAggregate(stored_offset=None)
    agg.add(batch, last_offset=len(values) - 1, plans={"m": PLAN})
    kept = [epoch_ms(t) for t, ok in zip(times, inside, strict=True) if ok]
    assert agg.watermark <= NOW + BOUNDS.future_ms
    assert agg.watermark == (max(kept) if kept else agg.watermark)
    for verdict, ok in zip(map(_sdk, values), inside, strict=True):
        assert (verdict is None) == ok


def _sdk(value: bytes) -> str | None:
    return capture_verdict(value, BOUNDS, NOW)


def test_one_event_dated_2099_cannot_make_later_events_late() -> None:
    """The event that silenced a partition (issue 19 #3)."""
    values = [_event(datetime(2099, 1, 1, tzinfo=UTC)), _event(datetime(2025, 12, 31, 23, 59, 59,
                                                                        tzinfo=UTC))]  # fmt: skip
    batch, rejects = reject_out_of_bounds(*decode_batch(values), BOUNDS, NOW)
    agg = PartitionAggregate(stored_offset=None)
    result = agg.add(batch, last_offset=1, plans={"m": PLAN})
    assert (result.profiled, result.late) == (1, 0)
    assert [r.index for r in rejects] == [0] and "ahead of now" in rejects[0].reason


def test_typed_batches_are_bounded_too() -> None:
    from modelmon.streaming.decode import TypedDecoder

    values = [_event(datetime(2026, 1, 1, tzinfo=UTC)), _event(datetime(2099, 1, 1, tzinfo=UTC))]
    typed = TypedDecoder("m", {"x": "numeric"}).decode(values)
    assert typed is not None
    batch, rejects = reject_out_of_bounds(typed, [], BOUNDS, NOW)
    assert batch.index.tolist() == [0] and [r.index for r in rejects] == [1]
    assert batch.columns is not None and len(batch.columns["x"]) == 1


class _Letters:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes, str]] = []

    def send(self, original: bytes, error: BaseException, **_: object) -> None:
        self.sent.append((original, str(error)))


@given(st.integers(0, 2000))
def test_dead_letters_per_request_are_capped_with_a_summary(n: int) -> None:
    errors = [LineError(i + 1, f"invalid JSON: bad {i}", b"x") for i in range(n)]
    letters = _Letters()
    sent = dead_letter_capped(letters, errors, cap=20)  # type: ignore[arg-type]
    assert sent == len(letters.sent) == min(n, 21)
    if n > 20:
        assert letters.sent[-1][1].startswith(f"{n - 20} more invalid documents")
        assert f"lines 21-{n}" in letters.sent[-1][1]


def test_repeated_warnings_are_rate_limited_and_summarised(caplog: object) -> None:
    logger = logging.getLogger("test.lograte")
    limited = RateLimitedLog(logger, burst=3, period=10.0)
    logged = [limited.warn("k", t * 0.1, "kafka down") for t in range(50)]  # 5 s of warnings
    assert logged.count(True) == 3
    assert limited.warn("k", 11.0, "kafka down")  # the next period: logged, after a summary
    records = [r.getMessage() for r in caplog.records]  # type: ignore[attr-defined]
    assert records.count("kafka down") == 4
    assert "47 more warnings like 'k' suppressed" in records[3]


def test_bounds_on_arrays_and_single_times_agree() -> None:
    times = np.array([NOW - BOUNDS.past_ms - 1, NOW - BOUNDS.past_ms, NOW + BOUNDS.future_ms,
                      NOW + BOUNDS.future_ms + 1], dtype=np.int64)  # fmt: skip
    assert BOUNDS.outside(times, NOW).tolist() == [True, False, False, True]
    assert [BOUNDS.problem(int(t), NOW) is not None for t in times] == [True, False, False, True]
