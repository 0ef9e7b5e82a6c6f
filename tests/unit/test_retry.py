"""The one backoff (``modelmon.retry``): bounded, growing, jittered; stops with the process."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelmon.errors import DependencyUnavailableError, PermanentError
from modelmon.retry import OUTAGE, Backoff, RetryPolicy, retry_transient


@given(st.integers(1, 200), st.floats(0, 1, exclude_max=True))
def test_every_delay_is_within_half_and_all_of_its_capped_ceiling(retry: int, rand: float) -> None:
    ceiling = min(OUTAGE.max_seconds, OUTAGE.base_seconds * 2.0 ** min(retry - 1, 60))
    assert ceiling / 2 <= OUTAGE.delay(min(retry, 64), rand) <= ceiling


def test_backoff_grows_to_its_cap_and_a_success_resets_it() -> None:
    backoff = Backoff(lambda: 0.0, RetryPolicy(base_seconds=1.0, max_seconds=8.0))
    assert [backoff.failed() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert backoff.succeeded() is True and backoff.succeeded() is False
    assert backoff.failed() == 0.5


def test_retry_transient_retries_until_the_action_goes_through() -> None:
    calls, waits, reasons = [0], [], []

    def flaky() -> str:
        calls[0] += 1
        if calls[0] < 4:
            raise DependencyUnavailableError("Redis did not answer")
        return "done"

    def wait(seconds: float) -> bool:
        waits.append(seconds)
        return False

    assert (
        retry_transient("flush", flaky, wait=wait, rand=lambda: 0.5, blocked=reasons.append)
        == "done"
    )
    assert len(waits) == 3 and waits == sorted(waits)
    assert reasons[:3] == ["cannot flush: Redis did not answer"] * 3 and reasons[-1] is None


def test_when_stopping_it_gives_up_after_a_few_tries_and_never_retries_permanent_errors() -> None:
    def down() -> None:
        raise DependencyUnavailableError("down")

    waits: list[float] = []
    with pytest.raises(DependencyUnavailableError):
        retry_transient("x", down, wait=lambda s: waits.append(s) or True, rand=lambda: 0.0)
    assert len(waits) == 4

    def bad() -> None:
        raise PermanentError("bad input")

    with pytest.raises(PermanentError):
        retry_transient("x", bad, wait=lambda s: False, rand=lambda: 0.0)
