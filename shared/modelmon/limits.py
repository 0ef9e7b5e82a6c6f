"""Bounds on what one event or one model may cost (pure): event-time horizons, and the
per-model caps on features, categories and string length (issue 19).

``LimitsSettings`` is the ``limits`` section of ``Settings`` (``MODELMON_LIMITS__…``); the
aggregator, ingest and the SDK take their bounds from it. An event dated further in the future
than ``future_seconds`` or further in the past than ``past_seconds`` (relative to the clock of
whoever checks: the SDK, ingest, the aggregator) is dead-lettered with the reason code
``event_time_out_of_bounds`` and never moves a watermark. docs/streaming.md explains the choice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, Field

from modelmon.streaming.poison import DECODE_ERRORS, reason, reason_code
from modelmon.validation import check_capture, decode_capture

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class LimitsSettings(BaseModel):
    """What one event or one model may cost (``MODELMON_LIMITS__…``)."""

    future_seconds: int = Field(
        default=300, ge=0, description="event times later than now + this are dead-lettered"
    )
    past_seconds: int = Field(
        default=7 * 86400,
        ge=0,
        description="event times earlier than now - this are dead-lettered (keep it at most the "
        "aggregator's retention: older windows are gone)",
    )
    max_features: int = Field(
        default=500,
        ge=1,
        description="features profiled per model and window: the configured ones, then others "
        "as they come up to this cap (values past it are counted, not profiled)",
    )


@dataclass(frozen=True, slots=True)
class EventTimeBounds:
    """The accepted event times around a clock reading, in epoch milliseconds."""

    future_ms: int = 300_000
    past_ms: int = 7 * 86_400_000

    @classmethod
    def of(cls, limits: LimitsSettings) -> EventTimeBounds:
        return cls(limits.future_seconds * 1000, limits.past_seconds * 1000)

    def outside(self, event_ms: npt.NDArray[np.int64], now_ms: int) -> npt.NDArray[np.bool_]:
        """True for each event time out of bounds."""
        return (event_ms > now_ms + self.future_ms) | (event_ms < now_ms - self.past_ms)

    def problem(self, event_ms: int, now_ms: int) -> str | None:
        """The dead-letter reason of one event time, or None when it is within bounds."""
        if event_ms > now_ms + self.future_ms:
            ahead = (event_ms - now_ms) / 1000
            detail = f"event_time is {ahead:.0f}s ahead of now (limit {self.future_ms // 1000}s)"
        elif event_ms < now_ms - self.past_ms:
            behind = (now_ms - event_ms) / 1000
            detail = f"event_time is {behind:.0f}s in the past (limit {self.past_ms // 1000}s)"
        else:
            return None
        return reason("event_time_out_of_bounds", detail)


def epoch_ms(when: datetime) -> int:
    """Milliseconds since the epoch, floored (as the aggregator's decoders compute them)."""
    return (when - _EPOCH) // _MS


_MS = datetime(1970, 1, 1, 0, 0, 0, 1000, tzinfo=UTC) - _EPOCH


def capture_verdict(
    value: bytes, bounds: EventTimeBounds, now_ms: int, max_bytes: int | None = None
) -> str | None:
    """None when ``value`` is a valid capture event dated within bounds, else the reason: the
    check every capture point (SDK, ingest) runs before producing."""
    if max_bytes is not None and len(value) > max_bytes:
        return check_capture(value, max_bytes)
    try:
        event = decode_capture(value)
    except DECODE_ERRORS as exc:
        return reason(reason_code(exc), f"not a valid capture event: {exc}")
    return bounds.problem(epoch_ms(event.event_time), now_ms)
