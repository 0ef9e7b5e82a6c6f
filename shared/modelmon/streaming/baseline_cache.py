"""Parsed baselines, least recently used first out, bounded in bytes (pure; issue 23).

Each entry is charged the stored size of its baseline files (the JSON the registry holds; the
parsed form is of the same order: ``bench/bench_detector_scale.py`` measures RSS), so a
thousand models with 1.4 MB baselines need not all stay in memory. An entry is dropped when
its model's baseline version changes (``invalidate_changed``), never the whole cache.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Entry(Generic[T]):
    value: T | None
    size: int
    version: int


class BaselineCache(Generic[T]):
    """``get(model, load)``: the cached value, else ``load()`` -> (value, size, version)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self.hits = self.misses = self.evictions = 0
        self._entries: OrderedDict[str, _Entry[T]] = OrderedDict()

    def get(self, model_id: str, load: Callable[[], tuple[T | None, int, int]]) -> T | None:
        entry = self._entries.get(model_id)
        if entry is not None:
            self._entries.move_to_end(model_id)
            self.hits += 1
            return entry.value
        self.misses += 1
        value, size, version = load()
        self._put(model_id, _Entry(value, max(size, 1), version))
        return value

    def _put(self, model_id: str, entry: _Entry[T]) -> None:
        self.drop(model_id)
        if entry.size > self.max_bytes:
            return  # larger than the whole cache: used once, not kept
        self._entries[model_id] = entry
        self.bytes += entry.size
        while self.bytes > self.max_bytes:
            _, old = self._entries.popitem(last=False)
            self.bytes -= old.size
            self.evictions += 1

    def drop(self, model_id: str) -> None:
        old = self._entries.pop(model_id, None)
        if old is not None:
            self.bytes -= old.size

    def cached(self) -> list[str]:
        return list(self._entries)

    def invalidate_changed(self, versions: Mapping[str, int]) -> list[str]:
        """Drop the cached models whose version in ``versions`` differs; returns them."""
        changed = [
            m for m, e in self._entries.items() if m in versions and versions[m] != e.version
        ]
        for model_id in changed:
            self.drop(model_id)
        return changed

    def __len__(self) -> int:
        return len(self._entries)
