"""Delivery retries on the one backoff (``modelmon.retry.RetryPolicy``); sleep and randomness
are handed in.

``RetryableDeliveryError`` (timeouts, 5xx, throttling, connection refused) is retried;
``RejectedDeliveryError`` (a 4xx, a missing secret, a topic that does not exist) is not: no
retry would change the answer. After the last attempt the caller dead-letters the delivery.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

from modelmon.errors import PermanentError, TransientError
from modelmon.retry import RetryPolicy

__all__ = ["Attempts", "RejectedDeliveryError", "RetryPolicy", "RetryableDeliveryError"]

T = TypeVar("T")


class RetryableDeliveryError(TransientError):
    """A route failed in a way that may pass: try again after a backoff.

    ``retry_after``: seconds the route asked us to wait (HTTP ``Retry-After``), if it said.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RejectedDeliveryError(PermanentError):
    """A route refused the delivery for good: dead-letter it without retrying."""


@dataclass(frozen=True)
class Attempts:
    """How a delivery ended: ``delivered``, ``failed`` (``error`` says why) or ``interrupted``

    (the process is stopping: leave the delivery pending, do not dead-letter it).
    """

    outcome: Literal["delivered", "failed", "interrupted"]
    attempts: int
    error: Exception | None = None


def run_with_retries(
    send: Callable[[], None],
    policy: RetryPolicy,
    sleep: Callable[[float], None],
    rand: Callable[[], float],
    on_retry: Callable[[int, Exception], None] = lambda _n, _e: None,
    should_stop: Callable[[], bool] = lambda: False,
) -> Attempts:
    """Call ``send`` until it returns, is rejected, or runs out of attempts."""
    for attempt in range(1, policy.attempts + 1):
        try:
            send()
            return Attempts("delivered", attempt)
        except RejectedDeliveryError as exc:
            return Attempts("failed", attempt, exc)
        except RetryableDeliveryError as exc:
            if attempt == policy.attempts:
                return Attempts("failed", attempt, exc)
            if should_stop():
                return Attempts("interrupted", attempt, exc)
            on_retry(attempt, exc)
            asked = min(exc.retry_after or 0.0, policy.max_seconds)
            sleep(max(policy.delay(attempt, rand()), asked))
    raise AssertionError("unreachable: policy.attempts must be >= 1")
