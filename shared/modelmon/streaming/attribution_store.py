"""Attribution partials in Redis: their own fenced flush, loads, and the detector's read.

``ATTRIBUTION_FLUSH`` writes a partition's attribution partials only when the stored
attribution offset equals the flush's ``from`` offset (the profile flush's rule, with its own
offset: see ``streaming.attributions``). ``AttributionAwareStore`` wraps the aggregator's
partition store so that every profile flush first writes the attributions of the same
messages, and every load/clear covers both: the aggregator's ownership code is unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, cast

import redis

from modelmon.attribution.state import AttributionState, merged
from modelmon.errors import CorruptBlobError, FencedWriteError
from modelmon.keys import Keys, WindowRef
from modelmon.streaming.attributions import AttributionFlush, PartitionAttributions
from modelmon.streaming.partition import FlushPlan
from modelmon.streaming.store import StoredPartition

#: KEYS: state hash, window index, then the partials' keys: all in the partition's one hash
#: slot (Redis Cluster). Each window's parts set (keyed by model, another slot) is written
#: before the script, so every stored partial is listed there; a listed partition without a
#: partial (a crash in between) reads as none.
#: ARGV: from ('' = nothing stored), next offset, TTL seconds, partition, #partials, index trim
#: score (windows closed before it leave the index), then (member, close, blob) per partial.
ATTRIBUTION_FLUSH = """
local stored = redis.call('HGET', KEYS[1], 'offset')
if not stored then stored = '' end
if stored ~= ARGV[1] then
  return {0, stored}
end
redis.call('HSET', KEYS[1], 'offset', ARGV[2])
local ttl = tonumber(ARGV[3])
local n = tonumber(ARGV[5])
local a = 7
for i = 1, n do
  redis.call('SET', KEYS[2 + i], ARGV[a + 2], 'EX', ttl)
  redis.call('ZADD', KEYS[2], ARGV[a + 1], ARGV[a])
  a = a + 3
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[6])
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('EXPIRE', KEYS[2], ttl)
return {1, ARGV[2]}
"""


class AttributionStore:
    """Reads and fenced writes of one topic's attribution keys."""

    def __init__(
        self, client: redis.Redis, keys: Keys, topic: str, retention_seconds: int = 7 * 86400
    ) -> None:
        self._r, self._keys, self.topic = client, keys, topic
        self.retention_seconds = retention_seconds
        self._script = client.register_script(ATTRIBUTION_FLUSH)

    def flush(self, partition: int, plan: AttributionFlush, watermark: int | None = None) -> None:
        """Write the plan atomically (FencedWriteError when the stored offset moved); windows
        that closed more than the retention before ``watermark`` leave the index."""
        k, topic = self._keys, self.topic
        keys = [k.attribution_state(topic, partition), k.attribution_windows(topic, partition)]
        args: list[str | int | bytes] = [
            "" if plan.from_offset is None else str(plan.from_offset),
            plan.next_offset,
            self.retention_seconds,
            partition,
            len(plan.partials),
            "-inf" if watermark is None else watermark - self.retention_seconds * 1000,
        ]
        marks = self._r.pipeline(transaction=False)  # single-key commands: any slot
        for ref, close, blob in plan.partials:
            keys.append(k.attribution_partial(topic, partition, ref))
            args += [ref.member(), close, blob]
            marks.sadd(k.attribution_parts(topic, ref), partition)
            marks.expire(k.attribution_parts(topic, ref), self.retention_seconds)
        if plan.partials:
            marks.execute()
        ok, stored = self._script(keys=keys, args=args)
        if not ok:
            raise FencedWriteError(
                f"attribution flush of {topic}[{partition}] from offset {plan.from_offset} "
                f"refused: Redis holds offset {stored.decode() or 'none'}"
            )

    def load(self, partition: int, lowest_mark: int) -> PartitionAttributions:
        """The stored offset and the partials of windows not closed at ``lowest_mark``;
        an unreadable partial is left out (its window is re-read from the topic only when the
        partition is rebuilt; the profile's corrupt-partial path decides that)."""
        k, topic = self._keys, self.topic
        raw = self._r.hget(k.attribution_state(topic, partition), "offset")
        offset = int(cast(bytes, raw)) if raw is not None else None
        index: list[Any] = self._r.zrangebyscore(
            k.attribution_windows(topic, partition), f"({lowest_mark}", "+inf", withscores=True
        )
        refs = [(WindowRef.from_member(m), int(score)) for m, score in index]
        blobs: list[Any] = (
            self._r.mget([k.attribution_partial(topic, partition, r) for r, _ in refs])
            if refs
            else []
        )
        windows: dict[WindowRef, tuple[int, AttributionState]] = {}
        for (ref, close), blob in zip(refs, blobs, strict=True):
            if blob is None:
                continue
            try:
                windows[ref] = (close, AttributionState.deserialize(blob))
            except CorruptBlobError:
                continue
        return PartitionAttributions(offset, windows)

    def clear(self, partition: int) -> None:
        k, topic = self._keys, self.topic
        index = k.attribution_windows(topic, partition)
        members: list[Any] = self._r.zrange(index, 0, -1)
        partials = [
            k.attribution_partial(topic, partition, WindowRef.from_member(m)) for m in members
        ]
        self._r.delete(k.attribution_state(topic, partition), index, *partials)

    def expire(self, ref: WindowRef, seconds: int) -> None:
        k = self._keys
        parts_key = k.attribution_parts(self.topic, ref)
        parts = [int(p) for p in cast(set[bytes], self._r.smembers(parts_key))]
        pipe = self._r.pipeline(transaction=False)
        for p in parts:
            pipe.expire(k.attribution_partial(self.topic, p, ref), seconds)
        pipe.expire(parts_key, seconds)
        pipe.execute()

    def window(self, ref: WindowRef) -> tuple[AttributionState, int]:
        """The window's partials of every partition of this topic, merged (and how many)."""
        k = self._keys
        parts = sorted(
            int(p) for p in cast(set[bytes], self._r.smembers(k.attribution_parts(self.topic, ref)))
        )
        if not parts:
            return AttributionState(), 0
        reads = self._r.pipeline(transaction=False)  # one GET each: partitions' slots differ
        for p in parts:
            reads.get(k.attribution_partial(self.topic, p, ref))
        blobs: list[Any] = reads.execute()
        states = []
        for blob in blobs:
            if blob is not None:
                try:
                    states.append(AttributionState.deserialize(blob))
                except CorruptBlobError:
                    continue
        return merged(states), len(states)


