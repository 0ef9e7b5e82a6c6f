"""A coordinated sample of categories: every category whose hash falls below a threshold, with
its exact count. Two profiles' samples cover the same hash range, so set questions between them
("which current categories did the baseline never see?") have exact answers inside that range
at any number of categories, and an unbiased estimate with a stated error outside it.

The sample keeps the (at most) ``SAMPLE_SIZE`` categories with the smallest 64-bit hashes
("bottom-k"); ``threshold`` is the hash below which it holds *every* category seen, with its
exact count. While a feature has at most ``SAMPLE_SIZE`` categories the sample is all of them
(``threshold`` = 2**64). Merging keeps the smaller threshold, so it stays exact. The hash is a
fixed FNV-1a over the text's code points with a splitmix64 finish: the same in every process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

SAMPLE_SIZE: Final = 4096
FULL: Final = 2**64
_FNV_OFFSET: Final = np.uint64(0xCBF29CE484222325)
_FNV_PRIME: Final = np.uint64(0x100000001B3)


def _mix(h: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """splitmix64's finaliser: spreads FNV's low-entropy high bits over all 64."""
    h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def hash_texts(texts: npt.NDArray[np.str_]) -> npt.NDArray[np.uint64]:
    """A stable 64-bit hash of each text (vectorised over the rows)."""
    n = len(texts)
    width = texts.dtype.itemsize // 4
    h = np.full(n, _FNV_OFFSET, dtype=np.uint64)
    if not n or not width:
        return _mix(h)
    codes = texts.view(np.uint32).reshape(n, width).astype(np.uint64)
    lengths = np.strings.str_len(texts)
    with np.errstate(over="ignore"):
        for j in range(int(lengths.max())):
            # only a text's own characters: the array's padding must not change its hash
            h = np.where(lengths > j, (h ^ codes[:, j]) * _FNV_PRIME, h)
        return _mix(h ^ lengths.astype(np.uint64))


@dataclass(frozen=True, slots=True)
class CategorySample:
    """Immutable: sorted ``hashes`` (uint64) of the sampled categories, their ``keys`` and
    exact ``counts``; every category with hash < ``threshold`` is in it."""

    keys: npt.NDArray[np.str_]
    hashes: npt.NDArray[np.uint64]
    counts: npt.NDArray[np.int64]
    threshold: int = FULL

    @staticmethod
    def empty() -> CategorySample:
        return CategorySample(
            np.empty(0, dtype=str), np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int64)
        )

    @property
    def rate(self) -> float:
        """The share of the hash space the sample covers completely."""
        return self.threshold / FULL

    def __len__(self) -> int:
        return len(self.keys)

    def add(self, keys: npt.NDArray[np.str_], counts: npt.NDArray[np.int64]) -> CategorySample:
        """The sample after adding distinct ``keys`` seen ``counts`` times (a batch)."""
        hashes = hash_texts(keys)
        if self.threshold < FULL:
            mask = hashes < np.uint64(self.threshold)
            keys, hashes, counts = keys[mask], hashes[mask], counts[mask]
        other = CategorySample(keys, hashes, counts.astype(np.int64), self.threshold)
        return self.merge(other)

    def merge(self, other: CategorySample) -> CategorySample:
        """Both samples' categories under the smaller threshold, counts added (symmetric).
        Categories are told apart by their 64-bit hash (two of 100k categories share one with
        probability about 3e-10)."""
        threshold = min(self.threshold, other.threshold)
        hashes = np.concatenate((self.hashes, other.hashes))
        if not len(hashes):
            return CategorySample(self.keys, hashes, self.counts, threshold)
        keys = np.concatenate((self.keys, other.keys))
        counts = np.concatenate((self.counts, other.counts))
        order = np.argsort(hashes, kind="stable")
        hashes = hashes[order]
        first = np.ones(len(hashes), dtype=bool)
        first[1:] = hashes[1:] != hashes[:-1]
        starts = np.flatnonzero(first)
        counts = np.add.reduceat(counts[order], starts)
        hashes, keys = hashes[starts], keys[order[starts]]
        if threshold < FULL:
            below = hashes < np.uint64(threshold)
            keys, hashes, counts = keys[below], hashes[below], counts[below]
        if len(keys) > SAMPLE_SIZE:
            # the smallest hash left out becomes the threshold
            threshold = int(hashes[SAMPLE_SIZE])
            keys, hashes, counts = (keys[:SAMPLE_SIZE], hashes[:SAMPLE_SIZE], counts[:SAMPLE_SIZE])
        return CategorySample(keys, hashes, counts, threshold)

    def contains(self, keys: npt.NDArray[np.str_]) -> npt.NDArray[np.bool_]:
        """Whether each key is in the sample (exact for keys whose hash is below threshold)."""
        if not len(self.keys) or not len(keys):
            return np.zeros(len(keys), dtype=bool)
        return self.contains_hashes(hash_texts(keys))

    def contains_hashes(self, wanted: npt.NDArray[np.uint64]) -> npt.NDArray[np.bool_]:
        """Whether the sample holds a category with each of these hashes."""
        if not len(self.keys) or not len(wanted):
            return np.zeros(len(wanted), dtype=bool)
        idx = np.clip(np.searchsorted(self.hashes, wanted), 0, len(self.hashes) - 1)
        found: npt.NDArray[np.bool_] = self.hashes[idx] == wanted
        return found

    def below(self, threshold: int) -> npt.NDArray[np.bool_]:
        """Mask of the entries whose hash is below ``threshold``."""
        if threshold >= FULL:
            return np.ones(len(self.keys), dtype=bool)
        mask: npt.NDArray[np.bool_] = self.hashes < np.uint64(threshold)
        return mask

    def to_body(self) -> list[Any]:
        # threshold - 1: 2**64 (the whole hash space) does not fit MessagePack's integers
        return [self.threshold - 1, self.keys.tolist(), self.counts.tolist()]

    @staticmethod
    def from_body(body: Any) -> CategorySample:
        """From ``to_body``; ValueError when malformed (hashes are recomputed, never trusted)."""
        if not (isinstance(body, list) and len(body) == 3):
            raise ValueError("category sample: expected [threshold, keys, counts]")
        last, keys, counts = body
        if not isinstance(last, int) or isinstance(last, bool) or not 0 <= last < FULL:
            raise ValueError("category sample: bad threshold")
        threshold = last + 1
        if not (isinstance(keys, list) and isinstance(counts, list) and len(keys) == len(counts)):
            raise ValueError("category sample: keys and counts differ")
        # type sets, not per-item isinstance: this runs for every stored profile a compare loads
        if len(keys) > SAMPLE_SIZE or not set(map(type, keys)) <= {str}:
            raise ValueError("category sample: too many entries or a key that is not text")
        if not set(map(type, counts)) <= {int}:
            raise ValueError("category sample: counts must be positive integers")
        try:
            values = np.array(counts, dtype=np.int64)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ValueError(f"category sample: bad count ({exc})") from exc
        if len(values) and values.min() <= 0:
            raise ValueError("category sample: counts must be positive integers")
        texts = np.array(keys, dtype=str)
        hashes = hash_texts(texts)
        # written in hash order: strictly increasing, all below the threshold
        if len(hashes) and (
            (hashes[1:] <= hashes[:-1]).any()
            or (threshold < FULL and hashes[-1] >= np.uint64(threshold))
        ):
            raise ValueError("category sample: entries out of order, repeated or too large")
        return CategorySample(texts, hashes, values, threshold)
