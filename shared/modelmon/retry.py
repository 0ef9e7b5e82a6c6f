"""The one backoff: capped exponential delays with equal jitter, and the loops that use it.

``RetryPolicy.delay`` is the schedule (pure; the randomness is handed in). ``Backoff`` counts a
dependency's consecutive failures for a service loop; ``retry_transient`` runs one action
until it stops raising ``TransientError``. The alerting router's per-delivery retries
(``modelmon.alerting.retry``) use the same policy.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from modelmon.errors import TransientError

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` tries in all; delay before retry n (1-based) is equal-jitter backoff."""

    attempts: int = 5
    base_seconds: float = 0.5
    factor: float = 2.0
    max_seconds: float = 30.0

    def delay(self, retry: int, rand: float) -> float:
        """Seconds to wait before retry ``retry`` (1, 2, ...); ``rand`` is uniform in [0, 1)."""
        ceiling = min(self.max_seconds, self.base_seconds * self.factor ** (retry - 1))
        return ceiling / 2 + rand * ceiling / 2


#: A dependency outage (Redis, Kafka, S3): 0.25-0.5 s first, doubling, at most 30 s, no end.
OUTAGE = RetryPolicy(attempts=2**31, base_seconds=0.5, max_seconds=30.0)


@dataclass
class Backoff:
    """Consecutive failures of a loop's dependency, and the delay before the next try."""

    rand: Callable[[], float]
    policy: RetryPolicy = OUTAGE
    failures: int = field(default=0, init=False)

    def failed(self) -> float:
        """Count a failure; returns the seconds to wait before trying again."""
        self.failures += 1
        return self.policy.delay(min(self.failures, 64), self.rand())

    def succeeded(self) -> bool:
        """Count a success; True if it ends a run of failures."""
        recovered, self.failures = self.failures > 0, 0
        return recovered


def retry_transient(
    what: str,
    action: Callable[[], T],
    *,
    wait: Callable[[float], bool],
    rand: Callable[[], float],
    blocked: Callable[[str | None], None] = lambda _reason: None,
    policy: RetryPolicy = OUTAGE,
    attempts_when_stopping: int = 3,
) -> T:
    """Run ``action`` until it does not raise ``TransientError``.

    ``wait(seconds)`` sleeps and returns True when the process is stopping (a stop flag's
    ``wait``); once stopping, the error is re-raised after ``attempts_when_stopping`` tries.
    ``blocked`` hears the reason while failing and None once the action went through.
    """
    backoff = Backoff(rand, policy)
    while True:
        try:
            result = action()
        except TransientError as exc:
            delay = backoff.failed()
            blocked(f"cannot {what}: {exc}")
            log.warning(
                "cannot %s (attempt %d), retrying in %.1fs: %s", what, backoff.failures, delay, exc
            )
            if wait(delay) and backoff.failures > attempts_when_stopping:
                raise
            continue
        if backoff.succeeded():
            blocked(None)
        return result
