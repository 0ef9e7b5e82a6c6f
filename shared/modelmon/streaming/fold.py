"""The batch-level add path: a mixed batch's shared blocks folded with array operations (pure).

``PartitionAggregate.add`` hands each ``SharedBlock`` (streaming/blocks.py: every model of a
batch with one column layout) here. Per block, not per model: the per-model watermarks
(``ModelWatermarks.advance_codes``), each row's window (its model's ``WindowSpec`` as arrays
indexed by model code), lateness, and each row's window key (``ExactGroups``); rows of small
windows are appended to their exact groups in one call per layout. A window that is a
``ProfileTracker`` (grown past ``exact_store.THRESHOLD``, resumed, or with columns the exact
path does not take) is folded in as before, per window (``PartitionAggregate.fold_window``).
A model with ``inputs`` dicts, columns its config does not list or a feature of unknown kind
takes the per-model reference path entirely (docs/decisions/0007-exact-small-windows.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from modelmon.keys import WindowRef
from modelmon.streaming.blocks import SharedBlock
from modelmon.streaming.decode import DecodedBatch, Int64Array
from modelmon.streaming.exact_groups import TRACKER
from modelmon.streaming.exact_store import THRESHOLD

if TYPE_CHECKING:
    from modelmon.streaming.partition import ModelPlan, PartitionAggregate


def fold_shared(
    agg: PartitionAggregate, batch: DecodedBatch, blocks: list[SharedBlock],
    plans: Mapping[str, ModelPlan],
) -> tuple[int, int, set[str]]:  # fmt: skip
    """Fold the blocks' rows of models the fast path takes; (profiled, late, those models)."""
    profiled = late = 0
    done: set[str] = set()
    for sb in blocks:
        layouts = agg.plan_layouts(sb, plans)
        fast = layouts >= 0
        if not fast.any():
            continue
        done.update(m for m, ok in zip(sb.models, fast.tolist(), strict=True) if ok)
        rows = np.flatnonzero(fast[sb.codes])
        n_on_time, n_late = _fold_rows(agg, batch, sb, rows, layouts, plans)
        profiled, late = profiled + n_on_time, late + n_late
    return profiled, late, done


def _fold_rows(
    agg: PartitionAggregate, batch: DecodedBatch, sb: SharedBlock, rows: Int64Array,
    layouts: Int64Array, plans: Mapping[str, ModelPlan],
) -> tuple[int, int]:  # fmt: skip
    specs = [
        plans[m].spec if lid >= 0 else None
        for m, lid in zip(sb.models, layouts.tolist(), strict=True)
    ]
    size = np.array([s.size_ms if s else 1 for s in specs], dtype=np.int64)
    grace = np.array([s.size_ms + s.lateness_ms if s else 0 for s in specs], dtype=np.int64)
    codes = sb.codes[rows]
    times = batch.event_ms[sb.positions[rows]]
    agg.watermark = max(agg.watermark, int(times.max()))
    marks = agg.models.advance_codes(sb.models, codes, times)
    starts = times - times % size[codes]
    late = starts + grace[codes] <= marks
    if late.any():
        _count_late(agg, sb, codes[late], starts[late], size)
    on_time = ~late
    rows, codes, starts = rows[on_time], codes[on_time], starts[on_time]
    if len(rows):
        _fold_on_time(agg, batch, sb, rows, codes, starts, (layouts, size, grace), plans)
    return len(rows), int(late.sum())


def _count_late(agg: PartitionAggregate, sb: SharedBlock, codes: Int64Array,
                starts: Int64Array, size: Int64Array) -> None:  # fmt: skip
    pairs, counts = np.unique(np.stack((codes, starts)), axis=1, return_counts=True)
    for (code, start), n in zip(pairs.T.tolist(), counts.tolist(), strict=True):
        agg.count_late(WindowRef(sb.models[code], int(size[code]), start), n)


