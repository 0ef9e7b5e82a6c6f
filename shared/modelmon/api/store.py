"""What the API reads from Redis: the registry, the detector's results and series, the window
profiles (merged, or the aggregator's partials), and alerting's state. Read-only apart from
the registry writes, which go through ``modelmon.registry.Registry`` like the CLI's.

Key names come from ``modelmon.keys``; Redis errors become ``DependencyUnavailableError``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import orjson
import redis

from modelmon.alerting.state import KeyState
from modelmon.errors import DependencyUnavailableError
from modelmon.events import WindowResult
from modelmon.keys import Keys, WindowRef
from modelmon.profile import DatasetProfile
from modelmon.registry import Registry
from modelmon.streaming.reader import StateReader
from modelmon.streaming.tiers import DurableResults, endpoint_path, merge_tiers

DAY_MS = 86_400_000
#: The per-window evaluation series the API serves: name -> its ``Keys`` method (the label
#: join writes quality and bias, the detector the attribution series).
SERIES = {
    "quality": "quality_results",
    "bias": "bias_results",
    "attribution": "attribution_results",
}


@contextmanager
def _redis_errors() -> Iterator[None]:
    try:
        yield
    except redis.RedisError as exc:
        raise DependencyUnavailableError(f"Redis did not answer: {exc}") from exc


@dataclass(frozen=True)
class BaselineMeta:
    version: int
    source: str
    changed_at_ms: int


@dataclass(frozen=True)
class Span:
    """A time range in ms (either end open) and a page of it."""

    start_ms: int | None = None
    end_ms: int | None = None
    offset: int = 0
    limit: int = 100

    def bounds(self) -> tuple[int | str, int | str]:
        """zrangebyscore bounds: start inclusive, end exclusive."""
        low = "-inf" if self.start_ms is None else self.start_ms
        high = "+inf" if self.end_ms is None else f"({self.end_ms}"
        return low, high


class MonitorStore:
    """Read models over one deployment's Redis (one key prefix, one capture topic)."""

    def __init__(
        self, client: redis.Redis, keys: Keys, capture_topic: str, partitions: int,
        durable: DurableResults | None = None,
    ) -> None:  # fmt: skip
        self._r = client
        self._keys = keys
        self._durable = durable  # issue 23: results Redis no longer holds (streaming.tiers)
        self.registry = Registry(client, keys)
        self._partials = StateReader(client, keys, capture_topic)
        self._partitions = list(range(partitions))
        # model -> (window start -> violated checks): violations per window, filled
        # incrementally from the newest window seen, so the overview never re-reads a day.
        self._violations: dict[str, dict[int, int]] = {}
        self._lock = threading.Lock()

    def ping(self) -> bool:
        try:
            return bool(self._r.ping())
        except redis.RedisError:
            return False

    # -- results --------------------------------------------------------------------------
    def latest(self, model_id: str) -> WindowResult | None:
        with _redis_errors():
            raw = cast(list[bytes], self._r.zrange(self._keys.results(model_id), -1, -1))
        return WindowResult.model_validate_json(raw[0]) if raw else None

    def results(self, model_id: str, span: Span, rolling: bool = False) -> tuple[list[bytes], int]:
        """A page of stored WindowResult JSON in the span, oldest first, and the span's total."""
        key = self._keys.rolling_results(model_id) if rolling else self._keys.results(model_id)
        cold = self._cold(model_id, key, span, rolling)
        if cold is None:
            return self._page(key, span)
        return _paged(merge_tiers(cold, self._all(key, span)), span)

    def last_results(self, model_id: str, n: int, end_ms: int | None = None) -> list[bytes]:
        """The newest ``n`` results (before ``end_ms``), oldest first."""
        high = "+inf" if end_ms is None else f"({end_ms}"
        with _redis_errors():
            raw = self._r.zrevrangebyscore(self._keys.results(model_id), high, "-inf", 0, n)
        return list(reversed(cast(list[bytes], raw)))

    def feature_series(self, model_id: str, feature: str, span: Span) -> tuple[list[bytes], int]:
        """A page of the feature's metrics JSON (with ``window_start`` ms) in the span."""
        key = self._keys.feature_series(model_id, feature)
        cold = self._cold(model_id, self._keys.results(model_id), span, False)
        if cold is None:
            return self._page(key, span)
        points = [(t, p) for t, raw in cold if (p := feature_point_of(raw, t, feature))]
        return _paged(merge_tiers(points, self._all(key, span)), span)

    def _cold(
        self, model_id: str, key: str, span: Span, rolling: bool
    ) -> list[tuple[int, bytes]] | None:
        """Results of the span older than what Redis still holds, from the durable tier
        (None: the hot tier covers the span, or there is no durable tier; a span without a
        start is the hot tier's)."""
        if self._durable is None or span.start_ms is None:
            return None
        with _redis_errors():
            oldest = cast(list[tuple[bytes, float]], self._r.zrange(key, 0, 0, withscores=True))
            entry = self.registry.get(model_id)
        end = int(oldest[0][1]) if oldest else None
        if span.end_ms is not None:
            end = span.end_ms if end is None else min(end, span.end_ms)
        if entry is None or (end is not None and span.start_ms >= end):
            return None
        upto = end if end is not None else 2**62
        return self._durable.read(endpoint_path(entry.config), span.start_ms, upto, rolling)

    def _all(self, key: str, span: Span) -> list[tuple[int, bytes]]:
        low, high = span.bounds()
        with _redis_errors():
            raw = self._r.zrangebyscore(key, low, high, withscores=True)
        return [(int(score), blob) for blob, score in cast(list[tuple[bytes, float]], raw)]

    def _page(self, key: str, span: Span) -> tuple[list[bytes], int]:
        low, high = span.bounds()
        with _redis_errors(), self._r.pipeline(transaction=False) as pipe:
            pipe.zrangebyscore(key, low, high, start=span.offset, num=span.limit)
            pipe.zcount(key, low, high)
            items, total = pipe.execute()
        return cast(list[bytes], items), int(total)

    def violations_per_window(self, model_id: str, since_ms: int) -> dict[int, int]:
        """Violated checks per window start from ``since_ms`` on (read once, then only the
        windows newer than the newest seen; older entries are dropped)."""
        with self._lock:  # requests run on a thread pool: one reader updates at a time
            seen = self._violations.setdefault(model_id, {})
            low = f"({max(seen)}" if seen else since_ms
            with _redis_errors():
                raw = self._r.zrangebyscore(
                    self._keys.results(model_id), low, "+inf", withscores=True
                )
            for blob, score in cast(list[tuple[bytes, float]], raw):
                checks = orjson.loads(blob).get("checks", [])
                seen[int(score)] = sum(1 for c in checks if c.get("violated"))
            for start in [s for s in seen if s < since_ms]:
                del seen[start]
            return {s: n for s, n in seen.items() if s >= since_ms}

    # -- profiles -------------------------------------------------------------------------
    def window_profile(self, ref: WindowRef) -> DatasetProfile | None:
        """The window's merged profile (kept for rolling views) or its partials merged now;
        None once both have expired."""
        with _redis_errors():
            blob = cast(bytes | None, self._r.get(self._keys.merged(ref)))
        if blob is not None:
            return DatasetProfile.deserialize(blob)
        merged = self._partials.merged(ref, self._partitions)
        return merged.profile if merged.partitions else None

    def baseline_meta(self, model_id: str) -> BaselineMeta | None:
        with _redis_errors():
            raw = cast(
                list[bytes | None],
                self._r.hmget(self._keys.baseline(model_id), ["version", "source", "changed_at"]),
            )
        if raw[0] is None:
            return None
        return BaselineMeta(int(raw[0]), (raw[1] or b"").decode(), int(raw[2] or 0))

    # -- per-window evaluation series (model quality, bias, feature attribution) ----------
    def window_series(self, model_id: str, series: str, span: Span) -> tuple[list[bytes], int]:
        """A page of stored evaluation JSON of one series (``SERIES``) in the span."""
        return self._page(self._series_key(model_id, series), span)

    def latest_window(self, model_id: str, series: str) -> bytes | None:
        """The newest window's evaluation JSON of one series (``SERIES``), if any."""
        with _redis_errors():
            raw = cast(list[bytes], self._r.zrange(self._series_key(model_id, series), -1, -1))
        return raw[0] if raw else None

    def _series_key(self, model_id: str, series: str) -> str:
        if series not in SERIES:
            raise ValueError(f"no window series {series!r} (known: {', '.join(SERIES)})")
        return str(getattr(self._keys, SERIES[series])(model_id))

    # -- alerting -------------------------------------------------------------------------
    def alarm_states(self, model_id: str) -> dict[str, KeyState]:
        with _redis_errors():
            raw = cast(dict[bytes, bytes], self._r.hgetall(self._keys.alert_states(model_id)))
        return {k.decode(): KeyState.model_validate_json(v) for k, v in raw.items()}


