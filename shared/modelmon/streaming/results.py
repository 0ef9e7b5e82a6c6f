"""The detector's Redis state: claims, done markers, merged profiles and result time series.

Each window is evaluated exactly once across detectors: a detector claims it with ``SET NX``
and an expiry (a crashed claimant's claim lapses), checks the done marker, and sets the done
marker only after its results and alert events are durable. A crash in between means one
re-evaluation with the same deterministic event ids, never a lost window.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import orjson
import redis

from modelmon.events import WindowResult
from modelmon.keys import Keys, WindowRef
from modelmon.profile import DatasetProfile


def save_window_doc(client: Any, key: str, start_ms: int, doc: Mapping[str, Any]) -> None:
    """One window's evaluation document into a series (a sorted set scored by window start),
    replacing the window's earlier one in one transaction: the label join's quality and bias
    series, the detector's attribution series."""
    body = json.dumps(doc, separators=(",", ":"), allow_nan=False)
    pipe = client.pipeline(transaction=True)
    pipe.zremrangebyscore(key, start_ms, start_ms)
    pipe.zadd(key, {body: start_ms})
    pipe.execute()


_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True, slots=True)
class WindowFailure:
    """A window the detector could not evaluate: why, how often, and when to try again."""

    window: WindowRef
    reason: str
    attempts: int
    failed_at_ms: int
    retry_at_ms: int

    def to_json(self) -> bytes:
        return orjson.dumps(
            {"window": self.window.member(), "reason": self.reason,
             "attempts": self.attempts, "failed_at_ms": self.failed_at_ms,
             "retry_at_ms": self.retry_at_ms}
        )  # fmt: skip

    @classmethod
    def from_json(cls, raw: bytes) -> WindowFailure:
        doc = orjson.loads(raw)
        return cls(
            WindowRef.from_member(doc["window"]), str(doc["reason"]),
            int(doc["attempts"]), int(doc["failed_at_ms"]), int(doc["retry_at_ms"]),
        )  # fmt: skip


