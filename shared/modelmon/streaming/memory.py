"""In-memory stand-ins for the Redis seams, for unit tests of the streaming services.

``MemoryPartitionStore`` keeps the fenced-flush rule of ``streaming/store.py``'s script (a
flush is written only when its ``from`` offset equals the stored one; otherwise
``FencedWriteError``) and the same load (the stored offset, watermark and the partials of
windows still open). ``MemoryStateReader`` and ``MemoryResultStore`` are the detector's side
(``streaming/reader.py``, ``streaming/results.py``). ``MemoryRegistry`` holds model configs
and baselines with a version that moves on every change, as the Redis registry does. ``down``
makes a store raise ``DependencyUnavailableError``, as a Redis outage would.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from modelmon.config import ModelConfig
from modelmon.errors import DependencyUnavailableError, FencedWriteError
from modelmon.events import WindowResult
from modelmon.keys import WindowRef
from modelmon.profile import DatasetProfile
from modelmon.registry import ModelEntry
from modelmon.streaming.partition import FlushPlan
from modelmon.streaming.reader import MergedWindow, progress_of
from modelmon.streaming.results import WindowFailure
from modelmon.streaming.store import StoredPartition, open_windows_of
from modelmon.windows import NO_WATERMARK, PartitionProgress, evicted


@dataclass
class _Partition:
    offset: int | None = None
    watermark: int = NO_WATERMARK
    updated_ms: int | None = None
    partials: dict[WindowRef, tuple[int, bytes]] = field(default_factory=dict)
    late: dict[WindowRef, int] = field(default_factory=dict)

    def state_hash(self) -> dict[bytes, bytes]:
        """The partition's state as the Redis hash holds it (``Keys.partition_state``)."""
        fields = {b"offset": self.offset, b"watermark": self.watermark, b"updated": self.updated_ms}
        return {k: str(v).encode() for k, v in fields.items() if v is not None}


class MemoryPartitionStore:
    """The aggregator's partition state, fenced like the Redis script."""

    def __init__(self) -> None:
        self.partitions: dict[int, _Partition] = {}
        self.down = False
        self.flushes = 0

    def _check(self) -> None:
        if self.down:
            raise DependencyUnavailableError("Redis did not answer: (memory store is down)")

    def flush(self, partition: int, plan: FlushPlan, now_ms: int) -> None:
        self._check()
        state = self.partitions.setdefault(partition, _Partition())
        if state.offset != plan.from_offset:
            raise FencedWriteError(
                f"flush of [{partition}] from offset {plan.from_offset} refused: "
                f"the store holds offset {state.offset}"
            )
        state.offset, state.watermark, state.updated_ms = plan.next_offset, plan.watermark, now_ms
        for ref, close, blob in plan.partials:
            state.partials[ref] = (close, blob)
        for ref, count in plan.late:
            state.late[ref] = state.late.get(ref, 0) + count
        self.flushes += 1

    def load(self, partition: int) -> StoredPartition:
        self._check()
        state = self.partitions.get(partition, _Partition())
        refs = [(r, c) for r, (c, _) in state.partials.items() if not evicted(c, state.watermark)]
        windows, corrupt = open_windows_of(refs, [state.partials[r][1] for r, _ in refs])
        return StoredPartition(
            offset=state.offset,
            watermark=state.watermark,
            updated_ms=state.updated_ms,
            open_windows=windows,
            corrupt=corrupt,
        )

    def clear(self, partition: int) -> None:
        self._check()
        self.partitions.pop(partition, None)

    def profile(self, partition: int, ref: WindowRef) -> DatasetProfile | None:
        """The stored partial of a window (tests read what was written)."""
        found = self.partitions.get(partition, _Partition()).partials.get(ref)
        return DatasetProfile.deserialize(found[1]) if found else None


class MemoryRegistry:
    """Models and baselines; the version moves on every change."""

    def __init__(self) -> None:
        self.entries: dict[str, ModelEntry] = {}
        self.baselines: dict[str, dict[str, bytes]] = {}
        self.baseline_version: dict[str, int] = {}
        self._version = 0
        self.down = False

    def register(self, config: ModelConfig, now_ms: int = 0) -> int:
        self._version += 1
        has = config.model_id in self.baselines
        self.entries[config.model_id] = ModelEntry(config, self._version, now_ms, has)
        return self._version

    def push_baseline(self, model_id: str, files: dict[str, bytes]) -> int:
        self._version += 1
        self.baselines[model_id] = dict(files)
        self.baseline_version[model_id] = self.baseline_version.get(model_id, 0) + 1
        entry = self.entries[model_id]
        self.entries[model_id] = ModelEntry(entry.config, entry.version, entry.changed_at_ms, True)
        return self._version

    def version(self) -> int:
        if self.down:
            raise DependencyUnavailableError("Redis did not answer: (memory registry is down)")
        return self._version

    def all(self) -> dict[str, ModelEntry]:
        return dict(self.entries)

    def baseline_files(self, model_id: str) -> dict[str, bytes] | None:
        return self.baselines.get(model_id)

    def baseline_versions(self, model_ids: list[str]) -> dict[str, int]:
        return {m: self.baseline_version.get(m, 0) for m in model_ids}


