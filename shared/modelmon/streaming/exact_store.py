"""Small (model, window) groups kept as exact rows, folded with array operations (pure; issue 23).

With 1,000 models on a partition a 10-second window of one model sees a few dozen events in its
life, and a ``ProfileTracker`` per window costs ~1 ms per update and per snapshot whatever its
size. So a window starts as an *exact group*: its rows, classified per row
(``profile/exact_rows.py``) when their batch arrives, appended to one store per feature layout
(the model's configured features and kinds) shared by every model with that layout. A flush
builds the profile of every dirty group at once (one bincount for all counters, one sort for all
numeric values, one for all categories) and writes each as a ``TAG_EXACT`` blob
(``profile/exact.py``). A group that grows past ``THRESHOLD`` rows is promoted to a
``ProfileTracker`` fed all its rows in one update, and continues as one
(docs/decisions/0007-exact-small-windows.md).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from modelmon.profile import exact, floatpack
from modelmon.profile.exact import CATEGORICAL, NUMERIC, ExactParts
from modelmon.profile.exact_rows import (
    N_CLASSES,
    STR,
    categorical_rows,
    categorical_text_rows,
    numeric_rows,
)
from modelmon.profile.numbers import Numbers
from modelmon.streaming.blocks import ABSENT as TAG_ABSENT
from modelmon.streaming.blocks import INT as TAG_INT
from modelmon.streaming.blocks import MISSING as TAG_MISSING
from modelmon.streaming.blocks import STR as TAG_STR
from modelmon.streaming.blocks import Block

#: Rows a group keeps before it becomes a tracker: KLL's k (1024). A tracker's sketch first
#: compacts past k values, so an exact group's sketch is its values, and promotion happens where
#: the tracker path's first compaction would (the KLL sketches stay identical); a group holds
#: at most ~256 KB (25 features), about what a tracker holding those values uncompacted does.
THRESHOLD: Final = 1024

Int64Array = npt.NDArray[np.int64]
# class -> counters (exact.N_COUNTERS) for each kind (profile/exact_rows.py's classes)
_TO_NUMERIC = np.zeros((N_CLASSES, exact.N_COUNTERS), dtype=np.int64)
_TO_CATEGORICAL = np.zeros((N_CLASSES, exact.N_COUNTERS), dtype=np.int64)
for _cls, _num, _cat in (
    (0, (0,), (0,)), (1, (1,), (1,)), (2, (3,), (2, 3)), (3, (4,), (2, 4)),
    (4, (2, 3), ()), (5, (2, 4), ()), (6, (), (2,)),
):  # fmt: skip
    _TO_NUMERIC[_cls, list(_num)] = 1
    _TO_CATEGORICAL[_cls, list(_cat)] = 1


@dataclass(slots=True)
class Layout:
    """One feature layout's rows: per row its group, numeric values, classes, category ids."""

    names: tuple[str, ...]
    kinds: npt.NDArray[np.uint8]
    chunks: list[tuple[Int64Array, Any, Any, Any]] = field(default_factory=list)

    @property
    def numeric(self) -> list[int]:
        return np.flatnonzero(self.kinds == NUMERIC).tolist()

    @property
    def categorical(self) -> list[int]:
        return np.flatnonzero(self.kinds == CATEGORICAL).tolist()

    def rows(self, alive: npt.NDArray[np.bool_], trim: bool = False) -> tuple[
        Int64Array, Any, Any, Any
    ]:  # fmt: skip
        """The stored rows as one chunk (joined once). Rows of dead groups are dropped when
        they are most of them, or with ``trim``: until then a flush skips them (one copy of
        the rows fewer per flush after windows closed)."""
        if not self.chunks:
            nn, nf, nc = len(self.numeric), len(self.names), len(self.categorical)
            return (np.empty(0, np.int64), np.empty((nn, 0)), np.empty((nf, 0), np.int8),
                    np.empty((nc, 0), np.int32))  # fmt: skip
        if len(self.chunks) > 1:
            gs, vs, cs, ts = zip(*self.chunks, strict=True)
            self.chunks = [(np.concatenate(gs), np.concatenate(vs, axis=1),
                            np.concatenate(cs, axis=1), np.concatenate(ts, axis=1))]  # fmt: skip
        g, v, c, t = self.chunks[0]
        keep = alive[g]
        dead = len(g) - int(np.count_nonzero(keep))
        if dead and (trim or 2 * dead > len(g)):
            self.chunks = [(g[keep], v[:, keep], c[:, keep], t[:, keep])]
        return self.chunks[0]


