"""The detector's ready queue (pure; issue 23): complete windows found without scanning.

The aggregator's window index (a sorted set per partition, score = close time) is read only
over close times that are new since the last pass: ``(cursor, high]``, where ``high`` is the
largest completion watermark among this shard's models (capped by the wall clock, so idle
partitions do not read the future). What is read is either ready (its model's watermark is
past its close) or pending, kept per model and handed out when that model's watermark moves.
So a pass costs what completed since the last one, not what is retained. The cursor that is
stored (``durable_cursor``) stays below every pending window, so a restarted detector reads
again exactly the windows it had not handed out yet (done markers filter the rest).

Models are spread over detector processes by a stable hash (``shard_of``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from modelmon.windows import NO_WATERMARK, WindowRef


def shard_of(model_id: str, shards: int) -> int:
    """The shard (0..shards-1) evaluating ``model_id``: the same in every process and run."""
    digest = hashlib.blake2b(model_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


def cursor_field(shard: int, shards: int) -> str:
    """The field of a shard's cursor in ``Keys.detector_cursors``."""
    return f"{shard}/{shards}"


def resume_cursor(stored: Mapping[str, int], own: str, fallback: int) -> int:
    """Where a starting shard reads from: its own stored cursor; else (a new shard layout) the
    lowest cursor any shard stored, so nothing is skipped; else ``fallback`` (a first start)."""
    if own in stored:
        return stored[own]
    return min(stored.values()) if stored else fallback


@dataclass
class ReadyQueue:
    """Windows read from the index and not yet handed out, by model, and the read cursor."""

    cursor_ms: int = NO_WATERMARK  # every close time <= this has been read
    pending: dict[str, dict[WindowRef, int]] = field(default_factory=dict)  # model -> close

    def read_range(self, marks: Mapping[str, int], now_ms: int) -> tuple[int, int] | None:
        """``(low, high]`` of close times to read now, or None when no watermark moved."""
        if not marks:
            return None
        high = min(max(marks.values()), now_ms)
        return (self.cursor_ms, high) if high > self.cursor_ms else None

    def add(self, found: Mapping[WindowRef, int], high: int, mine: Iterable[str]) -> None:
        """Take what was read over ``(cursor, high]``: this shard's models' windows only."""
        models = set(mine)
        for ref, close in found.items():
            if ref.model_id in models:
                self.pending.setdefault(ref.model_id, {})[ref] = close
        self.cursor_ms = max(self.cursor_ms, high)

    def take_ready(self, marks: Mapping[str, int]) -> dict[WindowRef, int]:
        """Pop every pending window whose model's watermark is at or past its close; windows
        of models no longer in ``marks`` (unregistered, moved to another shard) are dropped."""
        ready: dict[WindowRef, int] = {}
        for model_id in list(self.pending):
            mark = marks.get(model_id)
            windows = self.pending[model_id]
            if mark is None:
                del self.pending[model_id]
                continue
            for ref in [r for r, close in windows.items() if close <= mark]:
                ready[ref] = windows.pop(ref)
            if not windows:
                del self.pending[model_id]
        return ready

    def durable_cursor(self) -> int:
        """The cursor to store: below the earliest window still pending."""
        closes = [c for windows in self.pending.values() for c in windows.values()]
        return min([self.cursor_ms, *(c - 1 for c in closes)])

    def __len__(self) -> int:
        return sum(len(w) for w in self.pending.values())
