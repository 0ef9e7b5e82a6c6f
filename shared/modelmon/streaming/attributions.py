"""One partition's attribution partials between flushes (pure; modelmon.attribution).

The aggregator hands every batch it profiles to ``PartitionAttributions.add`` *before* the
profile aggregate folds it in, with the model watermarks the aggregate holds then: an event
the profile counts as late is left out here too (the same rule, ``windows.late_mask``), so a
window's attributions cover exactly the events its profile covers. Only events of models with
an ``explainability`` section are read, and only messages that mention ``attributions`` are
decoded again (a msgspec struct of that one field).

Exactly once, beside the profile flush: the partition's attribution partials carry their own
offset, written by their own fenced script (``attribution_store``) *before* the profile flush.
A crash between the two leaves the attribution offset ahead; the consumer resumes from the
profile offset and ``accepts`` skips what the attribution partials already hold.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import msgspec
import numpy as np

from modelmon.attribution.state import AttributionState
from modelmon.keys import WindowRef
from modelmon.streaming.decode import DecodedBatch
from modelmon.streaming.partition import ModelPlan
from modelmon.windows import evicted, late_mask, window_starts


class _Attributions(msgspec.Struct, gc=False):
    attributions: dict[str, float] | None = None


_DECODE = msgspec.json.Decoder(_Attributions).decode
_NEEDLE = b"attributions"


def _mentions(value: bytes | None) -> bool:
    return value is not None and _NEEDLE in value


@dataclass(frozen=True, slots=True)
class AttributionFlush:
    from_offset: int | None  # must equal the attribution offset stored in Redis
    next_offset: int
    partials: list[tuple[WindowRef, int, bytes]]  # window, close time ms, AttributionState


def attributions_of(value: bytes | None) -> dict[str, float] | None:
    """The ``attributions`` of one capture message (None when it has none or is unreadable:
    the profile path dead-letters what it cannot read)."""
    if not value or _NEEDLE not in value:
        return None
    try:
        return _DECODE(value).attributions
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


class PartitionAttributions:
    """Attribution partials of the open windows of one partition."""

    def __init__(
        self,
        stored_offset: int | None,
        windows: Mapping[WindowRef, tuple[int, AttributionState]] | None = None,
    ) -> None:
        self.stored_offset = stored_offset
        self._windows = {ref: (close, state) for ref, (close, state) in (windows or {}).items()}
        self._dirty: set[WindowRef] = set()

    @property
    def open_windows(self) -> int:
        return len(self._windows)

    def state(self, ref: WindowRef) -> AttributionState | None:
        found = self._windows.get(ref)
        return found[1] if found else None

    def add(
        self,
        values: Sequence[bytes | None],
        offsets: Sequence[int],
        batch: DecodedBatch,
        plans: Mapping[str, ModelPlan],
        labels: Mapping[str, str],
        mark_of: Callable[[str], int],
    ) -> int:
        """Fold in the attributions of the batch's events (``batch.index`` -> ``values``) of
        models in ``labels`` (model -> label); returns the events with attributions taken."""
        if not len(batch) or not labels:
            return 0
        models = {batch.model_id} if batch.model_id is not None else set(batch.model_ids)
        if models.isdisjoint(labels):  # no model of this batch is explained: nothing to read
            return 0
        hits = list(map(_mentions, values))  # one substring scan per message
        if not any(hits):
            return 0
        ids = np.asarray(
            batch.model_ids if batch.model_id is None else [batch.model_id] * len(batch)
        )
        taken = 0
        for model_id, label in labels.items():
            plan = plans.get(model_id)
            sel = np.flatnonzero(ids == model_id)
            if plan is None or not len(sel):
                continue
            taken += self._add_model(
                model_id, label, plan, values, offsets, batch, sel, mark_of, hits
            )
        return taken

    def _add_model(
        self,
        model_id: str,
        label: str,
        plan: ModelPlan,
        values: Sequence[bytes | None],
        offsets: Sequence[int],
        batch: DecodedBatch,
        sel: np.ndarray,
        mark_of: Callable[[str], int],
        hits: list[bool],
    ) -> int:
        spec = plan.spec
        times = batch.event_ms[sel]
        on_time = ~late_mask(times, mark_of(model_id), spec)  # over all events: the marks
        starts = window_starts(times, spec.size_ms)
        index = batch.index[sel]
        keep = on_time & np.fromiter(hits, dtype=bool, count=len(hits))[index]
        found: dict[int, list[dict[str, float]]] = {}
        for i, start in zip(index[keep].tolist(), starts[keep].tolist(), strict=True):
            if self.accepts(offsets[i]):
                attributions = attributions_of(values[i])
                if attributions:
                    found.setdefault(start, []).append(attributions)
        for start, rows in found.items():
            ref = WindowRef(model_id, spec.size_ms, start)
            entry = self._windows.get(ref)
            if entry is None:
                entry = (spec.close_of(start), AttributionState())
                self._windows[ref] = entry
            entry[1].add_rows(label, rows)
            self._dirty.add(ref)
        return sum(len(rows) for rows in found.values())

    def accepts(self, offset: int) -> bool:
        """False for a message the stored attribution partials already cover."""
        return self.stored_offset is None or offset >= self.stored_offset

    def flush_plan(self, next_offset: int) -> AttributionFlush | None:
        """What to write with the profile flush that moves the partition to ``next_offset``
        (None: the stored attribution offset is already there)."""
        if self.stored_offset is not None and next_offset <= self.stored_offset:
            return None
        partials = [
            (ref, self._windows[ref][0], self._windows[ref][1].serialize())
            for ref in sorted(self._dirty, key=lambda r: (r.model_id, r.start_ms))
        ]
        return AttributionFlush(self.stored_offset, next_offset, partials)

    def flushed(self, plan: AttributionFlush, marks: Mapping[str, int]) -> None:
        """The plan was written; windows closed at the model watermarks leave memory."""
        self.stored_offset = plan.next_offset
        self._dirty.clear()
        for ref in [
            r
            for r, (close, _) in self._windows.items()
            if r.model_id in marks and evicted(close, marks[r.model_id])
        ]:
            del self._windows[ref]