class Texts:
    """Category texts interned as ids (per partition), so rows hold small integers."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.texts: list[str] = []

    def intern(self, distinct: list[str]) -> npt.NDArray[np.int32]:
        """The id of each text (new texts get the next ids), one dict look-up each."""
        ids, texts = self.ids, self.texts
        got = []
        for text in distinct:
            i = ids.get(text)
            if i is None:
                i = ids[text] = len(texts)
                texts.append(text)
            got.append(i)
        return np.asarray(got, dtype=np.int32)

    def ranks(self, present: npt.NDArray[np.int32]) -> npt.NDArray[np.int64]:
        """For ids ``present`` (unique, sorted): a number per id ordering them by text."""
        rank = np.zeros(len(self.texts) + 1, dtype=np.int64)
        if len(present):
            texts = np.array(operator.itemgetter(*present.tolist())(self.texts), dtype=object)
            texts = np.atleast_1d(texts).astype(str)
            rank[present[np.argsort(texts, kind="stable")]] = np.arange(len(present))
        return rank


def classify(layout: Layout, block: Block, rows: Int64Array, texts: Texts) -> tuple[Any, Any, Any]:
    """The block's rows as the layout stores them: numeric values, classes, category ids."""
    n = len(rows)
    index = {name: j for j, name in enumerate(block.names)}
    values = np.empty((len(layout.numeric), n))
    classes = np.empty((len(layout.names), n), dtype=np.int8)
    cats = np.full((len(layout.categorical), n), -1, dtype=np.int32)
    num = cat = 0
    for j, name in enumerate(layout.names):
        column = _column(block, index[name], rows)
        if layout.kinds[j] == NUMERIC:
            values[num], classes[j] = numeric_rows(column)
            num += 1
            continue
        classes[j], which, distinct = _categorical(block, index[name], rows, column)
        if distinct:
            cats[cat] = np.where(which >= 0, texts.intern(distinct)[which], -1)
        cat += 1
    return values, classes, cats


def _categorical(block: Block, j: int, rows: Int64Array, column: Any) -> Any:
    """``categorical_rows`` of the column; of a text column (its tags say every value is a
    string or null) without classifying each row's type."""
    if block.names[j] in block.objects:
        tags = block.tags[j, rows]
        text = tags == TAG_STR
        if ((tags == TAG_ABSENT) | (tags == TAG_MISSING) | text).all():
            return categorical_text_rows(column, text)
    return categorical_rows(column)


def _column(block: Block, j: int, rows: Int64Array) -> Any:
    obj = block.objects.get(block.names[j])
    if obj is not None:
        return obj[rows]
    ints = block.tags[j, rows] == TAG_INT
    return Numbers(block.floats[j, rows], ints if ints.any() else None)


def build(
    layout: Layout, rows: tuple[Int64Array, Any, Any, Any], gids: Int64Array, counts: Int64Array,
    texts: Texts,
) -> list[ExactParts]:  # fmt: skip
    """The exact parts of groups ``gids`` (all of this layout; ``counts``: their rows)."""
    g, values, classes, cats = rows
    local_of = np.full(int(g.max(initial=-1)) + 1 if len(g) else 0, -1, dtype=np.int64)
    local_of[gids[gids < len(local_of)]] = np.flatnonzero(gids < len(local_of))
    owner = local_of[g] if len(g) else np.empty(0, np.int64)  # -1: a row not written now
    sel = np.flatnonzero(owner >= 0)
    local = owner[sel]
    d = len(gids)
    counters = _counters(layout, classes, owner, d)
    vals, vbounds = _sorted_values(values, owner, d)
    ids, ccount, cbounds, clen = _categories(cats[:, sel], classes[layout.categorical][:, sel],
                                             local, d, texts)  # fmt: skip
    names = list(layout.names)
    got = operator.itemgetter
    out = []
    for i in range(d):
        cids = ids[cbounds[i] : cbounds[i + 1]].tolist()
        out.append(ExactParts(
            int(counts[i]), names, layout.kinds, counters[i], vals[vbounds[i] : vbounds[i + 1]],
            clen[i], ccount[cbounds[i] : cbounds[i + 1]],
            list(got(*cids)(texts.texts)) if len(cids) > 1 else [texts.texts[c] for c in cids],
        ))  # fmt: skip
    return out


