"""Event-time bounds on a decoded batch (pure): out-of-bounds events become rejections.

The aggregator calls ``reject_out_of_bounds`` on every decoded batch before folding it into
its partition: an event dated too far ahead (a producer's clock off by years) or too far back
(older than the windows Redis keeps) is dead-lettered with ``event_time_out_of_bounds`` and so
never moves a watermark, never trims the window index, never makes another event late.
"""

from __future__ import annotations

import numpy as np

from modelmon.limits import EventTimeBounds
from modelmon.streaming.decode import DecodedBatch, Int64Array, Rejected


def reject_out_of_bounds(
    batch: DecodedBatch, rejects: list[Rejected], bounds: EventTimeBounds, now_ms: int
) -> tuple[DecodedBatch, list[Rejected]]:
    """The batch without its out-of-bounds events, and the rejections with them added."""
    outside = bounds.outside(batch.event_ms, now_ms)
    if not outside.any():
        return batch, rejects
    out = np.flatnonzero(outside)
    added = [
        Rejected(
            int(batch.index[i]),
            str(bounds.problem(int(batch.event_ms[i]), now_ms)),
            "InvalidEventError",
            batch.model_ids[i],
        )
        for i in out.tolist()
    ]
    kept = np.flatnonzero(~outside)
    merged = sorted([*rejects, *added], key=lambda r: r.index)
    return subset(batch, kept), merged


def subset(batch: DecodedBatch, positions: Int64Array) -> DecodedBatch:
    """The events of ``batch`` at these (sorted) positions."""
    return batch.subset(positions)
