"""A small window's profile kept exactly: its rows' counters, values and categories (pure).

A (model, window) group of at most a few hundred rows (issue 23, docs/decisions/0007) is not
worth a sketch per feature: a KLL sketch of n <= k values *is* those values, sorted, and a
categorical feature's frequent-items sketch holds every category with its exact count. So the
group is written as a few arrays, tagged ``codec.TAG_EXACT``:

    rows     the group's row count
    names    feature names; kinds: u8 per feature (0 numeric, 1 categorical)
    counts   5 per feature: numeric [missing, mismatches, non_finite, integral, fractional];
             categorical [missing, mismatches, count, integral, fractional]
    values   the numeric features' finite values, each feature's sorted, in feature order,
             packed losslessly by ``floatpack.pack_runs`` (``_pack_values``); a feature holds
             rows - missing - mismatches - non_finite of them
    clen     per categorical feature: its distinct categories; ccount: per category, its
             count; texts: the categories' UTF-8 concatenated, tlen: bytes each (categories
             sorted by text within a feature)

Integer arrays are unsigned, in the narrowest of 1, 2, 4 or 8 bytes that holds them, after a
byte giving that width (``_uints``).

``profile(parts)`` builds from it the ``DatasetProfile`` that ``ProfileTracker(kinds)``
fed all those rows in one ``update`` would snapshot: the same counters, KLL sketch (the sorted
values), frequent items, HLL and category sample, and bit-identical moments (``Moments.of``
of the same sorted values). ``DatasetProfile.deserialize`` reads the tag, so every reader of
partials (detector, API, rebuild, resume) works unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from modelmon.errors import CorruptBlobError
from modelmon.profile import codec, floatpack
from modelmon.profile.categorical import CategoricalAccumulator, CategoricalProfile
from modelmon.profile.columns import CategoricalColumn, NumericColumn
from modelmon.profile.numeric import NumericAccumulator, NumericProfile

NUMERIC: Final = 0
CATEGORICAL: Final = 1
#: Numeric counters: missing, mismatches, non_finite, integral, fractional
#: (categorical: missing, mismatches, count, integral, fractional).
N_COUNTERS: Final = 5


def _pack_values(values: npt.NDArray[np.float64], lengths: npt.NDArray[np.int64]) -> bytes:
    """Each numeric feature's sorted finite values (runs of ``lengths``), packed losslessly
    (``floatpack.pack_runs``: ~1 B per value for short decimals, at most 8)."""
    return floatpack.pack_runs(values, lengths)


def _unpack_values(blob: bytes, lengths: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    return floatpack.unpack_runs(blob, lengths)


_WIDTHS: Final = {1: "u1", 2: "<u2", 4: "<u4", 8: "<u8"}


def _uints(values: npt.NDArray[np.int64]) -> bytes:
    """Non-negative integers in the narrowest width that holds them: one byte of width first."""
    top = int(values.max()) if len(values) else 0
    width = next(w for w in (1, 2, 4, 8) if top < 1 << (8 * w))
    return bytes([width]) + values.astype(_WIDTHS[width]).tobytes()


@dataclass(frozen=True, slots=True)
class ExactParts:
    """One group's rows as the exact format holds them (see the module docstring)."""

    rows: int
    names: list[str]
    kinds: npt.NDArray[np.uint8]
    counts: npt.NDArray[np.int64]  # features x N_COUNTERS
    values: npt.NDArray[np.float64]
    clen: npt.NDArray[np.int64]
    ccount: npt.NDArray[np.int64]
    texts: list[str]

    def serialize(self, packed_values: bytes | None = None) -> bytes:
        """The ``TAG_EXACT`` blob; ``packed_values``: ``_pack_values`` of the values, when
        ``serialize_many`` packed many groups' at once."""
        if packed_values is None:
            packed_values = _pack_values(self.values, self.value_counts())
        encoded = [t.encode() for t in self.texts]
        tlen = _uints(np.fromiter(map(len, encoded), np.int64, len(encoded)))
        ints = (_uints(self.counts.reshape(-1)), _uints(self.clen), _uints(self.ccount), tlen)
        return self._blob(packed_values, b"".join(encoded), ints)

    def _blob(self, packed: bytes, texts: bytes, ints: tuple[bytes, bytes, bytes, bytes]) -> bytes:
        counts, clen, ccount, tlen = ints
        return codec.pack(codec.TAG_EXACT, {
            "rows": self.rows,
            "names": self.names,
            "kinds": self.kinds.astype(np.uint8).tobytes(),
            "counts": counts,
            "values": packed,
            "clen": clen,
            "ccount": ccount,
            "texts": texts,
            "tlen": tlen,
        })  # fmt: skip

    def value_counts(self) -> npt.NDArray[np.int64]:
        """Finite values per feature (0 for categorical features)."""
        c = self.counts
        n = self.rows - c[:, 0] - c[:, 1] - c[:, 2]
        return np.where(self.kinds == NUMERIC, n, 0)


