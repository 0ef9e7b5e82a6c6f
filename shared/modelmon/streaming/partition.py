"""One capture partition's in-memory aggregate between flushes (pure).

It holds a ``ProfileTracker`` per open window (model, window) of the partition, the partition
watermark, late-event counts since the last flush, and the offsets: ``stored_offset`` is the
next offset Redis holds for the partition (the fencing token of the next flush) and
``next_offset`` the one after the last message folded in. ``flush_plan()`` says what one
fenced Redis script call must write; ``flushed()`` applies a successful write.

``flush_due()`` is the size-aware cadence (issue 23, docs/decisions/0004-partial-flush.md): a
flush rewrites each dirty window's partial whole, so a periodic flush writes a partition only
when that costs at most ``FlushCadence.bytes_per_event`` per event folded in since its last
write, when a window became complete (the detector waits for it), or when its oldest unwritten
event has waited ``FlushCadence.max_seconds``. Fencing is unchanged: a skipped partition just
keeps its stored offset, and a crash replays from there.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from modelmon.keys import WindowRef
from modelmon.profile import DatasetProfile, FeatureKind, ProfileTracker
from modelmon.streaming.blocks import SharedBlock
from modelmon.streaming.decode import DecodedBatch, Int64Array, TypedDecoder, split_by_code
from modelmon.streaming.exact_groups import TRACKER, ExactGroups
from modelmon.streaming.feature_cap import DEFAULT_MAX_FEATURES, capped_columns
from modelmon.streaming.fold import fold_shared
from modelmon.streaming.watermarks import ModelWatermarks
from modelmon.windows import (
    NO_WATERMARK,
    WindowSpec,
    evicted,
    is_late,
    window_starts,
)


@dataclass(frozen=True, slots=True)
class ModelPlan:
    """What the aggregator needs to know about a registered model."""

    spec: WindowSpec
    kinds: Mapping[str, FeatureKind] = field(default_factory=dict)
    features: tuple[str, ...] = ()
    decoder: TypedDecoder | None = None  # when the config lists every feature
    max_features: int = DEFAULT_MAX_FEATURES  # issue 19: streaming/feature_cap.py


@dataclass(frozen=True, slots=True)
class FlushCadence:
    """When a periodic flush writes a partition (see the module docstring)."""

    #: write when the dirty partials cost at most this many bytes per event since the last
    #: write (0: on every periodic flush, the cadence before issue 23)
    bytes_per_event: float = 64.0
    #: ...or when the partition's last write is this many seconds old
    max_seconds: float = 10.0


@dataclass(frozen=True, slots=True)
class FlushPlan:
    """The content of one fenced flush of one partition."""

    from_offset: int | None  # must equal the offset stored in Redis (None: nothing stored)
    next_offset: int
    watermark: int
    partials: list[tuple[WindowRef, int, bytes]]  # window, close time ms, serialized profile
    late: list[tuple[WindowRef, int]]  # window, late events since the last flush
    events: int  # events profiled since the last flush
    model_watermarks: list[tuple[str, int]] = field(default_factory=list)  # issue 19


@dataclass(frozen=True, slots=True)
class AddResult:
    profiled: int
    late: int
    unknown: list[int]  # batch positions of events naming an unregistered model


def _positions(codes: Int64Array, n: int, wanted: list[int]) -> dict[int, Int64Array]:
    """The (sorted) positions of each wanted code: one sort when many are wanted."""
    if len(wanted) > 4:
        return dict(enumerate(split_by_code(codes, n)))
    return {c: np.flatnonzero(codes == c) for c in wanted}


@dataclass(slots=True)
class _OpenWindow:
    tracker: ProfileTracker
    close_ms: int


class PartitionAggregate:
    """State of one partition owned by this process."""

    def __init__(
        self,
        stored_offset: int | None,
        watermark: int = NO_WATERMARK,
        open_windows: Mapping[WindowRef, tuple[int, DatasetProfile]] | None = None,
        model_watermarks: Mapping[str, int] | None = None,
        exact: bool = True,
    ) -> None:
        """``exact``: fold mixed batches with array operations and keep small windows as exact
        groups (issue 23, streaming/fold.py); False keeps the per-model reference path."""
        self.stored_offset = stored_offset
        self.next_offset = stored_offset
        self.watermark = watermark
        self.models = ModelWatermarks(watermark, model_watermarks)  # issue 19: per model
        self._windows: dict[WindowRef, _OpenWindow] = {
            ref: _OpenWindow(ProfileTracker.from_profile(profile), close)
            for ref, (close, profile) in (open_windows or {}).items()
        }
        self._dirty: set[WindowRef] = set()
        self._late: Counter[WindowRef] = Counter()
        self._events = 0
        self.over_cap: Counter[str] = Counter()  # values past the feature cap, per model
        self.use_exact = exact
        self.exact = ExactGroups()  # small windows as exact rows; every open window's key
        # per model: its plan, the block names and the layout id they give (plan_layouts)
        self._layouts: dict[str, tuple[ModelPlan | None, tuple[str, ...], int]] = {}
        self._names: dict[tuple[str, ...], tuple[str, ...]] = {}
        keys = np.array([self.exact.key_of(ref) for ref in self._windows], dtype=np.int64)
        self.exact.set_slots(keys, np.full(len(keys), TRACKER, dtype=np.int64))

    def _keyed(self, ref: WindowRef) -> None:
        """A new tracker window: its key's slot says so (streaming/exact_groups.py)."""
        key = np.array([self.exact.key_of(ref)], dtype=np.int64)
        self.exact.set_slots(key, np.array([TRACKER], dtype=np.int64))

    @property
    def open_windows(self) -> int:
        return len(self._windows) + len(self.exact)

    @property
    def pending(self) -> bool:
        """True when there is something to flush (messages consumed since the last flush)."""
        return self.next_offset != self.stored_offset

    def accepts(self, offset: int) -> bool:
        """False for a message already folded in (a re-delivery after a seek)."""
        return self.next_offset is None or offset >= self.next_offset

    def add(
        self, batch: DecodedBatch, last_offset: int, plans: Mapping[str, ModelPlan]
    ) -> AddResult:
        """Fold decoded events (in delivery order) in; ``last_offset`` is the batch's last."""
        self.next_offset = last_offset + 1
        if len(batch) == 0:
            return AddResult(0, 0, [])
        names, codes = batch.models()
        profiled = late = 0
        shared = batch.shared_blocks() if self.use_exact else None
        done: set[str] = set()
        if shared is not None:  # issue 23: per batch, whatever its number of models
            profiled, late, done = fold_shared(self, batch, shared[0], plans)
        rest = [c for c, m in enumerate(names) if m not in done]
        # the other models' events with array operations, one sort per batch
        per_model = _positions(codes, len(names), rest)
        unknown = [per_model[c] for c in rest if names[c] not in plans and len(per_model[c])]
        unknown_index = batch.index[np.sort(np.concatenate(unknown))].tolist() if unknown else []
        for model_id, c in sorted((names[c], c) for c in rest):
            positions = per_model[c]
            if model_id not in plans or not len(positions):
                continue
            times = batch.event_ms[positions]
            self.watermark = max(self.watermark, int(times.max()))
            marks = self.models.advance(model_id, times)  # issue 19: per model
            n_on_time, n_late = self._add_model(model_id, plans[model_id], batch, positions, marks)
            profiled, late = profiled + n_on_time, late + n_late
        self._events += profiled
        return AddResult(profiled, late, unknown_index)

    def _add_model(
        self,
        model_id: str,
        plan: ModelPlan,
        batch: DecodedBatch,
        positions: Int64Array,
        marks: Int64Array,
    ) -> tuple[int, int]:
        spec = plan.spec
        starts = window_starts(batch.event_ms[positions], spec.size_ms)
        late = is_late(starts, marks, spec)
        if late.any():
            late_starts, counts = np.unique(starts[late], return_counts=True)
            for start, count in zip(late_starts.tolist(), counts.tolist(), strict=True):
                self.count_late(WindowRef(model_id, spec.size_ms, start), count)
        on_time = positions[~late]
        on_time_starts = starts[~late]
        for start in np.unique(on_time_starts).tolist():
            self.fold_window(model_id, plan, batch, on_time[on_time_starts == start], start)
        return len(on_time), int(late.sum())

    def count_late(self, ref: WindowRef, n: int) -> None:
        self._late[ref] += n

    def fold_window(
        self, model_id: str, plan: ModelPlan, batch: DecodedBatch, positions: Int64Array,
        start: int,
    ) -> None:  # fmt: skip
        """The reference fold of one window's events: its tracker's ``update``."""
        ref = WindowRef(model_id, plan.spec.size_ms, start)
        window = self._windows.get(ref)
        if window is None:
            gid = self.exact.index.get(ref)
            if gid is not None:  # an exact group whose rows now come another way
                self.promote([gid], {model_id: plan})
                window = self._windows[ref]
            else:
                window = _OpenWindow(ProfileTracker(plan.kinds), plan.spec.close_of(start))
                self._windows[ref] = window
                self._keyed(ref)
        cols, over = capped_columns(  # issue 19: bounded features per window
            batch, positions, window.tracker.feature_names(),
            plan.features, plan.max_features, model_id,
        )  # fmt: skip
        self.over_cap[model_id] += over
        window.tracker.update(cols)
        self._dirty.add(ref)

    def promote(self, gids: list[int], plans: Mapping[str, ModelPlan]) -> None:
        """Exact groups become trackers fed all their rows at once (then go on as trackers)."""
        closes = {self.exact.refs[g]: self.exact.close[g] for g in gids}
        for ref, profile in self.exact.take(gids).items():
            plan = plans.get(ref.model_id)
            tracker = ProfileTracker.from_profile(profile, plan.kinds if plan else None)
            self._windows[ref] = _OpenWindow(tracker, closes[ref])
            self._dirty.add(ref)

    def plan_layouts(self, sb: SharedBlock, plans: Mapping[str, ModelPlan]) -> Int64Array:
        """Per model of the block: its exact layout id, or -1 when the fast path cannot take
        its rows (no plan, columns its config does not list, a feature of unknown kind)."""
        names = tuple(sb.block.names)
        if sb.block.planned != len(names) or not names:
            return np.full(len(sb.models), -1, dtype=np.int64)
        names = self._names.setdefault(names, names)  # one object per layout: `is` below
        if len(self._layouts) > 4 * len(plans) + 64:
            self._layouts.clear()
        cache, out = self._layouts, np.full(len(sb.models), -1, dtype=np.int64)
        for i, model in enumerate(sb.models):
            plan = plans.get(model)
            got = cache.get(model)
            if got is None or got[0] is not plan or got[1] is not names:
                lid = -1
                if plan is not None and plan.features == names and len(names) <= plan.max_features:
                    lid = self.exact.layout(names, plan.kinds.get)
                got = cache[model] = (plan, names, lid)
            out[i] = got[2]
        return out

    def estimated_flush_bytes(self) -> int:
        """About how many partial bytes ``flush_plan()`` would write now (no serializing)."""
        trackers = sum(self._windows[ref].tracker.estimated_bytes() for ref in self._dirty)
        return trackers + self.exact.estimated_bytes()

    def completed_windows(self) -> bool:
        """Whether a window is complete (its model's watermark passed its close): the next
        flush writes its final partial and drops it from memory."""
        return bool(self.exact.closed(self.models.of)) or any(
            evicted(w.close_ms, self.models.of(r.model_id)) for r, w in self._windows.items()
        )

    def flush_due(self, waited_seconds: float, cadence: FlushCadence) -> bool:
        """Whether a periodic flush should write this partition now; ``waited_seconds``: since
        its last write (or since it was assigned)."""
        if not self.pending:
            return False
        dirty = self._dirty or self.exact.dirty
        if cadence.bytes_per_event <= 0 or not dirty or waited_seconds >= cadence.max_seconds:
            return True
        if self.completed_windows():
            return True
        return self.estimated_flush_bytes() <= cadence.bytes_per_event * self._events

    def flush_plan(self) -> FlushPlan:
        """What to write now (call only when ``pending``)."""
        assert self.next_offset is not None
        partials = [
            (ref, self._windows[ref].close_ms, self._windows[ref].tracker.snapshot().serialize())
            for ref in self._dirty
        ]
        partials.extend(self.exact.blobs())
        partials.sort(key=lambda p: (p[0].model_id, p[0].start_ms))
        return FlushPlan(
            from_offset=self.stored_offset,
            next_offset=self.next_offset,
            watermark=self.watermark,
            partials=partials,
            late=sorted(self._late.items(), key=lambda kv: (kv[0].model_id, kv[0].start_ms)),
            events=self._events,
            model_watermarks=self.models.items(),
        )

    def flushed(self, plan: FlushPlan) -> None:
        """The plan was written: it is now the stored state; closed windows leave memory."""
        self.stored_offset = plan.next_offset
        self._dirty.clear()
        self.exact.dirty.clear()
        self._late.clear()
        self._events = 0
        closed = [
            ref
            for ref, w in self._windows.items()
            if evicted(w.close_ms, self.models.of(ref.model_id))  # issue 19: per-model marks
        ]
        for ref in closed:
            del self._windows[ref]
        keys = np.array([self.exact.key_of(ref) for ref in closed], dtype=np.int64)
        self.exact.set_slots(keys, np.full(len(keys), -2, dtype=np.int64))
        self.exact.drop(self.exact.closed(self.models.of))
        self.exact.compact()
