"""Aggregator state in Redis: the fenced flush script and the reads that resume a partition.

``FLUSH_SCRIPT`` is the only writer of a partition's keys. In one atomic call it checks that
the partition's stored offset equals the flush's ``from`` offset (the offset this writer
resumed from or last wrote) and only then writes the partials, the window index, late counts,
the watermark and the next offset. A zombie that lost the partition in a rebalance, or a
replay of an already-flushed range, finds another offset stored and is refused: nothing is
written twice, nothing is lost (docs/streaming.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, cast

import redis

from modelmon.errors import CorruptBlobError, FencedWriteError
from modelmon.keys import Keys, WindowRef
from modelmon.profile import DatasetProfile
from modelmon.streaming.partition import FlushPlan
from modelmon.streaming.watermarks import parse_fields
from modelmon.windows import NO_WATERMARK

log = logging.getLogger(__name__)

#: KEYS: state hash, window index, late hash, then one partial key per window.
#: ARGV: from ('' = nothing stored), next offset, watermark, updated ms, partial TTL seconds,
#:       index trim score, #partials, #late, then (member, close, blob) per partial,
#:       (member, count) per late entry, then #models and (model, watermark) per model.
FLUSH_SCRIPT = """
local stored = redis.call('HGET', KEYS[1], 'offset')
if not stored then stored = '' end
if stored ~= ARGV[1] then
  return {0, stored}
end
redis.call('HSET', KEYS[1], 'offset', ARGV[2], 'watermark', ARGV[3], 'updated', ARGV[4])
local ttl = tonumber(ARGV[5])
local npart = tonumber(ARGV[7])
local nlate = tonumber(ARGV[8])
local a = 9
for i = 1, npart do
  redis.call('SET', KEYS[3 + i], ARGV[a + 2], 'EX', ttl)
  redis.call('ZADD', KEYS[2], ARGV[a + 1], ARGV[a])
  a = a + 3
end
for i = 1, nlate do
  redis.call('HINCRBY', KEYS[3], ARGV[a], ARGV[a + 1])
  a = a + 2
end
local nmodels = tonumber(ARGV[a] or '0')
a = a + 1
for i = 1, nmodels do
  redis.call('HSET', KEYS[1], 'wm:' .. ARGV[a], ARGV[a + 1])
  a = a + 2
end
local old = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[6])
if #old > 0 then
  redis.call('ZREM', KEYS[2], unpack(old))
  redis.call('HDEL', KEYS[3], unpack(old))
end
redis.call('EXPIRE', KEYS[3], ttl)
redis.call('EXPIRE', KEYS[2], ttl)
return {1, ARGV[2]}
"""


@dataclass(frozen=True, slots=True)
class StoredPartition:
    """A partition's state as Redis holds it."""

    offset: int | None
    watermark: int
    updated_ms: int | None
    open_windows: dict[WindowRef, tuple[int, DatasetProfile]]
    model_watermarks: dict[str, int] | None = None  # None: stored before they existed
    #: stored partials that cannot be read (window, the stored bytes): the owner dead-letters
    #: them and rebuilds the partition from the topic (``clear``)
    corrupt: tuple[tuple[WindowRef, bytes], ...] = ()


def open_windows_of(
    refs: list[tuple[WindowRef, int]], blobs: list[bytes | None]
) -> tuple[dict[WindowRef, tuple[int, DatasetProfile]], tuple[tuple[WindowRef, bytes], ...]]:
    """The readable partials of the open windows, and the unreadable ones apart."""
    windows: dict[WindowRef, tuple[int, DatasetProfile]] = {}
    corrupt: list[tuple[WindowRef, bytes]] = []
    for (ref, close), blob in zip(refs, blobs, strict=True):
        if blob is None:
            continue
        try:
            windows[ref] = (close, DatasetProfile.deserialize(blob))
        except CorruptBlobError:
            corrupt.append((ref, blob))
    return windows, tuple(corrupt)


class PartitionStore:
    """Reads and fenced writes of the aggregator's per-partition keys."""

    def __init__(
        self, client: redis.Redis, keys: Keys, topic: str, retention_seconds: int = 7 * 86400
    ) -> None:
        self._r = client
        self._keys = keys
        self.topic = topic
        self.retention_seconds = retention_seconds
        self._script = client.register_script(FLUSH_SCRIPT)

    def flush(self, partition: int, plan: FlushPlan, now_ms: int) -> None:
        """Write the plan atomically; raises FencedWriteError when the stored offset moved."""
        k = self._keys
        keys = [
            k.partition_state(self.topic, partition),
            k.partition_windows(self.topic, partition),
            k.partition_late(self.topic, partition),
            *(k.partial(self.topic, partition, ref) for ref, _, _ in plan.partials),
        ]
        trim_before = plan.watermark - self.retention_seconds * 1000
        args: list[str | int | bytes] = [
            "" if plan.from_offset is None else str(plan.from_offset),
            plan.next_offset,
            plan.watermark,
            now_ms,
            self.retention_seconds,
            trim_before,
            len(plan.partials),
            len(plan.late),
        ]
        for ref, close, blob in plan.partials:
            args += [ref.member(), close, blob]
        for ref, count in plan.late:
            args += [ref.member(), count]
        args.append(len(plan.model_watermarks))  # issue 19: then (model, watermark) pairs
        for model_id, mark in plan.model_watermarks:
            args += [model_id, mark]
        ok, stored = self._script(keys=keys, args=args)
        if not ok:
            raise FencedWriteError(
                f"flush of {self.topic}[{partition}] from offset {plan.from_offset} refused: "
                f"Redis holds offset {stored.decode() or 'none'}"
            )

    def load(self, partition: int) -> StoredPartition:
        """The stored offset, watermark and the partials of windows still open."""
        k = self._keys
        state_key = k.partition_state(self.topic, partition)
        state = cast(dict[bytes, bytes], self._r.hgetall(state_key))
        watermark = int(state.get(b"watermark", NO_WATERMARK))
        models = parse_fields(state)  # issue 19: a model's windows stay open to its own mark
        lowest = min([watermark, *(models or {}).values()])
        index: list[Any] = self._r.zrangebyscore(
            k.partition_windows(self.topic, partition), f"({lowest}", "+inf", withscores=True
        )
        refs = [(WindowRef.from_member(m), int(score)) for m, score in index]
        partial_keys = [k.partial(self.topic, partition, r) for r, _ in refs]
        blobs: list[Any] = self._r.mget(partial_keys) if refs else []
        open_windows, corrupt = open_windows_of(refs, blobs)
        offset = state.get(b"offset")
        updated = state.get(b"updated")
        return StoredPartition(
            offset=int(offset) if offset is not None else None,
            watermark=watermark,
            updated_ms=int(updated) if updated is not None else None,
            open_windows=open_windows,
            model_watermarks=models,
            corrupt=corrupt,
        )

    def clear(self, partition: int) -> None:
        """Forget the partition's state (offset, windows, late counts, partials): its owner
        rebuilds it from the topic. Only the partition's owner calls it."""
        k = self._keys
        index = k.partition_windows(self.topic, partition)
        members: list[Any] = self._r.zrange(index, 0, -1)
        partials = [k.partial(self.topic, partition, WindowRef.from_member(m)) for m in members]
        self._r.delete(
            k.partition_state(self.topic, partition), index,
            k.partition_late(self.topic, partition), *partials,
        )  # fmt: skip

    def stored_offset(self, partition: int) -> int | None:
        raw = self._r.hget(self._keys.partition_state(self.topic, partition), "offset")
        return int(raw) if raw is not None else None
