"""Rate-limited warnings: a repeated warning is logged at most ``burst`` times per ``period``
per key; the rest are counted and reported in one line when the period ends (pure: the caller
passes the time)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field


@dataclass
class _Bucket:
    start: float
    logged: int = 0
    suppressed: int = 0


@dataclass
class RateLimitedLog:
    """``warn(key, now, msg, *args)``: log unless this key already logged ``burst`` times in
    the current ``period`` seconds; suppressed lines are summarised once the period is over."""

    logger: logging.Logger
    burst: int = 10
    period: float = 60.0
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def warn(self, key: str, now: float, msg: str, *args: object) -> bool:
        """True when the line was logged, False when it was counted instead."""
        bucket = self._buckets.get(key)
        if bucket is None or now - bucket.start >= self.period:
            if bucket is not None and bucket.suppressed:
                self.logger.warning(
                    "%d more warnings like %r suppressed in the last %.0fs",
                    bucket.suppressed, key, now - bucket.start,
                )  # fmt: skip
            bucket = self._buckets[key] = _Bucket(now)
        if bucket.logged < self.burst:
            bucket.logged += 1
            self.logger.warning(msg, *args)
            return True
        bucket.suppressed += 1
        return False