def expire_window(stores: Iterable[AttributionStore], ref: WindowRef, seconds: int) -> None:
    """Shorten the TTL of an evaluated window's attribution partials (as the detector does
    for the profile partials): their owner set the retention, days long."""
    for store in stores:
        store.expire(ref, seconds)


def window_attributions(stores: Iterable[AttributionStore], ref: WindowRef) -> AttributionState:
    """A window's attributions from every topic that carries them (captures, explainer)."""
    return merged(store.window(ref)[0] for store in stores)


class AttributionAwareStore:
    """The aggregator's partition store, with each partition's attribution partials beside
    it: ``load`` fills ``trackers``, ``flush`` writes attributions first, ``clear`` both."""

    def __init__(self, store: Any, attributions: AttributionStore) -> None:
        self._store, self._attr = store, attributions
        self.trackers: dict[int, PartitionAttributions] = {}

    def flush(self, partition: int, plan: FlushPlan, now_ms: int) -> None:
        tracker = self.trackers.get(partition)
        if tracker is not None:
            attr = tracker.flush_plan(plan.next_offset)
            if attr is not None:
                self._attr.flush(partition, attr, plan.watermark)  # fenced: the owner reloads
                tracker.flushed(attr, dict(plan.model_watermarks))
        self._store.flush(partition, plan, now_ms)

    def load(self, partition: int) -> StoredPartition:
        stored: StoredPartition = self._store.load(partition)
        marks = [stored.watermark, *(stored.model_watermarks or {}).values()]
        self.trackers[partition] = self._attr.load(partition, min(marks))
        return stored

    def clear(self, partition: int) -> None:
        self._attr.clear(partition)
        self._store.clear(partition)

    def __getattr__(self, name: str) -> Any:  # anything else the store offers
        return getattr(self._store, name)


def attribution_labels(catalog_models: Mapping[str, Any]) -> dict[str, str]:
    """model id -> the label of its captured attributions, for models with explainability."""
    labels = {}
    for model_id, entry in catalog_models.items():
        section = getattr(entry.config, "explainability", None)
        if section is not None:
            labels[model_id] = section.label
    return labels


class AttributionIntake:
    """The aggregator's hook (``Intake(attributions=...)``): a batch's attributions into the
    partition's tracker, for the models whose config has an ``explainability`` section."""

    def __init__(self, store: AttributionAwareStore, catalog: Any) -> None:
        self._store, self._catalog = store, catalog

    def __call__(
        self, partition: int, agg: Any, values: Any, offsets: Any, batch: Any, plans: Any
    ) -> int:
        tracker = self._store.trackers.get(partition)
        labels = attribution_labels(self._catalog.models)
        if tracker is None or not labels:
            return 0
        return tracker.add(values, offsets, batch, plans, labels, agg.models.of)
