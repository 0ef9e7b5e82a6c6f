"""A partition's open windows by number, and its small ones kept as exact groups (pure; issue 23).

Every open window of the partition has a 64-bit key (its model's number on the partition and its
window number), so a batch finds the window of each of its rows with one ``np.unique`` and one
``searchsorted``, whatever its number of models. A key's slot is an exact group's id (>= 0) or
``TRACKER`` (the window is a ``ProfileTracker`` in ``PartitionAggregate``). Exact groups'
rows live in ``exact_store`` layouts; this class keeps their bookkeeping: window, close time,
row count, dirty flag.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from modelmon.keys import WindowRef
from modelmon.profile import DatasetProfile, FeatureKind
from modelmon.profile.exact import (
    CATEGORICAL,
    NUMERIC,
    ExactParts,
    estimated_bytes,
    profile_features,
    serialize_many,
)
from modelmon.streaming.blocks import Block
from modelmon.streaming.exact_store import THRESHOLD, Layout, Texts, build, classify

Int64Array = npt.NDArray[np.int64]
TRACKER: Final = -1
_WINDOW_BITS: Final = 43  # a key: model number << 43 | (window number + 2**41)
_WINDOW_OFFSET: Final = 2**41


class ExactGroups:
    """The partition's window keys, and its exact groups."""

    def __init__(self) -> None:
        self.texts = Texts()
        self.layouts: list[Layout] = []
        self._layout_ids: dict[tuple[tuple[str, ...], tuple[str, ...]], int] = {}
        self._models: dict[str, int] = {}
        self._keys = np.empty(0, dtype=np.int64)  # sorted
        self._slots = np.empty(0, dtype=np.int64)
        self.refs: list[WindowRef] = []  # by group id
        self.close: list[int] = []
        self.group_keys = np.zeros(0, dtype=np.int64)  # by group id: its window's key
        self.close_at = np.zeros(0, dtype=np.int64)  # by group id: ``close`` as an array
        self.layout_of = np.zeros(0, dtype=np.int64)
        self.count = np.zeros(0, dtype=np.int64)
        self.payload = np.zeros(0, dtype=np.int64)  # estimated value and category bytes
        #: real / estimated bytes of the last ``blobs()``: values are packed (floatpack), so
        #: 8 B per value is an upper bound that the data's own ratio corrects
        self.ratio = 1.0
        self._fixed: list[int] = []  # estimated bytes of a group besides those, per layout
        self.alive = np.zeros(0, dtype=bool)
        self.index: dict[WindowRef, int] = {}
        self.dirty: set[int] = set()

    def __len__(self) -> int:
        return len(self.index)

    # ----- keys ---------------------------------------------------------------------------
    def model_numbers(self, models: Sequence[str]) -> Int64Array:
        numbers = self._models
        return np.array([numbers.setdefault(m, len(numbers)) for m in models], dtype=np.int64)

    @staticmethod
    def keys(model_numbers: Int64Array, starts: Int64Array, sizes: Int64Array) -> Int64Array:
        out: Int64Array = (model_numbers << _WINDOW_BITS) | (starts // sizes + _WINDOW_OFFSET)
        return out

    def key_of(self, ref: WindowRef) -> int:
        number = int(self.model_numbers([ref.model_id])[0])
        return (number << _WINDOW_BITS) | (ref.start_ms // ref.size_ms + _WINDOW_OFFSET)

    def slots(self, keys: Int64Array) -> Int64Array:
        """The slot of each key: a group id, ``TRACKER``, or -2 for a window not open yet."""
        at = np.searchsorted(self._keys, keys)
        at_c = np.minimum(at, len(self._keys) - 1)
        found = (at < len(self._keys)) & (self._keys[at_c] == keys) if len(self._keys) else at < 0
        return np.where(found, self._slots[at_c] if len(self._keys) else -2, -2)

    def set_slots(self, keys: Int64Array, slots: Int64Array) -> None:
        """Open windows (new keys) or change their slots; slot -2 removes a key."""
        if not len(keys):
            return
        both = np.concatenate((self._keys, keys))
        values = np.concatenate((self._slots, slots))
        order = np.argsort(both, kind="stable")  # a key's new slot comes after its old one
        both, values = both[order], values[order]
        last = np.ones(len(both), dtype=bool)
        last[:-1] = both[1:] != both[:-1]
        keep = last & (values != -2)
        self._keys, self._slots = both[keep], values[keep]

    # ----- groups -------------------------------------------------------------------------
    def layout(self, names: Sequence[str], kinds: Callable[[str], FeatureKind | None]) -> int:
        """The layout id of these features (-1 when a kind is unknown: no exact group)."""
        kind = tuple(kinds(n) for n in names)
        if any(k not in ("numeric", "categorical") for k in kind):
            return -1
        key = (tuple(names), tuple(str(k) for k in kind))
        got = self._layout_ids.get(key)
        if got is None:
            codes = np.array([NUMERIC if k == "numeric" else CATEGORICAL for k in kind], np.uint8)
            got = self._layout_ids[key] = len(self.layouts)
            self.layouts.append(Layout(tuple(names), codes))
            n_num = int((codes == NUMERIC).sum())
            self._fixed.append(estimated_bytes(0, n_num, len(codes) - n_num, sum(map(len, names))))
        return got

    def create(
        self, keys: Int64Array, refs: list[WindowRef], closes: list[int], layout: int
    ) -> Int64Array:
        """New exact groups for these (new) windows; their ids."""
        first = len(self.refs)
        gids = np.arange(first, first + len(refs), dtype=np.int64)
        self.refs.extend(refs)
        self.close.extend(closes)
        self.group_keys = np.concatenate((self.group_keys, keys.astype(np.int64)))
        self.close_at = np.concatenate((self.close_at, np.array(closes, dtype=np.int64)))
        self.layout_of = np.concatenate((self.layout_of, np.full(len(refs), layout, np.int64)))
        self.count = np.concatenate((self.count, np.zeros(len(refs), dtype=np.int64)))
        self.payload = np.concatenate((self.payload, np.zeros(len(refs), dtype=np.int64)))
        self.alive = np.concatenate((self.alive, np.ones(len(refs), dtype=bool)))
        self.index.update(zip(refs, gids.tolist(), strict=True))
        self.set_slots(keys, gids)
        return gids

    def append(self, layout: int, gids: Int64Array, block: Block, rows: Int64Array) -> None:
        """Rows ``rows`` of ``block`` into their groups (``gids``, one per row)."""
        store = self.layouts[layout]
        values, classes, cats = classify(store, block, rows, self.texts)
        store.chunks.append((gids, values, classes, cats))
        self.count += np.bincount(gids, minlength=len(self.count))
        self.payload += _payload(gids, values, cats, len(self.count))
        self.dirty.update(np.unique(gids).tolist())

    def full(self, gids: Iterable[int]) -> list[int]:
        """Those of ``gids`` that outgrew ``THRESHOLD`` (to become trackers)."""
        return [g for g in gids if self.count[g] > THRESHOLD]

    def parts(self, gids: Sequence[int]) -> dict[int, ExactParts]:
        """The exact parts of these groups (any layouts)."""
        out: dict[int, ExactParts] = {}
        by_layout: dict[int, list[int]] = {}
        for g in gids:
            by_layout.setdefault(int(self.layout_of[g]), []).append(g)
        for lid, members in by_layout.items():
            store = self.layouts[lid]
            wanted = np.array(members, dtype=np.int64)
            built = build(store, store.rows(self.alive), wanted, self.count[wanted], self.texts)
            out.update(zip(members, built, strict=True))
        return out

    def take(self, gids: Sequence[int]) -> dict[WindowRef, DatasetProfile]:
        """Remove these groups; the profile of each (its window goes on as a tracker)."""
        parts = self.parts(gids)
        profiles = {
            self.refs[g]: DatasetProfile(p.rows, profile_features(p)) for g, p in parts.items()
        }
        self.drop(gids, tracker=True)
        return profiles

    def drop(self, gids: Sequence[int], tracker: bool = False) -> None:
        """Forget these groups (their keys become ``TRACKER`` when ``tracker``, else closed)."""
        if not gids:
            return
        keys = self.group_keys[np.asarray(gids, dtype=np.int64)]
        self.set_slots(keys, np.full(len(gids), TRACKER if tracker else -2, dtype=np.int64))
        for g in gids:
            self.alive[g] = False
            self.dirty.discard(g)
            del self.index[self.refs[g]]

    def blobs(self) -> list[tuple[WindowRef, int, bytes]]:
        """Every dirty group's partial: window, close time, ``TAG_EXACT`` blob."""
        dirty = sorted(self.dirty)
        estimate = self._upper_bound()
        built = self.parts(dirty)
        blobs = serialize_many(list(built.values()))
        out = [(self.refs[g], self.close[g], b) for g, b in zip(built, blobs, strict=True)]
        if estimate:
            self.ratio = min(1.0, sum(len(blob) for _, _, blob in out) / estimate)
        return out

    def estimated_bytes(self) -> int:
        """About what ``blobs()`` would write now, without building them: per dirty group its
        counters and names, 8 B per numeric value, 16 B per category of each batch (kept up
        to date by ``append``: an over-estimate when categories repeat across batches), scaled
        by what the last ``blobs()`` really wrote per estimated byte."""
        return int(self._upper_bound() * self.ratio)

    def _upper_bound(self) -> int:
        if not self.dirty:
            return 0
        dirty = np.fromiter(self.dirty, dtype=np.int64, count=len(self.dirty))
        fixed = np.array([self._fixed[lid] for lid in range(len(self.layouts))], dtype=np.int64)
        total = fixed[self.layout_of[dirty]].sum() + self.payload[dirty].sum()
        return int(total)

    def closed(self, mark_of: Callable[[str], int]) -> list[int]:
        """Groups whose model's watermark passed their close time (one look-up per model)."""
        if not self.index:
            return []
        live = np.fromiter(self.index.values(), dtype=np.int64, count=len(self.index))
        marks = np.fromiter(map(mark_of, self._models), dtype=np.int64, count=len(self._models))
        done = self.close_at[live] <= marks[self.group_keys[live] >> _WINDOW_BITS]
        return live[done].tolist()  # type: ignore[no-any-return]

    def compact(self) -> None:
        """Renumber the live groups (and category texts) once most ids are dead: memory
        stays proportional to the open windows, not to every window ever seen."""
        dead = len(self.refs) - len(self.index)
        if dead < 1024 or dead < len(self.index):
            return
        alive = self.alive
        new_of_old = np.cumsum(alive) - 1
        new_of_old[~alive] = -1
        keep = np.flatnonzero(alive)
        self.refs = [self.refs[g] for g in keep.tolist()]
        self.close = [self.close[g] for g in keep.tolist()]
        self.group_keys, self.close_at = self.group_keys[keep], self.close_at[keep]
        self.layout_of, self.count = self.layout_of[keep], self.count[keep]
        self.payload = self.payload[keep]
        self.alive = np.ones(len(keep), dtype=bool)
        self.index = {ref: i for i, ref in enumerate(self.refs)}
        self.dirty = {int(new_of_old[g]) for g in self.dirty}
        for store in self.layouts:
            g, v, c, t = store.rows(alive, trim=True)
            store.chunks = [(new_of_old[g], v, c, t)] if len(g) else []
        live = self._slots >= 0
        self._slots[live] = new_of_old[self._slots[live]]
        self._compact_texts()

    def _compact_texts(self) -> None:
        cats = [store.chunks[0][3] for store in self.layouts if store.chunks]
        live = np.unique(np.concatenate([c.ravel() for c in cats])) if cats else np.empty(0)
        live = live[live >= 0].astype(np.int64)
        if len(self.texts.texts) < 4 * len(live) + 65536:
            return
        new_id = np.full(len(self.texts.texts) + 1, -1, dtype=np.int32)
        new_id[live] = np.arange(len(live), dtype=np.int32)
        texts = [self.texts.texts[i] for i in live.tolist()]
        self.texts.texts, self.texts.ids = texts, {t: i for i, t in enumerate(texts)}
        for store in self.layouts:
            if store.chunks:
                g, v, c, t = store.chunks[0]
                store.chunks = [(g, v, c, new_id[t])]


def _payload(gids: Int64Array, values: Any, cats: Any, n: int) -> Int64Array:
    """Estimated blob bytes these rows add per group: 8 per finite numeric value, 16 per
    distinct (feature, category) of the batch."""
    finite = np.count_nonzero(~np.isnan(values), axis=0) if len(values) else 0
    out: Int64Array = 8 * np.bincount(gids, weights=finite, minlength=n).astype(np.int64)
    if len(cats) and cats.shape[1]:
        out += 16 * _distinct_categories(gids, cats, n)
    return out


def _distinct_categories(gids: Int64Array, cats: Any, n: int) -> Int64Array:
    """Per group: its distinct (categorical feature, category id) among these rows (-1: none).
    Marked in a dense (group, feature, id) table when that is small (a batch's categories
    are few), else counted with ``np.unique``."""
    nc, ids = len(cats), cats.astype(np.int64)
    present = ids >= 0
    width = int(ids.max()) + 2
    slot = gids * nc + np.arange(nc)[:, None]  # features x rows
    if n * nc * width <= 16 * ids.size + 65536:
        seen = np.zeros(n * nc * width, dtype=bool)
        seen[(slot * width + ids + 1)[present]] = True
        counts: Int64Array = seen.reshape(n, nc * width).sum(axis=1, dtype=np.int64)
        return counts
    pairs = np.unique(((slot << 32) | (ids + 1))[present])
    return np.bincount((pairs >> 32) // nc, minlength=n)
