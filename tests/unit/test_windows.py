"""Window arithmetic, watermarks, lateness and completion (pure)."""

from __future__ import annotations

import numpy as np

from modelmon.config import WindowConfig
from modelmon.windows import (
    IDLE_WATERMARK,
    NO_WATERMARK,
    PartitionProgress,
    WindowSpec,
    batch_watermark,
    completion_watermark,
    is_complete,
    late_mask,
    watermarks_before,
    window_starts,
)

SPEC = WindowSpec(size_ms=10_000, lateness_ms=2_000, idle_timeout_ms=5_000)


def test_spec_from_config_is_in_milliseconds() -> None:
    spec = WindowSpec.from_config(
        WindowConfig(size_seconds=60, allowed_lateness_seconds=5, idle_timeout_seconds=30)
    )
    assert spec == WindowSpec(60_000, 5_000, 30_000)
    assert spec.start_of(125_001) == 120_000
    assert spec.close_of(120_000) == 185_000


def test_windows_are_epoch_aligned_including_before_the_epoch() -> None:
    t = np.array([0, 9_999, 10_000, -1, -10_000, -10_001], dtype=np.int64)
    assert window_starts(t, 10_000).tolist() == [0, 0, 10_000, -10_000, -10_000, -20_000]


def test_watermark_before_each_event_is_the_running_max_of_earlier_events() -> None:
    t = np.array([5, 3, 9, 1, 12], dtype=np.int64)
    assert watermarks_before(t, 4).tolist() == [4, 5, 5, 9, 9]
    assert watermarks_before(t, 100).tolist() == [100] * 5
    assert watermarks_before(np.empty(0, dtype=np.int64), 7).tolist() == []
    assert batch_watermark(t, 4) == 12
    assert batch_watermark(np.empty(0, dtype=np.int64), 4) == 4


def test_late_events_are_those_whose_window_closed_before_they_arrived() -> None:
    # window [0, 10s) closes at 12s; the event at 12s closes it for the events after it
    t = np.array([1_000, 11_999, 12_000, 9_000, 10_500, 500], dtype=np.int64)
    assert late_mask(t, NO_WATERMARK, SPEC).tolist() == [False, False, False, True, False, True]
    # an event at exactly close-1 leaves the window open
    t2 = np.array([11_999, 9_999], dtype=np.int64)
    assert late_mask(t2, NO_WATERMARK, SPEC).tolist() == [False, False]


def _p(part: int, wm: int | None, nxt: int | None, upd: int | None, hi: int) -> PartitionProgress:
    return PartitionProgress(part, wm, nxt, upd, low_offset=0, high_offset=hi)


def test_a_window_completes_when_every_partition_is_past_its_close() -> None:
    now = 1_000_000
    parts = [_p(0, 12_000, 10, now, 10), _p(1, 11_999, 5, now, 5)]
    assert completion_watermark(parts, now, SPEC.idle_timeout_ms) == 11_999
    assert not is_complete(12_000, parts, now, SPEC.idle_timeout_ms)
    parts[1] = _p(1, 12_000, 5, now, 5)
    assert is_complete(12_000, parts, now, SPEC.idle_timeout_ms)


def test_an_idle_partition_counts_as_past_only_when_caught_up_and_quiet() -> None:
    now = 100_000
    quiet = _p(1, 3_000, 7, now - 5_000, 7)
    busy = _p(1, 3_000, 7, now - 4_999, 7)
    behind = _p(1, 3_000, 6, now - 60_000, 7)
    never = _p(1, None, None, None, 0)
    unread = _p(1, None, None, None, 3)
    assert quiet.effective_watermark(now, 5_000) == IDLE_WATERMARK
    assert busy.effective_watermark(now, 5_000) == 3_000
    assert behind.effective_watermark(now, 5_000) == 3_000
    assert never.effective_watermark(now, 5_000) == IDLE_WATERMARK
    assert unread.effective_watermark(now, 5_000) == NO_WATERMARK
    assert completion_watermark([], now, 5_000) == IDLE_WATERMARK