def _counters(layout: Layout, classes: Any, owner: Int64Array, d: int) -> Any:
    """Per group (``owner`` of each row; -1: none) and feature its counters."""
    nf = len(layout.names)
    module = floatpack.native()
    if module is not None:
        flat = module.exact_count_classes(classes, np.ascontiguousarray(owner), d, N_CLASSES)
    else:
        sel = np.flatnonzero(owner >= 0)
        local = owner[sel]
        idx = (local[None, :] * nf + np.arange(nf)[:, None]) * N_CLASSES + classes[:, sel]
        flat = np.bincount(idx.ravel(), minlength=d * nf * N_CLASSES)
    c7 = flat.reshape(d, nf, N_CLASSES)
    numeric = (layout.kinds == NUMERIC)[None, :, None]
    return np.where(numeric, c7 @ _TO_NUMERIC, c7 @ _TO_CATEGORICAL)


def _sorted_values(values: Any, owner: Int64Array, d: int) -> tuple[Any, Int64Array]:
    """All groups' finite values sorted by (group, feature, value), and each group's bounds;
    ``owner``: each row's group, -1 for none (natively when built: native/src/exact.rs
    ``exact_sort_values``, else numpy)."""
    module = floatpack.native()
    if module is None:
        sel = np.flatnonzero(owner >= 0)
        return _sorted_values_numpy(values[:, sel], owner[sel], d)
    out, counts = module.exact_sort_values(values, np.ascontiguousarray(owner), d)
    per_group = counts.reshape(d, values.shape[0]).sum(axis=1)
    return out, np.concatenate(([0], np.cumsum(per_group)))


def _sorted_values_numpy(values: Any, local: Int64Array, d: int) -> tuple[Any, Int64Array]:
    """``_sorted_values`` with numpy, feature by feature (cache-sized arrays): a value sort,
    then a stable radix sort by group, then each value goes to its place in the group-major
    output."""
    nn = values.shape[0]
    parts, counts = [], np.zeros((d, nn), dtype=np.int64)
    for f in range(nn):
        v = values[f]
        keep = ~np.isnan(v)
        v, g = v[keep], local[keep]
        order = np.argsort(v)  # SIMD quicksort; the group pass below is stable
        order = order[np.argsort(_small(g[order]), kind="stable")]
        parts.append((v[order], g[order]))
        counts[:, f] = np.bincount(g, minlength=d)
    per_group = counts.sum(axis=1)
    bounds = np.concatenate(([0], np.cumsum(per_group)))
    offsets = bounds[:-1, None] + np.cumsum(counts, axis=1) - counts  # where (group, f) starts
    out = np.empty(int(bounds[-1]))
    for f, (v, g) in enumerate(parts):
        first = np.cumsum(counts[:, f]) - counts[:, f]  # where each group starts in v
        out[offsets[g, f] + np.arange(len(v)) - first[g]] = v
    return out, bounds


def _small(keys: Int64Array) -> Any:
    """Keys as the narrowest unsigned type (numpy's stable sort is a radix sort on 16 bits)."""
    top = keys.max() if len(keys) else 0
    if top < 2**8:
        return keys.astype(np.uint8)
    return keys.astype(np.uint16) if top < 2**16 else keys


def _categories(
    cats: Any, classes: Any, local: Int64Array, d: int, texts: Texts
) -> tuple[Any, Int64Array, Int64Array, Int64Array]:
    """Per group and categorical feature its categories (ids ordered by text) with counts."""
    nc = cats.shape[0]
    is_cat = (classes >= 2) & ((classes <= 3) | (classes == STR))
    feature = np.repeat(np.arange(nc, dtype=np.int64), cats.shape[1]).reshape(nc, -1)[is_cat]
    group = np.broadcast_to(local, cats.shape)[is_cat]
    ids = cats[is_cat]
    present = np.unique(ids)
    rank = texts.ranks(present.astype(np.int32))
    width = len(present) + 1
    key = (group * nc + feature) * width + rank[ids]
    uniq, counts = np.unique(key, return_counts=True)
    slot = uniq // width
    order_rank = uniq % width
    id_of_rank = np.zeros(width, dtype=np.int64)
    id_of_rank[rank[present]] = present
    clen = np.bincount(slot, minlength=d * nc).reshape(d, nc).astype(np.int64)
    bounds = np.concatenate(([0], np.cumsum(clen.sum(axis=1))))
    return id_of_rank[order_rank], counts.astype(np.int64), bounds, clen