class ResultStore:
    def __init__(self, client: redis.Redis, keys: Keys, owner: str, topic: str = "") -> None:
        self._r = client
        self._keys = keys
        self.owner = owner
        self.topic = topic  # the capture topic: names the detector's cursors and retry queue
        self._release = client.register_script(_RELEASE)

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Errors are translated by the client (``adapters.redis``)."""
        return fn(*args, **kwargs)

    def _get_each(self, keys: list[str]) -> list[Any]:
        """GET of each key in one round trip: the keys spread by model over Redis Cluster's
        slots, so a pipeline rather than one MGET (refused across slots)."""
        if not keys:
            return []
        pipe = self._r.pipeline(transaction=False)
        for key in keys:
            pipe.get(key)
        return cast(list[Any], self._call(pipe.execute))

    def done(self, windows: Iterable[WindowRef]) -> set[WindowRef]:
        refs = list(windows)
        pipe = self._r.pipeline(transaction=False)
        for ref in refs:
            pipe.exists(self._keys.done(ref))
        flags = self._call(pipe.execute)
        return {ref for ref, flag in zip(refs, flags, strict=True) if flag}

    def claim(self, ref: WindowRef, ttl_seconds: int) -> bool:
        """True if this detector now holds the window (and nobody finished it meanwhile)."""
        got = self._call(self._r.set, self._keys.claim(ref), self.owner, nx=True, ex=ttl_seconds)
        if not got:
            return False
        if self._call(self._r.exists, self._keys.done(ref)):
            self.release(ref)
            return False
        return True

    def release(self, ref: WindowRef) -> None:
        self._call(self._release, keys=[self._keys.claim(ref)], args=[self.owner])

    def finish(self, ref: WindowRef, evaluated_at_ms: int, ttl_seconds: int) -> None:
        pipe = self._r.pipeline(transaction=True)  # the model's keys: one slot
        pipe.set(self._keys.done(ref), evaluated_at_ms, ex=ttl_seconds)
        pipe.delete(self._keys.failed(ref))
        self._call(pipe.execute)
        # The retry queue spans models (another slot): after the done marker, so a crash in
        # between leaves at most a stale entry, which ``due_retries`` drops.
        self._call(self._r.zrem, self._keys.detector_retries(self.topic), ref.member())
        self.release(ref)

    def record_failure(self, failure: WindowFailure, ttl_seconds: int) -> None:
        """Remember (durably) that the window failed, until it is evaluated or expires."""
        # Two slots (the queue spans models): the queue entry first, so a crash in between
        # leaves a retry without its record (evaluated again: fine), never a record that is
        # never retried.
        retries = self._keys.detector_retries(self.topic)
        self._call(self._r.zadd, retries, {failure.window.member(): failure.retry_at_ms})
        self._call(
            self._r.set, self._keys.failed(failure.window), failure.to_json(), ex=ttl_seconds
        )

    def due_retries(self, now_ms: int, limit: int = 1000) -> list[WindowRef]:
        """Failed windows whose retry time has come (the retry queue: no scan)."""
        key = self._keys.detector_retries(self.topic)
        raw = cast(list[bytes], self._call(self._r.zrangebyscore, key, "-inf", now_ms, 0, limit))
        refs = [WindowRef.from_member(m) for m in raw]
        finished = self.done(refs)  # a crash between ``finish``'s two steps: drop the entry
        if finished:
            self._call(self._r.zrem, key, *(ref.member() for ref in finished))
        return [ref for ref in refs if ref not in finished]

    def drop_retry(self, ref: WindowRef) -> None:
        """Forget a queued retry (its window is gone, or it is not this deployment's)."""
        self._call(self._r.zrem, self._keys.detector_retries(self.topic), ref.member())

    def cursors(self) -> dict[str, int]:
        """Each model's stored detector cursor (``Keys.detector_cursors``)."""
        raw = cast(
            dict[bytes, bytes], self._call(self._r.hgetall, self._keys.detector_cursors(self.topic))
        )
        return {k.decode(): int(v) for k, v in raw.items()}

    def save_cursors(self, cursors: Mapping[str, int]) -> None:
        if cursors:
            key = self._keys.detector_cursors(self.topic)
            self._call(self._r.hset, key, mapping=dict(cursors))

    def failures(self, windows: Iterable[WindowRef]) -> dict[WindowRef, WindowFailure]:
        """The recorded failures among ``windows``."""
        refs = list(windows)
        if not refs:
            return {}
        raw = self._get_each([self._keys.failed(r) for r in refs])
        return {r: WindowFailure.from_json(b) for r, b in zip(refs, raw, strict=True) if b}

    def save_merged(self, ref: WindowRef, profile: DatasetProfile, ttl_seconds: int) -> None:
        self._call(self._r.set, self._keys.merged(ref), profile.serialize(), ex=ttl_seconds)

    def merged_profiles(self, refs: list[WindowRef]) -> list[DatasetProfile]:
        blobs = self._get_each([self._keys.merged(r) for r in refs])
        return [DatasetProfile.deserialize(b) for b in blobs if b is not None]

    def save_result(self, result: WindowResult, rolling: bool, retention_ms: int) -> None:
        """Replace the entry at this window start (idempotent), per model and per feature;
        entries older than ``retention_ms`` before it are trimmed, and the keys expire
        ``retention_ms`` after the last write (the hot tier's retention, issue 23)."""
        score = int(result.window_end.timestamp() * 1000) if rolling else _start(result)
        key = (
            self._keys.rolling_results(result.model_id)
            if rolling
            else self._keys.results(result.model_id)
        )
        pipe = self._r.pipeline(transaction=True)
        pipe.zremrangebyscore(key, score, score)
        pipe.zadd(key, {result.model_dump_json(): score})
        pipe.zremrangebyscore(key, "-inf", f"({score - retention_ms}")
        pipe.pexpire(key, retention_ms)  # a model that stops: its hot results go too
        if not rolling:
            for name, metrics in result.features.items():
                series = self._keys.feature_series(result.model_id, name)
                point = {"window_start": score, **metrics.model_dump(mode="json")}
                pipe.zremrangebyscore(series, score, score)
                pipe.zadd(series, {orjson.dumps(point): score})
                pipe.zremrangebyscore(series, "-inf", f"({score - retention_ms}")
                pipe.pexpire(series, retention_ms)
        self._call(pipe.execute)

    def scored(
        self, model_id: str, start_ms: int, end_ms: int, rolling: bool = False
    ) -> list[tuple[int, bytes]]:
        """(score, WindowResult JSON) of the hot tier with ``start_ms <= score < end_ms``."""
        key = self._keys.rolling_results(model_id) if rolling else self._keys.results(model_id)
        raw = self._call(self._r.zrangebyscore, key, start_ms, f"({end_ms}", withscores=True)
        return [(int(s), b) for b, s in cast(list[tuple[bytes, float]], raw)]

    def results(self, model_id: str, rolling: bool = False) -> list[WindowResult]:
        key = self._keys.rolling_results(model_id) if rolling else self._keys.results(model_id)
        raw = cast(list[bytes], self._call(self._r.zrange, key, 0, -1))
        return [WindowResult.model_validate_json(r) for r in raw]


def _start(result: WindowResult) -> int:
    return int(result.window_start.timestamp() * 1000)
