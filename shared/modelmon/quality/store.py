"""Label-join state in Redis: the fenced flush script and the reads around it.

``FLUSH_SCRIPT`` is the only writer of a join partition's keys. In one atomic call it checks
that the partition's stored offset equals the flush's ``from`` offset, then writes pending
entries, joined markers, deadlines, window quality partials and counters, sweeps what the
watermark expired (bounded per call), and stores the next offset — as the aggregator's flush
does (``modelmon.streaming.store``): a zombie or a replay is refused, nothing is counted twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import msgspec
import redis

from modelmon.errors import DependencyUnavailableError, FencedWriteError
from modelmon.keys import Keys
from modelmon.quality.join import (
    COUNTERS,
    SEP,
    Entry,
    JoinPartition,
    decode,
    encode,
    joined_member,
)
from modelmon.windows import NO_WATERMARK

#: KEYS: state, pending, joined, deadlines, unevaluated, then per touched window: partial,
#:   counts, bias.
#: ARGV: from, next, watermark, updated, ttl, window-key prefix, partition, sweep limit,
#:   #pending-set, #pending-del, #members-del, #joined, #windows, #counters, then the entries.
#: Every window the flush changes (touched, or an expiry swept into its counters) joins the
#: partition's ``unevaluated`` set, scored by the flush's next offset, in the same atomic call;
#: the joiner removes it only after the window was evaluated and its results delivered, and only
#: if no later flush changed it since (``SETTLE_SCRIPT``), so a kill in between re-evaluates it
#: after restart and a slow owner never clears a newer owner's change.
FLUSH_SCRIPT = """
local stored = redis.call('HGET', KEYS[1], 'offset')
if not stored then stored = '' end
if stored ~= ARGV[1] then return {0, stored} end
local ttl = tonumber(ARGV[5])
local nset, ndel, nmem = tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])
local njoin, nwin, ncount = tonumber(ARGV[12]), tonumber(ARGV[13]), tonumber(ARGV[14])
local a = 15
for i = 1, nset do
  redis.call('HSET', KEYS[2], ARGV[a], ARGV[a + 1])
  redis.call('ZADD', KEYS[4], ARGV[a + 3], ARGV[a + 2])
  a = a + 4
end
for i = 1, ndel do redis.call('HDEL', KEYS[2], ARGV[a]); a = a + 1 end
for i = 1, nmem do redis.call('ZREM', KEYS[4], ARGV[a]); a = a + 1 end
for i = 1, njoin do
  redis.call('HSET', KEYS[3], ARGV[a], ARGV[a + 1])
  redis.call('ZADD', KEYS[4], ARGV[a + 1], 'j|' .. ARGV[a])
  a = a + 2
end
for i = 1, nwin do
  local partial, counts, bias = KEYS[3 + 3 * i], KEYS[4 + 3 * i], KEYS[5 + 3 * i]
  if ARGV[a] ~= '' then redis.call('SET', partial, ARGV[a], 'EX', ttl) end
  redis.call('HINCRBY', counts, 'predictions', ARGV[a + 1])
  redis.call('HINCRBY', counts, 'joined', ARGV[a + 2])
  redis.call('EXPIRE', counts, ttl)
  if ARGV[a + 3] ~= '' then redis.call('SET', bias, ARGV[a + 3], 'EX', ttl) end
  redis.call('ZADD', KEYS[5], ARGV[2], ARGV[a + 4])
  a = a + 5
end
for i = 1, ncount do
  redis.call('HINCRBY', KEYS[1], 'c:' .. ARGV[a], ARGV[a + 1])
  a = a + 2
end
local expired = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', '(' .. ARGV[3], 'LIMIT', 0,
                           tonumber(ARGV[8]))
for _, m in ipairs(expired) do
  local kind = string.sub(m, 1, 1)
  if kind == 'j' then
    redis.call('HDEL', KEYS[3], string.sub(m, 3))
  elseif kind == 'p' then
    local model, start, id = string.match(m, '^p|([^|]*)|([^|]*)|(.*)$')
    redis.call('HDEL', KEYS[2], id)
    local counts = ARGV[6] .. model .. ':' .. start .. ':' .. ARGV[7]
    redis.call('HINCRBY', counts, 'expired', 1)
    redis.call('EXPIRE', counts, ttl)
    redis.call('HINCRBY', KEYS[1], 'c:expired_predictions', 1)
    redis.call('ZADD', KEYS[5], ARGV[2], model .. '|' .. start)
  else
    local id = string.match(m, '^l|[^|]*|(.*)$')
    redis.call('HDEL', KEYS[2], id)
    redis.call('HINCRBY', KEYS[1], 'c:expired_labels', 1)
  end
