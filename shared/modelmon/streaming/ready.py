"""The detector's ready queue (pure; issue 23): complete windows found from watermark moves.

Each model has a cursor: the close time up to which its windows were handed out for
evaluation. When the model's completion watermark moves past the cursor, exactly the windows
closing in between are candidates: the few of them (``MAX_STEPS``) are enumerated from the
window size (tumbling, epoch-aligned) and looked up in the aggregator's window index one by
one; a longer jump (a first start, a model new to this detector, a long outage) reads the
index over that close-time range instead. So a pass costs what completed since the last
one, never what is retained. A window can only enter the index with a close time past its
model's watermark on that partition (else its events are late), so nothing appears behind a
cursor that stays at or below the watermark; the exceptions (a partition that never carried
the model, or was idle) are what the detector's bounded repair sweep is for.

The cursor that is stored stays below every window handed out and not finished (``stored``),
so a restarted detector resumes with exactly those (done markers filter the rest).
Models are spread over detector processes by a stable hash (``shard_of``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from modelmon.windows import NO_WATERMARK, WindowRef, WindowSpec

#: More candidate windows than this for one model in one pass: read the index instead.
MAX_STEPS = 64


def shard_of(model_id: str, shards: int) -> int:
    """The shard (0..shards-1) evaluating ``model_id``: the same in every process and run."""
    digest = hashlib.blake2b(model_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


def candidates(model_id: str, spec: WindowSpec, low: int, high: int) -> list[WindowRef] | None:
    """The windows of ``spec`` closing in ``(low, high]``; None when there are more than
    ``MAX_STEPS`` (or ``low`` is unknown): read the index over the range then."""
    span = spec.size_ms + spec.lateness_ms
    first = -((span - low - 1) // spec.size_ms) * spec.size_ms  # ceil((low + 1 - span) / size)
    last = (high - span) // spec.size_ms * spec.size_ms
    count = (last - first) // spec.size_ms + 1
    if count <= 0:
        return []
    if low == NO_WATERMARK or count > MAX_STEPS:
        return None
    return [WindowRef(model_id, spec.size_ms, s) for s in range(first, last + 1, spec.size_ms)]


@dataclass(frozen=True, slots=True)
class ModelMarks:
    """One model's watermarks this pass: ``mark`` (completion: idle partitions count as
    past), ``safe`` and ``top`` (the lowest and highest of its raw watermarks on the
    partitions that carry it). A window that does not exist yet can only appear closing
    after ``safe``; every existing one closes at or before ``top`` plus one window span."""

    mark: int
    safe: int
    top: int


@dataclass
class Cursors:
    """Per model: ``at``, the close time at or below which every window was handed out and
    none can appear any more; the windows handed out above it; the watermarks last seen; and
    the windows handed out but not finished (requeued: evaluated again next pass)."""

    at: dict[str, int] = field(default_factory=dict)
    pending: dict[WindowRef, int] = field(default_factory=dict)
    handed: dict[str, dict[WindowRef, int]] = field(default_factory=dict)
    seen: dict[str, tuple[int, int]] = field(default_factory=dict)
    read_to: dict[str, int] = field(default_factory=dict)

    def of(self, model_id: str) -> int:
        return self.at.get(model_id, NO_WATERMARK)

    def look_range(
        self, model_id: str, marks: ModelMarks, span_ms: int, now_ms: int
    ) -> tuple[int, int] | None:
        """``(low, high]``: close times to look up now. From the cursor when the model's
        watermarks moved (windows may have appeared since), else only what is newly
        complete; never past the wall clock, nor past where a window can exist."""
        high = min(marks.mark, now_ms, marks.top + span_ms)
        moved = self.seen.get(model_id) != (marks.safe, marks.top)
        # a partition newly carrying the model can put windows below the cursor: from there
        low = (
            min(self.of(model_id), marks.safe)
            if moved
            else self.read_to.get(model_id, NO_WATERMARK)
        )
        return (low, high) if high > low else None

    def looked(self, model_id: str, marks: ModelMarks, high: int) -> None:
        """After looking up to ``high``: advance the cursor to what can no longer change."""
        self.seen[model_id] = (marks.safe, marks.top)
        self.read_to[model_id] = max(self.read_to.get(model_id, NO_WATERMARK), high)
        self.at[model_id] = max(self.of(model_id), min(high, marks.safe))
        handed = self.handed.get(model_id, {})
        for ref in [r for r, c in handed.items() if c <= self.at[model_id]]:
            del handed[ref]

    def fresh(self, found: Mapping[WindowRef, int]) -> dict[WindowRef, int]:
        """What was found and not handed out above the cursor yet (now handed out; below
        the cursor, done markers tell)."""
        out = {}
        for ref, close in found.items():
            handed = self.handed.setdefault(ref.model_id, {})
            if ref not in handed:
                if close > self.of(ref.model_id):
                    handed[ref] = close
                out[ref] = close
        return out

    def advance(self, model_id: str, close_ms: int) -> None:
        self.at[model_id] = max(self.of(model_id), close_ms)

    def stored(self) -> dict[str, int]:
        """Each model's cursor to store: below its earliest unfinished window."""
        out = dict(self.at)
        for ref, close in self.pending.items():
            out[ref.model_id] = min(out.get(ref.model_id, NO_WATERMARK), close - 1)
        return out


def in_ranges(
    found: Mapping[WindowRef, int], ranges: Mapping[str, tuple[int, int]]
) -> dict[WindowRef, int]:
    """The index entries whose model is in ``ranges`` and whose close is in its range."""
    out: dict[WindowRef, int] = {}
    for ref, close in found.items():
        span = ranges.get(ref.model_id)
        if span is not None and span[0] < close <= span[1]:
            out[ref] = close
    return out
