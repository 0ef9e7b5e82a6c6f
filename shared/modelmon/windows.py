"""Event-time tumbling windows, watermarks, lateness and completion (pure, columnar).

The one place of the window rule; the partition aggregate, the store and the detector call it.
Windows are aligned to the epoch: a window of ``size`` ms starts at every multiple of ``size``.
A partition's watermark is the largest event time it has seen. An event is *late* when the
watermark of its partition, just before the event, is already at or past its window's close
time (``end + allowed_lateness``); a window leaves a partition's memory (is *evicted*) once
the partition's watermark is at or past its close time; a window is *complete* when every
partition of the topic has a watermark at or past its close time, or is idle (caught up with
Kafka and quiet for longer than the model's idle timeout). Times are integer milliseconds
since the epoch; the caller supplies "now" (pure code never reads the clock).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from modelmon.config import WindowConfig

Int64Array = npt.NDArray[np.int64]

#: Watermark of a partition that has seen no event yet.
NO_WATERMARK = -(2**62)
#: Effective watermark of an idle partition: past every window.
IDLE_WATERMARK = 2**62


#: Separator inside members of the per-partition window index: ``model|size|start``.
WINDOW_MEMBER_SEP = "|"


@dataclass(frozen=True, slots=True)
class WindowRef:
    """One tumbling window of one model: its size and epoch-aligned start, in milliseconds."""

    model_id: str
    size_ms: int
    start_ms: int

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.size_ms

    def member(self) -> str:
        """The window as a member of a partition's window index."""
        return WINDOW_MEMBER_SEP.join((self.model_id, str(self.size_ms), str(self.start_ms)))

    @classmethod
    def from_member(cls, member: str | bytes) -> WindowRef:
        text = member.decode() if isinstance(member, bytes) else member
        model_id, size, start = text.rsplit(WINDOW_MEMBER_SEP, 2)
        return cls(model_id, int(size), int(start))


@dataclass(frozen=True, slots=True)
class WindowSpec:
    """A model's window parameters in milliseconds."""

    size_ms: int
    lateness_ms: int
    idle_timeout_ms: int

    @classmethod
    def from_config(cls, window: WindowConfig) -> WindowSpec:
        return cls(
            size_ms=window.size_seconds * 1000,
            lateness_ms=window.allowed_lateness_seconds * 1000,
            idle_timeout_ms=window.idle_timeout_seconds * 1000,
        )

    def start_of(self, event_ms: int) -> int:
        return event_ms - event_ms % self.size_ms

    def close_of(self, start_ms: int) -> int:
        """When a window stops accepting events: its end plus the allowed lateness."""
        return start_ms + self.size_ms + self.lateness_ms


def window_starts(event_ms: Int64Array, size_ms: int) -> Int64Array:
    """The start of each event's window (numpy's ``%`` floors, so pre-epoch times work too)."""
    return event_ms - event_ms % size_ms


def watermarks_before(event_ms: Int64Array, watermark: int) -> Int64Array:
    """The partition watermark just before each event, given the watermark before the batch.

    Events must be in offset order (the order the partition delivered them).
    """
    if len(event_ms) == 0:
        return np.empty(0, dtype=np.int64)
    shifted = np.empty(len(event_ms), dtype=np.int64)
    shifted[0] = watermark
    shifted[1:] = event_ms[:-1]
    np.maximum.accumulate(shifted, out=shifted)
    return shifted


def is_late(starts: Int64Array, marks: Int64Array, spec: WindowSpec) -> npt.NDArray[np.bool_]:
    """True where a window (by its start) had closed at the watermark ``marks`` beside it."""
    return starts + spec.size_ms + spec.lateness_ms <= marks


def late_mask(event_ms: Int64Array, watermark: int, spec: WindowSpec) -> npt.NDArray[np.bool_]:
    """True for events whose window had already closed on this partition when they arrived."""
    starts = window_starts(event_ms, spec.size_ms)
    return is_late(starts, watermarks_before(event_ms, watermark), spec)


def evicted(close_ms: int, watermark: int) -> bool:
    """A window leaves the partition's memory once the watermark reaches its close time."""
    return close_ms <= watermark


def batch_watermark(event_ms: Int64Array, watermark: int) -> int:
    """The partition watermark after the batch."""
    return max(watermark, int(event_ms.max())) if len(event_ms) else watermark


@dataclass(frozen=True, slots=True)
class PartitionProgress:
    """What the detector knows about one capture partition."""

    partition: int
    watermark_ms: int | None  # largest event time flushed, None if never
    next_offset: int | None  # next offset to consume per Redis, None if never flushed
    updated_ms: int | None  # wall-clock time of the last flush
    low_offset: int  # Kafka's log start offset
    high_offset: int  # Kafka's high watermark (end of the log)
    model_watermarks: Mapping[str, int] | None = None  # issue 19: per model, when stored

    def for_model(self, model_id: str) -> PartitionProgress:
        """This partition as one model sees it: that model's watermark when the partition
        carries it, else the partition's (a partition that never carried the model)."""
        mark = (self.model_watermarks or {}).get(model_id)
        return self if mark is None else replace(self, watermark_ms=mark)

    def caught_up(self) -> bool:
        consumed = self.next_offset if self.next_offset is not None else self.low_offset
        return consumed >= self.high_offset

    def is_idle(self, now_ms: int, idle_timeout_ms: int) -> bool:
        """Caught up with the log and nothing flushed for longer than the idle timeout."""
        if not self.caught_up():
            return False
        return self.updated_ms is None or now_ms - self.updated_ms >= idle_timeout_ms

    def effective_watermark(self, now_ms: int, idle_timeout_ms: int) -> int:
        if self.is_idle(now_ms, idle_timeout_ms):
            return IDLE_WATERMARK
        return self.watermark_ms if self.watermark_ms is not None else NO_WATERMARK


def completion_watermark(
    partitions: Iterable[PartitionProgress], now_ms: int, idle_timeout_ms: int
) -> int:
    """Windows whose close time is at or below this are complete (every partition is past)."""
    marks = [p.effective_watermark(now_ms, idle_timeout_ms) for p in partitions]
    return min(marks) if marks else IDLE_WATERMARK


def is_complete(
    close_ms: int, partitions: Iterable[PartitionProgress], now_ms: int, idle_timeout_ms: int
) -> bool:
    return close_ms <= completion_watermark(partitions, now_ms, idle_timeout_ms)