def serialize_many(parts: Sequence[ExactParts]) -> list[bytes]:
    """``p.serialize()`` of each, with the work done once for all of them: the values packed
    in one pass (floatpack.pack_groups: the same bytes without its fixed cost per group), the
    integer fields cut from one array per width (``_uints_many``)."""
    if not parts:
        return []
    counts = np.concatenate([p.counts for p in parts])
    kinds = np.concatenate([p.kinds for p in parts])
    features = np.fromiter((len(p.names) for p in parts), np.int64, len(parts))
    rows = np.repeat(np.fromiter((p.rows for p in parts), np.int64, len(parts)), features)
    lengths = np.where(kinds == NUMERIC, rows - counts[:, 0] - counts[:, 1] - counts[:, 2], 0)
    values = np.concatenate([p.values for p in parts])
    packed = floatpack.pack_groups(values, lengths, features)
    texts, tlen, n_texts = _texts_many(parts)
    clen = np.fromiter((len(p.clen) for p in parts), np.int64, len(parts))
    ints = zip(
        _uints_many(counts.reshape(-1), features * N_COUNTERS),
        _uints_many(np.concatenate([p.clen for p in parts]), clen),
        _uints_many(np.concatenate([p.ccount for p in parts]), n_texts),
        _uints_many(tlen, n_texts), strict=True,
    )  # fmt: skip
    return [p._blob(v, t, i) for p, v, t, i in zip(parts, packed, texts, ints, strict=True)]


def _texts_many(parts: Sequence[ExactParts]) -> tuple[list[bytes], npt.NDArray[np.int64], Any]:
    """Per part its texts' UTF-8 joined; every text's length in bytes; texts per part. ASCII
    texts (the usual case) are encoded in one call and cut at their lengths."""
    per = np.fromiter((len(p.texts) for p in parts), np.int64, len(parts))
    flat = [t for p in parts for t in p.texts]
    joined = "".join(flat)
    if joined.isascii():
        data, lengths = joined.encode(), np.fromiter(map(len, flat), np.int64, len(flat))
    else:
        encoded = [t.encode() for t in flat]
        data, lengths = b"".join(encoded), np.fromiter(map(len, encoded), np.int64, len(flat))
    ends = np.concatenate(([0], np.cumsum(lengths)))[np.cumsum(per)].tolist()
    starts = [0, *ends[:-1]]
    return [data[a:b] for a, b in zip(starts, ends, strict=True)], lengths, per


def _uints_many(flat: npt.NDArray[np.int64], sizes: npt.NDArray[np.int64]) -> list[bytes]:
    """``_uints`` of each run of ``sizes`` values of ``flat``: one cast of all of them per
    width in use, then slices."""
    ends = np.cumsum(sizes)
    starts = ends - sizes
    tops = np.zeros(len(sizes), dtype=np.int64)
    full = sizes > 0
    if full.any():
        tops[full] = np.maximum.reduceat(flat, starts[full])
    width = np.select([tops < 1 << 8, tops < 1 << 16, tops < 1 << 32], [1, 2, 4], 8)
    out: list[bytes] = [b""] * len(sizes)
    for w in np.unique(width).tolist():
        data, head = flat.astype(_WIDTHS[w]).tobytes(), bytes([w])
        mine = np.flatnonzero(width == w)
        for i, a, b in zip(mine.tolist(), (starts[mine] * w).tolist(), (ends[mine] * w).tolist(),
                           strict=True):  # fmt: skip
            out[i] = head + data[a:b]
    return out


def estimated_bytes(rows: int, numeric: int, categorical: int, names: int) -> int:
    """About the size of a group's exact blob: 8 B per numeric value, ~12 B per category row
    (at most one category per row), the counters and names."""
    features = numeric + categorical
    return 64 + names + features * (N_COUNTERS * 8 + 6) + rows * (8 * numeric + 12 * categorical)


def parts_of_body(body: dict[str, Any]) -> ExactParts:
    """The body of a ``TAG_EXACT`` blob, checked (CorruptBlobError naming what is wrong)."""
    rows = codec.field(body, "rows", int)
    names = codec.field(body, "names", list)
    if rows < 0 or not all(isinstance(n, str) for n in names) or len(set(names)) != len(names):
        raise CorruptBlobError("exact profile blob: bad row count or feature names")
    kinds = np.frombuffer(codec.field(body, "kinds", bytes), dtype=np.uint8)
    if len(kinds) != len(names):
        raise CorruptBlobError("exact profile blob: field 'kinds' has the wrong length")
    counts = _array(body, "counts", len(names) * N_COUNTERS).reshape(-1, N_COUNTERS)
    if (kinds > CATEGORICAL).any() or (counts < 0).any():
        raise CorruptBlobError("exact profile blob: bad kinds or negative counters")
    n_cat = int((kinds == CATEGORICAL).sum())
    clen = _array(body, "clen", n_cat)
    ccount = _array(body, "ccount", int(clen.sum()))
    texts = _texts(body, len(ccount))
    parts = ExactParts(rows, names, kinds, counts, np.empty(0), clen, ccount, texts)
    if (parts.value_counts() < 0).any():
        raise CorruptBlobError("exact profile blob: counters exceed the row count")
    values = _unpack_values(codec.field(body, "values", bytes), parts.value_counts())
    parts = ExactParts(rows, names, kinds, counts, values, clen, ccount, texts)
    _check(parts)
    return parts


