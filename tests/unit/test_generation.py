"""The Redis-loss guard (issue 19, class 4), driven by a fake read function."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from modelmon.errors import DependencyUnavailableError
from modelmon.generation import GenerationGuard


def _guard(values: list[bytes | Exception | None]) -> GenerationGuard:
    it = iter(values)

    def read() -> bytes | None:
        value = next(it)
        if isinstance(value, Exception):
            raise value
        return value

    return GenerationGuard(read)


def test_a_vanished_generation_is_lost_for_good() -> None:
    guard = _guard([b"g1", b"g1", None, b"g1"])
    assert guard.intact() and guard.intact()
    assert not guard.intact()
    assert not guard.intact()  # sticky: even if a new one appears, a restart decides
    assert guard.lost is not None and "now gone" in guard.lost


def test_no_generation_yet_then_one_is_not_a_loss() -> None:
    guard = _guard([None, None, b"g1", b"g1", b"g2"])
    assert all(guard.intact() for _ in range(4))
    assert not guard.intact() and "now g2" in (guard.lost or "")


def test_redis_down_is_not_a_loss() -> None:
    guard = _guard([b"g1", DependencyUnavailableError("down"), b"g1"])
    assert guard.intact() and guard.intact() and guard.intact()


@given(st.lists(st.sampled_from([b"a", b"b", None]), min_size=1, max_size=20))
def test_lost_exactly_when_a_seen_generation_changes(reads: list[bytes | None]) -> None:
    guard = _guard(list(reads))
    got = [guard.intact() for _ in reads]
    first = next((i for i, r in enumerate(reads) if r is not None), None)
    change = None
    if first is not None:
        change = next((i for i in range(first + 1, len(reads)) if reads[i] != reads[first]), None)
    expected = [change is None or i < change for i in range(len(reads))]
    assert got == expected
