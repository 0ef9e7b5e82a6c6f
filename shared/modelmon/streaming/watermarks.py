"""Watermarks per (model, partition) (pure; issue 19).

A partition carries many models; each model's watermark on it is the largest event time of that
model seen there, so one model's clock or backlog never makes another model's events late
(issue 19 found a 10-second backlog of one model counting another's events late). The
partition's own watermark (the largest of them) is still kept: it trims the window index and is
what a partition that never carried a model counts as for that model. Stored beside the
partition's offset as ``wm:<model>`` fields of its state hash, in the same fenced flush.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from modelmon.windows import NO_WATERMARK, watermarks_before

#: Field-name prefix of a model's watermark in a partition's state hash.
FIELD_PREFIX = "wm:"


class ModelWatermarks:
    """The watermark of each model on one partition."""

    def __init__(self, partition_watermark: int, marks: Mapping[str, int] | None = None) -> None:
        # state written before per-model watermarks existed: every model starts at the
        # partition's watermark (the old rule, never more permissive); else unseen = none yet
        self._unseen = partition_watermark if marks is None else NO_WATERMARK
        self._marks: dict[str, int] = dict(marks or {})

    def of(self, model_id: str) -> int:
        return self._marks.get(model_id, self._unseen)

    def items(self) -> list[tuple[str, int]]:
        return sorted(self._marks.items())

    def marks_before(
        self, names: Sequence[str], codes: npt.NDArray[np.intp], event_ms: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.int64]:
        """Each event's model watermark just before it (events in offset order; ``codes``
        index ``names``), advancing each model's watermark past its events."""
        marks = np.empty(len(event_ms), dtype=np.int64)
        for code, model_id in enumerate(names):
            sel = np.flatnonzero(codes == code)
            if not len(sel):
                continue
            marks[sel] = self.advance(model_id, event_ms[sel])
        return marks

    def advance_codes(
        self, names: Sequence[str], codes: npt.NDArray[np.int64], event_ms: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.int64]:
        """``advance`` for many models at once (issue 23): each event's model watermark just
        before it (events in offset order; ``codes`` index ``names``), advancing each model
        present past its events. Array operations only: a cumulative maximum per model."""
        if not len(codes):
            return np.empty(0, dtype=np.int64)
        before = np.array([self.of(m) for m in names], dtype=np.int64)
        order = np.argsort(codes, kind="stable")
        c, e = codes[order], event_ms[order]
        first = np.ones(len(c), dtype=bool)
        first[1:] = c[1:] != c[:-1]
        shifted = np.empty(len(e), dtype=np.int64)
        shifted[1:] = e[:-1]
        shifted[first] = before[c[first]]
        # a cumulative maximum per model in one pass: values as ranks, offset per model
        values, rank = np.unique(shifted, return_inverse=True)
        segment = np.cumsum(first) - 1
        key = segment * len(values) + rank
        np.maximum.accumulate(key, out=key)
        marks = np.empty(len(e), dtype=np.int64)
        marks[order] = values[key - segment * len(values)]
        starts = np.flatnonzero(first)
        after = np.maximum(before[c[starts]], np.maximum.reduceat(e, starts))
        self._marks.update(zip([names[i] for i in c[starts].tolist()], after.tolist(), strict=True))
        return marks

    def advance(self, model_id: str, event_ms: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """The model's watermark just before each of its events (in offset order, at least
        one), advancing it past them."""
        marks = watermarks_before(event_ms, self.of(model_id))
        self._marks[model_id] = max(self.of(model_id), int(event_ms.max()))
        return marks


def parse_fields(state: Mapping[bytes, bytes]) -> dict[str, int] | None:
    """The per-model watermarks of a stored state hash (None: written before they existed)."""
    prefix = FIELD_PREFIX.encode()
    marks = {k[len(prefix) :].decode(): int(v) for k, v in state.items() if k.startswith(prefix)}
    return marks or None