def _fold_on_time(
    agg: PartitionAggregate, batch: DecodedBatch, sb: SharedBlock, rows: Int64Array,
    codes: Int64Array, starts: Int64Array, spec: tuple[Int64Array, Int64Array, Int64Array],
    plans: Mapping[str, ModelPlan],
) -> None:  # fmt: skip
    layouts, size, grace = spec
    groups = agg.exact
    keys = groups.keys(groups.model_numbers(sb.models)[codes], starts, size[codes])
    uk, first, inverse, counts = np.unique(keys, return_index=True, return_inverse=True,
                                           return_counts=True)  # fmt: skip
    code_u, start_u = codes[first], starts[first]
    slots = groups.slots(uk)
    existing = np.flatnonzero(slots >= 0)
    moved = np.zeros(len(slots), dtype=bool)
    moved[existing] = groups.layout_of[slots[existing]] != layouts[code_u[existing]]
    if moved.any():  # the model's features changed: its exact windows become trackers
        agg.promote(slots[moved].tolist(), plans)
        slots[moved] = TRACKER
    new = slots == -2
    slots[new & (counts > THRESHOLD)] = TRACKER  # a big window starts as a tracker
    small = np.flatnonzero(new & (counts <= THRESHOLD))
    if len(small):
        ends = start_u[small] + grace[code_u[small]]
        _open_groups(agg, sb, (uk[small], code_u[small], start_u[small], ends), size, layouts)
        slots[small] = agg.exact.slots(uk[small])
    _append_exact(agg, sb, rows, slots[inverse], layouts[codes], plans)
    trackers = np.flatnonzero(slots == TRACKER)
    if len(trackers):
        _fold_trackers(agg, batch, sb, rows, inverse, trackers, (code_u, start_u), plans)


def _open_groups(
    agg: PartitionAggregate, sb: SharedBlock, new: tuple[Int64Array, ...], size: Int64Array,
    layouts: Int64Array,
) -> None:  # fmt: skip
    """Exact groups for new small windows (keys, model codes, starts, close times): Python
    work once per window in its life."""
    keys, codes, starts, closes = new
    for lid in np.unique(layouts[codes]).tolist():
        mine = np.flatnonzero(layouts[codes] == lid)
        pairs = zip(codes[mine].tolist(), starts[mine].tolist(), strict=True)
        refs = [WindowRef(sb.models[c], int(size[c]), s) for c, s in pairs]
        agg.exact.create(keys[mine], refs, closes[mine].tolist(), lid)


def _append_exact(
    agg: PartitionAggregate, sb: SharedBlock, rows: Int64Array, gids: Int64Array,
    layouts: Int64Array, plans: Mapping[str, ModelPlan],
) -> None:  # fmt: skip
    exact = gids >= 0
    if not exact.any():
        return
    groups = agg.exact
    for lid in np.unique(layouts[exact]).tolist():
        mine = exact & (layouts == lid)
        groups.append(lid, gids[mine], sb.block, rows[mine])
    touched = np.unique(gids[exact])
    full = touched[groups.count[touched] > THRESHOLD]
    if len(full):
        agg.promote(full.tolist(), plans)


def _fold_trackers(
    agg: PartitionAggregate, batch: DecodedBatch, sb: SharedBlock, rows: Int64Array,
    inverse: Int64Array, trackers: Int64Array, keys: tuple[Int64Array, Int64Array],
    plans: Mapping[str, ModelPlan],
) -> None:  # fmt: skip
    """Rows of windows that are trackers: the reference fold, one window at a time."""
    code_u, start_u = keys
    order = np.argsort(inverse, kind="stable")
    bounds = np.concatenate(([0], np.cumsum(np.bincount(inverse, minlength=len(code_u)))))
    for u in trackers.tolist():
        mine = np.sort(rows[order[bounds[u] : bounds[u + 1]]])
        model = sb.models[int(code_u[u])]
        agg.fold_window(model, plans[model], batch, sb.positions[mine], int(start_u[u]))
