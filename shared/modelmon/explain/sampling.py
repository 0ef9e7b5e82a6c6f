"""Which events are explained (a hash of the event id) and how many requests may be sent (pure).

``sampled`` is deterministic: the same event id and rate give the same answer in every process
and every replay. ``TokenBucket`` is the budget of requests to a model endpoint: ``rate`` tokens
per second up to ``burst``; the caller hands in the time, so the bucket never reads a clock.
In any interval of T seconds it grants at most ``burst + rate * T`` tokens.
"""

from __future__ import annotations

import hashlib

_SCALE = float(2**64)


def sample_point(event_id: str, seed: int = 0) -> float:
    """A uniform number in [0, 1) fixed by ``event_id`` (and ``seed``): BLAKE2b, first 8 bytes."""
    digest = hashlib.blake2b(event_id.encode(), digest_size=8, salt=seed.to_bytes(16, "big"))
    return int.from_bytes(digest.digest(), "big") / _SCALE


def sampled(event_id: str, rate: float, seed: int = 0) -> bool:
    """True for a fraction ``rate`` of event ids (0: none, 1: all)."""
    return rate >= 1.0 or sample_point(event_id, seed) < rate


def event_seed(event_id: str, seed: int = 0) -> int:
    """A 32-bit seed fixed by the event id: Kernel SHAP's coalition sampling for that event."""
    return int(sample_point(event_id, seed) * 2**32)


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` banked; starts full at the first ``now``."""

    def __init__(self, rate: float, burst: float) -> None:
        if rate <= 0 or burst <= 0:
            raise ValueError("a token bucket needs a positive rate and burst")
        self.rate, self.burst = rate, burst
        self._tokens = burst
        self._at: float | None = None
        self.granted = 0

    def _refill(self, now: float) -> None:
        if self._at is not None and now > self._at:
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        if self._at is None or now > self._at:
            self._at = now

    def available(self, now: float) -> float:
        self._refill(now)
        return self._tokens

    def try_take(self, n: float, now: float) -> bool:
        """Take ``n`` tokens if they are all there (all or nothing)."""
        self._refill(now)
        if n > self._tokens:
            return False
        self._tokens -= n
        self.granted += int(n)
        return True

    def wait_time(self, n: float, now: float) -> float:
        """Seconds until ``n`` tokens are there (0: now; ``inf``: never, n > burst)."""
        self._refill(now)
        if n > self.burst:
            return float("inf")
        return max(0.0, (n - self._tokens) / self.rate)