end
if #expired > 0 then redis.call('ZREM', KEYS[4], unpack(expired)) end
redis.call('HSET', KEYS[1], 'offset', ARGV[2], 'watermark', ARGV[3], 'updated', ARGV[4])
return {1, ARGV[2]}
"""

#: KEYS: unevaluated. ARGV: pairs of member, the score it was read with: removed only if its
#: score is still that (no flush changed the window after it was read).
SETTLE_SCRIPT = """
local n = 0
for i = 1, #ARGV, 2 do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score and tonumber(score) <= tonumber(ARGV[i + 1]) then
    n = n + redis.call('ZREM', KEYS[1], ARGV[i])
  end
end
return n
"""

#: Expired entries swept per flush at most (the rest go with the next flushes).
SWEEP_LIMIT = 20_000


@dataclass(frozen=True)
class WindowWrite:
    """One touched (model, window): its new partial (b'' = unchanged), counter deltas and its
    new bias partial (b'' = unchanged or no bias config)."""

    model_id: str
    start_ms: int
    blob: bytes
    predictions: int
    joined: int
    bias: bytes = b""


@dataclass(frozen=True)
class JoinFlush:
    """Everything one flush writes for one partition."""

    from_offset: int | None
    next_offset: int
    watermark: int
    changes: JoinPartition
    windows: list[WindowWrite]
    deadlines: Mapping[str, int]  # pending id -> deadline ms


@dataclass(frozen=True)
class StoredJoin:
    offset: int | None
    watermark: int
    counts: dict[str, int]


def window_member(model_id: str, start_ms: int) -> str:
    """A window in a partition's unevaluated set (the flush script builds the same on expiry;
    model ids never hold ``|``, see ``quality.join.pending_member``)."""
    return SEP.join((model_id, str(start_ms)))


@dataclass(frozen=True, order=True)
class Unevaluated:
    """A window a flush changed, and the offset of the last flush that did."""

    model_id: str
    start_ms: int
    offset: int

    @classmethod
    def of(cls, member: str, offset: int) -> Unevaluated:
        model_id, _, start = member.rpartition(SEP)
        return cls(model_id, int(start), offset)


def _entry_blob(entry: Entry) -> bytes:
    return msgspec.msgpack.encode((entry.member, encode(entry.record)))


def _entry(blob: bytes) -> Entry:
    member, record = msgspec.msgpack.decode(blob)
    return Entry(decode(record), member)


class JoinStore:
    """Reads and fenced writes of one deployment's label-join keys."""

    def __init__(self, client: redis.Redis, keys: Keys, retention_seconds: int) -> None:
        self._r = client
        self.keys = keys
        self.retention_seconds = retention_seconds
        self._script = client.register_script(FLUSH_SCRIPT)
        self._settle = client.register_script(SETTLE_SCRIPT)

    def load(self, partition: int) -> StoredJoin:
        try:
            raw = cast(dict[bytes, bytes], self._r.hgetall(self.keys.labeljoin_state(partition)))
        except redis.RedisError as exc:
            raise DependencyUnavailableError(f"Redis did not answer: {exc}") from exc
        counts = {name: int(raw.get(f"c:{name}".encode(), 0)) for name in COUNTERS}
        offset = raw.get(b"offset")
        return StoredJoin(
            int(offset) if offset else None, int(raw.get(b"watermark", NO_WATERMARK)), counts
        )

    def lookup(self, partition: int, ids: list[str]) -> list[tuple[Entry | None, bool]]:
        """(pending entry, joined?) of each id as Redis holds it."""
        if not ids:
            return []
        try:
            pipe = self._r.pipeline(transaction=False)
            pipe.hmget(self.keys.labeljoin_pending(partition), ids)
            pipe.hmget(self.keys.labeljoin_joined(partition), ids)
            pending, joined = pipe.execute()
        except redis.RedisError as exc:
            raise DependencyUnavailableError(f"Redis did not answer: {exc}") from exc
        return [
            (_entry(p) if p is not None else None, j is not None)
            for p, j in zip(pending, joined, strict=True)
        ]

    def partials(self, model_id: str, start_ms: int, partitions: Iterable[int]) -> list[Any]:
        return self._get_each(
            [self.keys.quality_partial(model_id, start_ms, p) for p in partitions]
        )

    def bias_partials(self, model_id: str, start_ms: int, partitions: Iterable[int]) -> list[Any]:
        return self._get_each([self.keys.bias_partial(model_id, start_ms, p) for p in partitions])

    def _get_each(self, keys: list[str]) -> list[Any]:
        """GET of each key in one round trip; the keys live in their partitions' slots, so a
        pipeline rather than one MGET (which Redis Cluster refuses across slots)."""
        if not keys:
            return []
        try:
            pipe = self._r.pipeline(transaction=False)
            for key in keys:
                pipe.get(key)
            return list(pipe.execute())
        except redis.RedisError as exc:
            raise DependencyUnavailableError(f"Redis did not answer: {exc}") from exc

    def unevaluated(self, partition: int) -> list[Unevaluated]:
        """The windows flushes of this partition changed and nobody has evaluated since."""
        try:
            found = cast(
                list[tuple[bytes, float]],
                self._r.zrange(self.keys.labeljoin_unevaluated(partition), 0, -1, withscores=True),
            )
        except redis.RedisError as exc:
            raise DependencyUnavailableError(f"Redis did not answer: {exc}") from exc
        return sorted(Unevaluated.of(m.decode(), int(score)) for m, score in found)

    def evaluated(self, partition: int, windows: Iterable[Unevaluated]) -> None:
        """Clears windows from the partition's unevaluated set once their results are out,
        except those a flush changed again after they were read."""
        args: list[str | int] = []
        for w in windows:
            args += [window_member(w.model_id, w.start_ms), w.offset]
        if not args:
            return
        try:
            self._settle(keys=[self.keys.labeljoin_unevaluated(partition)], args=args)
        except redis.RedisError as exc:
            raise DependencyUnavailableError(f"Redis did not answer: {exc}") from exc

    def window_counts(
        self, model_id: str, start_ms: int, partitions: Iterable[int]
    ) -> dict[str, int]:
        total = {"predictions": 0, "joined": 0, "expired": 0}
        try:
            pipe = self._r.pipeline(transaction=False)
            for p in partitions:
                pipe.hgetall(self.keys.labeljoin_window(model_id, start_ms, p))
            for found in pipe.execute():
                for name in total:
                    total[name] += int(found.get(name.encode(), 0))
        except redis.RedisError as exc:
            raise DependencyUnavailableError(f"Redis did not answer: {exc}") from exc
        return total

    def flush(self, partition: int, plan: JoinFlush, now_ms: int) -> None:
        """Write the plan atomically; FencedWriteError when the stored offset moved."""
        k, changes = self.keys, plan.changes
        keys = [
            k.labeljoin_state(partition),
            k.labeljoin_pending(partition),
            k.labeljoin_joined(partition),
            k.labeljoin_deadlines(partition),
            k.labeljoin_unevaluated(partition),
        ]
        for w in plan.windows:
            keys += [
                k.quality_partial(w.model_id, w.start_ms, partition),
                k.labeljoin_window(w.model_id, w.start_ms, partition),
                k.bias_partial(w.model_id, w.start_ms, partition),
            ]
        held = {i: e for i, e in changes.pending.items() if e is not None}
        dropped = [i for i, e in changes.pending.items() if e is None]
        counts = [(n, v) for n, v in changes.counts.items() if v]
        args: list[str | int | bytes] = [
            "" if plan.from_offset is None else str(plan.from_offset),
            plan.next_offset,
            plan.watermark,
            now_ms,
            self.retention_seconds,
            k.labeljoin_window_prefix(partition),
            partition,
            SWEEP_LIMIT,
            len(held),
            len(dropped),
            len(changes.removed_members),
            len(changes.joined),
            len(plan.windows),
            len(counts),
        ]
        for inference_id, entry in held.items():
            args += [inference_id, _entry_blob(entry), entry.member, plan.deadlines[inference_id]]
        args += dropped
        args += changes.removed_members
        for inference_id, deadline in changes.joined.items():
            args += [inference_id, deadline]
        for w in plan.windows:
            args += [w.blob, w.predictions, w.joined, w.bias, window_member(w.model_id, w.start_ms)]
        for name, value in counts:
            args += [name, value]
        try:
            ok, stored = self._script(keys=keys, args=args)
        except redis.RedisError as exc:
            raise DependencyUnavailableError(f"Redis flush failed: {exc}") from exc
        if not ok:
            raise FencedWriteError(
                f"label-join flush of partition {partition} from offset {plan.from_offset} "
                f"refused: Redis holds offset {stored.decode() or 'none'}"
            )


__all__ = [
    "JoinFlush",
    "JoinStore",
    "StoredJoin",
    "Unevaluated",
    "WindowWrite",
    "joined_member",
    "window_member",
]
