"""A deterministic KLL quantile sketch in numpy: identical input gives identical bytes.

It is the KLL sketch of Karnin, Lang and Liberty as Apache DataSketches builds it (the same
level capacities: ``max(8, round(k * (2/3) ** depth))``, whole-level compaction, one odd item
left behind), with one change: the coin that decides which half of a sorted level moves up is
not drawn from a process-wide random generator but is a bit of a BLAKE2b hash of the compacted
items, the level and how many compactions that level has had. The same rows in the same order
and batches therefore give bit-identical sketches, profiles and verdicts, in any process.

Error bound: a compaction at level h changes any rank by 0 or +/-2**h with equal (hash-derived)
probability, exactly as in DataSketches, and a level compacts no more often than there; so the
sketch carries DataSketches' published all-ranks bound for ``k`` (99% confidence, about 0.0035
for k = 1024, ``modelmon.profile.constants.KLL_RANK_ERROR``). The bound treats the hash bits as
fair coins: it holds for any data that was not crafted against BLAKE2b.

Levels are kept sorted, so ``merge(a, b)`` and ``merge(b, a)`` are bit-identical.
"""

from __future__ import annotations

import functools
import hashlib
import struct
from collections.abc import Iterable
from typing import Final

import numpy as np
import numpy.typing as npt

from modelmon.profile.columns import FloatArray

MIN_WIDTH: Final = 8
MAX_LEVELS: Final = 64  # weights up to 2**63: more than any count
_EMPTY: Final[FloatArray] = np.empty(0, dtype=np.float64)


def level_capacity(k: int, num_levels: int, height: int) -> int:
    """DataSketches' capacity of level ``height`` in a sketch of ``num_levels`` levels."""
    depth = num_levels - height - 1
    return max(MIN_WIDTH, round(k * (2.0 / 3.0) ** depth))