def _paged(items: list[tuple[int, bytes]], span: Span) -> tuple[list[bytes], int]:
    return [b for _, b in items[span.offset : span.offset + span.limit]], len(items)


def feature_point_of(result_json: bytes, score: int, feature: str) -> bytes | None:
    """A feature's series point as the detector stores it (``ResultStore.save_result``),
    rebuilt from a whole result (the durable tier keeps results, not series)."""
    metrics = WindowResult.model_validate_json(result_json).features.get(feature)
    if metrics is None:
        return None
    return orjson.dumps({"window_start": score, **metrics.model_dump(mode="json")})


def feature_point(raw: bytes) -> dict[str, Any]:
    """A stored series point as ``{"window_start": UTC time, "metrics": {...}}``."""
    point = orjson.loads(raw)
    start = np.datetime_as_string(np.datetime64(int(point.pop("window_start")), "ms"), unit="ms")
    return {"window_start": f"{start}Z", "metrics": point}


_START = b'{"window_start":'


def feature_points_json(raws: list[bytes]) -> bytes:
    """Stored series points as a JSON array of ``{"window_start": ISO, "metrics": {...}}``,
    spliced from the stored bytes (a week of one-minute windows is 10k points: parsing each
    costs more than the request's Redis round trip). A point not laid out as the detector
    writes it (``{"window_start": ms, ...}``) is parsed instead."""
    starts: list[int] = []
    rests: list[bytes] = []
    for raw in raws:
        comma = raw.find(b",", len(_START))
        if not raw.startswith(_START) or comma < 0 or not raw[len(_START) : comma].isdigit():
            return orjson.dumps([feature_point(r) for r in raws])
        starts.append(int(raw[len(_START) : comma]))
        rests.append(raw[comma + 1 :])
    isos = np.datetime_as_string(np.array(starts, dtype="datetime64[ms]"), unit="ms")
    parts = [
        b'{"window_start":"' + iso.encode() + b'Z","metrics":{' + rest + b"}"
        for iso, rest in zip(isos, rests, strict=True)
    ]
    return b"[" + b",".join(parts) + b"]"