def _array(body: dict[str, Any], name: str, count: int) -> npt.NDArray[np.int64]:
    """``count`` integers written by ``_uints``, as int64 (CorruptBlobError if malformed)."""
    raw = codec.field(body, name, bytes)
    dtype = _WIDTHS.get(raw[0]) if raw else None
    if dtype is None or len(raw) != 1 + raw[0] * count:
        raise CorruptBlobError(f"exact profile blob: field {name!r} has the wrong length")
    values = np.frombuffer(raw, dtype=dtype, offset=1)
    if raw[0] == 8 and len(values) and int(values.max()) >= 1 << 62:
        raise CorruptBlobError(f"exact profile blob: field {name!r} holds a huge count")
    return values.astype(np.int64)


def _texts(body: dict[str, Any], count: int) -> list[str]:
    raw = codec.field(body, "texts", bytes)
    lengths = _array(body, "tlen", count)
    if int(lengths.sum()) != len(raw):
        raise CorruptBlobError("exact profile blob: category texts do not match their lengths")
    ends = np.cumsum(lengths)
    starts, ends = (ends - lengths).tolist(), ends.tolist()
    try:
        return [raw[a:b].decode() for a, b in zip(starts, ends, strict=True)]
    except UnicodeDecodeError as exc:
        raise CorruptBlobError(f"exact profile blob: a category is not UTF-8 ({exc})") from exc


def _check(p: ExactParts) -> None:
    """Every feature's classes add up to the row count; values finite and sorted; category
    counts positive and adding up to the feature's count."""
    c, numeric = p.counts, p.kinds == NUMERIC
    numbers = p.rows - c[:, 0] - c[:, 1]
    typed = c[:, 3] + c[:, 4]
    ok = np.where(numeric, typed == numbers, (typed <= c[:, 2]) & (c[:, 2] == numbers))
    if not ok.all():
        raise CorruptBlobError("exact profile blob: a feature's counters do not add up")
    v = p.values
    if not np.isfinite(v).all():
        raise CorruptBlobError("exact profile blob: a value is not finite")
    descending = np.flatnonzero(v[1:] < v[:-1]) + 1
    if len(np.setdiff1d(descending, np.cumsum(p.value_counts()[numeric]))):
        raise CorruptBlobError("exact profile blob: a feature's values are not sorted")
    if len(p.ccount) and p.ccount.min() <= 0:
        raise CorruptBlobError("exact profile blob: a category count is not positive")
    sums = np.zeros(len(p.clen), dtype=np.int64)
    if len(p.ccount):
        sums[p.clen > 0] = np.add.reduceat(p.ccount, _starts(p.clen))
    if (sums != c[~numeric, 2]).any():
        raise CorruptBlobError("exact profile blob: category counts do not add up")


def _starts(lengths: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Start of each non-empty run of ``lengths`` in their concatenation."""
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    return starts[lengths > 0]


def profile_features(p: ExactParts) -> dict[str, NumericProfile | CategoricalProfile]:
    """Each feature's profile, as a tracker fed these rows in one batch snapshots it."""
    out: dict[str, NumericProfile | CategoricalProfile] = {}
    vpos = cpos = cat = 0
    counts = p.counts.tolist()
    n_values = p.value_counts().tolist()
    clen = p.clen.tolist()
    for j, name in enumerate(p.names):
        missing, mismatches, third, integral, fractional = counts[j]
        if p.kinds[j] == NUMERIC:
            values = p.values[vpos : vpos + n_values[j]]
            vpos += n_values[j]
            num = NumericAccumulator()
            num.add(NumericColumn(values, missing, third, mismatches, integral, fractional))
            out[name] = num.snapshot()
            continue
        keys = np.array(p.texts[cpos : cpos + clen[cat]], dtype=str)
        column = CategoricalColumn(
            keys, p.ccount[cpos : cpos + clen[cat]], missing, mismatches, integral, fractional
        )
        cpos, cat = cpos + clen[cat], cat + 1
        acc = CategoricalAccumulator()
        acc.add(column)
        out[name] = acc.snapshot()
    return out