def _coin(items: FloatArray, height: int, compactions: int) -> int:
    """A pseudo-random bit from (up to 257 evenly spaced of) the sorted items being compacted,
    their number, the level and the level's compaction count."""
    step = max(1, len(items) // 256)
    digest = hashlib.blake2b(items[::step].tobytes(), digest_size=8)
    digest.update(struct.pack("<QII", len(items), height, compactions))
    return digest.digest()[0] & 1


def _is_sorted(values: FloatArray) -> bool:
    return len(values) < 2 or bool((values[1:] >= values[:-1]).all())


def levels_are_sorted(values: FloatArray, sizes: list[int] | npt.NDArray[np.int64]) -> bool:
    """Whether ``values``, cut in runs of ``sizes``, are all finite and each run sorted."""
    if not len(values):
        return True
    if not np.isfinite(values).all():
        return False
    falls = values[1:] < values[:-1]
    if not falls.any():
        return True
    bounds = np.cumsum(sizes)[:-1]  # a fall from one run to the next is allowed
    bounds = bounds[(bounds > 0) & (bounds < len(values))]
    falls[bounds - 1] = False
    return not bool(falls.any())


def _merge_sorted(a: FloatArray, b: FloatArray) -> FloatArray:
    """Two sorted arrays as one (the stable sort merges the two runs in linear time)."""
    if not len(a):
        return b
    if not len(b):
        return a
    return np.sort(np.concatenate((a, b)), kind="stable")


@functools.cache
def _capacities(k: int, num_levels: int) -> tuple[int, ...]:
    return tuple(level_capacity(k, num_levels, h) for h in range(num_levels))


class Kll:
    """A mutable KLL sketch of float64 values (finite values only; callers drop NaN/inf)."""

    __slots__ = ("compactions", "k", "levels", "n")

    def __init__(self, k: int) -> None:
        if k < MIN_WIDTH or k > 65535:
            raise ValueError(f"KLL k must be in [{MIN_WIDTH}, 65535], got {k}")
        self.k = k
        self.n = 0
        self.levels: list[FloatArray] = [_EMPTY]
        self.compactions: list[int] = [0]

    # ----- reading --------------------------------------------------------------------------
    @property
    def retained(self) -> int:
        return sum(len(lv) for lv in self.levels)

    def is_empty(self) -> bool:
        return self.n == 0

    def is_estimation_mode(self) -> bool:
        """Whether any compaction happened (ranks are then estimates, not exact)."""
        return self.retained < self.n

    def items_and_weights(self) -> tuple[FloatArray, FloatArray]:
        """Every retained item with its weight 2**level (level order, each level sorted)."""
        if not self.n:
            return _EMPTY, _EMPTY
        items = np.concatenate(self.levels)
        weights = np.repeat(2.0 ** np.arange(len(self.levels)), [len(lv) for lv in self.levels])
        return items, weights

    def level_items(self) -> list[list[float]]:
        return [lv.tolist() for lv in self.levels]

    # ----- writing --------------------------------------------------------------------------
    def update(self, values: FloatArray) -> None:
        """Add a batch of finite values."""
        if not len(values):
            return
        batch = values if _is_sorted(values) else np.sort(values)
        self.levels[0] = _merge_sorted(self.levels[0], batch)
        self.n += len(values)
        self._compress()

    def merge(self, other: Kll) -> None:
        """Fold ``other`` in (it does not change). Symmetric: a.merge(b) == b.merge(a)."""
        if other.k != self.k:
            raise ValueError(f"cannot merge KLL sketches of k={self.k} and k={other.k}")
        while len(self.levels) < len(other.levels):
            self.levels.append(_EMPTY)
            self.compactions.append(0)
        for h, (lv, c) in enumerate(zip(other.levels, other.compactions, strict=True)):
            if len(lv):
                self.levels[h] = _merge_sorted(self.levels[h], lv)
            self.compactions[h] += c
        self.n += other.n
        self._compress()

    def copy(self) -> Kll:
        twin = Kll(self.k)
        twin.n = self.n
        twin.levels = list(self.levels)  # arrays are never modified in place
        twin.compactions = list(self.compactions)
        return twin

    def _compress(self) -> None:
        while True:
            top = len(self.levels)
            caps = _capacities(self.k, top)
            sizes = [len(lv) for lv in self.levels]
            if sum(sizes) <= sum(caps):
                return
            h = next((i for i in range(top) if sizes[i] >= caps[i]), top - 1)
            if h == top - 1:
                self.levels.append(_EMPTY)
                self.compactions.append(0)
            self._compact(h)

    def _compact(self, h: int) -> None:
        level = self.levels[h]  # sorted
        keep = level[:1] if len(level) % 2 else _EMPTY
        rest = level[len(keep) :]
        coin = _coin(rest, h, self.compactions[h])
        self.compactions[h] += 1
        self.levels[h] = keep
        up = rest[coin::2]
        self.levels[h + 1] = _merge_sorted(self.levels[h + 1], up)

    # ----- bytes ----------------------------------------------------------------------------
    _HEAD: Final = struct.Struct("<BHQB")  # version, k, n, number of levels

    def serialize(self) -> bytes:
        sizes = [len(lv) for lv in self.levels]
        parts = [
            self._HEAD.pack(1, self.k, self.n, len(self.levels)),
            struct.pack(f"<{len(sizes)}I", *sizes),
            struct.pack(f"<{len(sizes)}Q", *self.compactions),
        ]
        parts.extend(lv.astype("<f8").tobytes() for lv in self.levels)
        return b"".join(parts)

    @staticmethod
    def deserialize(blob: bytes) -> Kll:
        """The sketch ``serialize`` wrote; ValueError naming the cause when the bytes are bad."""
        head = Kll._HEAD
        if len(blob) < head.size:
            raise ValueError("KLL bytes too short")
        version, k, n, num_levels = head.unpack_from(blob, 0)
        if version != 1 or num_levels < 1:
            raise ValueError(f"KLL bytes: version {version}, {num_levels} levels")
        off = head.size
        need = off + 12 * num_levels
        if len(blob) < need:
            raise ValueError("KLL bytes truncated")
        sizes = struct.unpack_from(f"<{num_levels}I", blob, off)
        counts = struct.unpack_from(f"<{num_levels}Q", blob, off + 4 * num_levels)
        if len(blob) != need + 8 * sum(sizes):
            raise ValueError("KLL bytes: item count does not match the length")
        sketch = Kll(k)
        levels, pos = [], need
        for size in sizes:
            lv = np.frombuffer(blob, dtype="<f8", count=size, offset=pos).astype(np.float64)
            if not np.isfinite(lv).all() or (size > 1 and (np.diff(lv) < 0).any()):
                raise ValueError("KLL bytes: a level is not finite and sorted")
            levels.append(lv)
            pos += 8 * size
        if sum(len(lv) * 2**h for h, lv in enumerate(levels)) != n:
            raise ValueError("KLL bytes: retained weight does not match n")
        sketch.n, sketch.levels, sketch.compactions = n, levels, list(counts)
        return sketch

    @staticmethod
    def from_parts(
        k: int, levels: list[FloatArray], compactions: list[int], checked: bool = False
    ) -> Kll:
        """The sketch with these levels and compaction counts (profile format 3 stores them
        apart); ValueError naming the cause when they cannot be a sketch. ``checked``: the
        caller already made sure every level is finite and sorted (for many sketches at once,
        ``levels_are_sorted``)."""
        if not 0 < len(levels) == len(compactions) <= MAX_LEVELS:
            raise ValueError("KLL parts: levels and compaction counts differ")
        if not all(isinstance(c, int) and 0 <= c < 2**64 for c in compactions):
            raise ValueError("KLL parts: a compaction count is not a non-negative integer")
        if not checked and not levels_are_sorted(
            np.concatenate(levels), [len(lv) for lv in levels]
        ):
            raise ValueError("KLL parts: a level is not finite and sorted")
        sketch = Kll(k)
        sketch.levels = list(levels)
        sketch.compactions = list(compactions)
        sketch.n = sum(len(lv) << h for h, lv in enumerate(levels))
        return sketch

    @staticmethod
    def from_levels(k: int, levels: Iterable[FloatArray]) -> Kll:
        """A sketch holding ``levels`` (level i items weigh 2**i), e.g. read from DataSketches'
        bytes (profile blobs of format version 1); n is their total weight."""
        sketch = Kll(k)
        sketch.levels = [np.sort(np.asarray(lv, dtype=np.float64)) for lv in levels] or [_EMPTY]
        sketch.compactions = [0] * len(sketch.levels)
        sketch.n = sum(len(lv) * 2**h for h, lv in enumerate(sketch.levels))
        return sketch