class MemoryStateReader:
    """``streaming.reader.StateReader`` over a ``MemoryPartitionStore`` (the detector's view)."""

    def __init__(self, store: MemoryPartitionStore) -> None:
        self.store = store
        self.expired: list[tuple[WindowRef, int]] = []

    def progress(self, kafka_offsets: Mapping[int, tuple[int, int]]) -> list[PartitionProgress]:
        self.store._check()
        parts = self.store.partitions
        return [
            progress_of(p, parts[p].state_hash() if p in parts else {}, kafka_offsets[p])
            for p in sorted(kafka_offsets)
        ]

    def windows(
        self, partitions: Iterable[int], max_close_ms: int, min_close_ms: int | None = None
    ) -> dict[WindowRef, int]:
        self.store._check()
        low = -(2**63) if min_close_ms is None else min_close_ms
        found: dict[WindowRef, int] = {}
        for p in partitions:
            for ref, (close, _) in self.store.partitions.get(p, _Partition()).partials.items():
                if low <= close <= max_close_ms:
                    found[ref] = close
        return found

    def scores(self, refs: Iterable[WindowRef], partitions: Iterable[int]) -> dict[WindowRef, int]:
        self.store._check()
        found: dict[WindowRef, int] = {}
        parts = list(partitions)
        for ref in refs:
            for p in parts:
                entry = self.store.partitions.get(p, _Partition()).partials.get(ref)
                if entry is not None:
                    found[ref] = entry[0]
        return found

    def merged(self, window: WindowRef, partitions: Iterable[int]) -> MergedWindow:
        self.store._check()
        profile, holders, late = DatasetProfile.zero(), [], 0
        for p in partitions:
            state = self.store.partitions.get(p, _Partition())
            if window in state.partials:
                profile = profile.merge(DatasetProfile.deserialize(state.partials[window][1]))
                holders.append(p)
            late += state.late.get(window, 0)
        return MergedWindow(window, profile, late, tuple(holders))

    def expire_partials(self, window: WindowRef, partitions: Iterable[int], seconds: int) -> None:
        self.expired += [(window, p) for p in partitions]


class MemoryResultStore:
    """``streaming.results.ResultStore`` in memory: claims, done markers, results, failures."""

    def __init__(self, owner: str = "memory", shared: MemoryResultStore | None = None) -> None:
        self.owner = owner
        base = shared if shared is not None else self
        if shared is None:
            self.claims: dict[WindowRef, str] = {}
            self.done_at: dict[WindowRef, int] = {}
            self.saved: dict[WindowRef, DatasetProfile] = {}
            self.results_of: dict[tuple[str, bool], dict[int, WindowResult]] = {}
            self.failed: dict[WindowRef, WindowFailure] = {}
            self.retries: dict[WindowRef, int] = {}
            self.cursor_of: dict[str, int] = {}
        else:
            self.claims, self.done_at, self.saved = base.claims, base.done_at, base.saved
            self.results_of, self.failed = base.results_of, base.failed
            self.retries, self.cursor_of = base.retries, base.cursor_of

    def due_retries(self, now_ms: int, limit: int = 1000) -> list[WindowRef]:
        due = sorted((at, r.member(), r) for r, at in self.retries.items() if at <= now_ms)
        return [r for _, _, r in due[:limit]]

    def drop_retry(self, ref: WindowRef) -> None:
        self.retries.pop(ref, None)

    def cursors(self) -> dict[str, int]:
        return dict(self.cursor_of)

    def save_cursors(self, cursors: Mapping[str, int]) -> None:
        self.cursor_of.update(cursors)

    def done(self, windows: Iterable[WindowRef]) -> set[WindowRef]:
        return {ref for ref in windows if ref in self.done_at}

    def claim(self, ref: WindowRef, ttl_seconds: int) -> bool:
        if self.claims.setdefault(ref, self.owner) != self.owner:
            return False
        if ref in self.done_at:
            self.release(ref)
            return False
        return True

    def release(self, ref: WindowRef) -> None:
        if self.claims.get(ref) == self.owner:
            del self.claims[ref]

    def finish(self, ref: WindowRef, evaluated_at_ms: int, ttl_seconds: int) -> None:
        self.done_at[ref] = evaluated_at_ms
        self.failed.pop(ref, None)
        self.retries.pop(ref, None)
        self.release(ref)

    def save_merged(self, ref: WindowRef, profile: DatasetProfile, ttl_seconds: int) -> None:
        self.saved[ref] = profile

    def merged_profiles(self, refs: list[WindowRef]) -> list[DatasetProfile]:
        return [self.saved[r] for r in refs if r in self.saved]

    def save_result(self, result: WindowResult, rolling: bool, retention_ms: int) -> None:
        start = int(result.window_start.timestamp() * 1000)
        self.results_of.setdefault((result.model_id, rolling), {})[start] = result

    def results(self, model_id: str, rolling: bool = False) -> list[WindowResult]:
        found = self.results_of.get((model_id, rolling), {})
        return [found[k] for k in sorted(found)]

    def record_failure(self, failure: WindowFailure, ttl_seconds: int) -> None:
        self.failed[failure.window] = failure
        self.retries[failure.window] = failure.retry_at_ms

    def failures(self, windows: Iterable[WindowRef]) -> dict[WindowRef, WindowFailure]:
        return {ref: self.failed[ref] for ref in windows if ref in self.failed}
