"""The detector's ready queue and baseline cache (pure, issue 23)."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from modelmon.streaming.baseline_cache import BaselineCache
from modelmon.streaming.ready import (
    MAX_STEPS,
    Cursors,
    ModelMarks,
    candidates,
    in_ranges,
    shard_of,
)
from modelmon.windows import IDLE_WATERMARK, NO_WATERMARK, WindowRef, WindowSpec

specs = st.builds(
    WindowSpec,
    size_ms=st.sampled_from([1000, 10_000, 60_000, 3_600_000]),
    lateness_ms=st.integers(0, 120_000),
    idle_timeout_ms=st.just(1000),
)


def _brute(spec: WindowSpec, low: int, high: int) -> list[int]:
    first = (low - spec.size_ms - spec.lateness_ms) // spec.size_ms * spec.size_ms
    starts = range(first, high + spec.size_ms, spec.size_ms)
    return [s for s in starts if low < spec.close_of(s) <= high]


@given(spec=specs, low=st.integers(-(10**12), 10**12), width=st.integers(0, 10**8))
def test_candidates_are_exactly_the_windows_closing_in_the_range(
    spec: WindowSpec, low: int, width: int
) -> None:
    high = low + width
    if width // spec.size_ms > MAX_STEPS + 2:
        assert candidates("m", spec, low, high) is None
        return
    expected = _brute(spec, low, high)
    got = candidates("m", spec, low, high)
    if len(expected) > MAX_STEPS:
        assert got is None
    else:
        assert got is not None and [r.start_ms for r in got] == expected
        assert all(r.size_ms == spec.size_ms and r.model_id == "m" for r in got)


@given(
    spec=specs,
    start=st.integers(0, 10**12),
    moves=st.lists(
        st.tuples(st.integers(0, 5 * 60_000), st.booleans(), st.integers(0, 10**6)),
        min_size=1, max_size=40,
    ),
)  # fmt: skip
def test_any_sequence_of_watermark_moves_hands_each_window_out_once(
    spec: WindowSpec, start: int, moves: list[tuple[int, bool, int]]
) -> None:
    """Watermark moves, idle spells (the wall clock completes windows) and passes where
    nothing moved: every window closing up to the last completion point, each once."""
    cursors = Cursors({"m": start})
    w, now, handed = start, start, Counter[int]()
    complete_to = start
    span_ms = spec.size_ms + spec.lateness_ms
    for step, idle, tick in moves:
        w, now = w + step, max(now, w + step) + tick
        marks = ModelMarks(IDLE_WATERMARK if idle else w, w, w)
        span = cursors.look_range("m", marks, span_ms, now)
        if span is None:
            continue
        found = candidates("m", spec, *span)
        if found is None:  # a long jump: the index read over the range finds the same
            found = [WindowRef("m", spec.size_ms, s) for s in _brute(spec, *span)]
        fresh = cursors.fresh({r: spec.close_of(r.start_ms) for r in found})
        handed.update(r.start_ms for r in fresh)
        cursors.looked("m", marks, span[1])
        complete_to = max(complete_to, span[1])
    assert set(handed.values()) <= {1}
    assert sorted(handed) == _brute(spec, start, complete_to)


def test_the_wall_clock_and_the_last_window_cap_an_idle_look() -> None:
    cursors = Cursors({"m": 100})
    marks = ModelMarks(IDLE_WATERMARK, 150, 150)
    assert cursors.look_range("m", marks, 20, now_ms=160) == (100, 160)
    assert cursors.look_range("m", marks, 20, now_ms=500) == (100, 170)
    cursors.looked("m", marks, 170)
    assert cursors.of("m") == 150  # windows closing after the watermark may still appear
    assert cursors.look_range("m", marks, 20, now_ms=900) is None  # nothing moved
    moved = ModelMarks(IDLE_WATERMARK, 160, 160)
    assert cursors.look_range("m", moved, 20, now_ms=900) == (150, 180)
    assert Cursors().look_range("m", marks, 20, 160) == (NO_WATERMARK, 160)


def test_the_stored_cursor_stays_below_unfinished_windows() -> None:
    cursors = Cursors({"a": 1000, "b": 1000})
    cursors.pending[WindowRef("a", 100, 600)] = 700
    cursors.pending[WindowRef("a", 100, 700)] = 800
    assert cursors.stored() == {"a": 699, "b": 1000}


def test_index_entries_are_kept_only_within_their_models_range() -> None:
    found = {WindowRef("a", 10, 0): 10, WindowRef("a", 10, 10): 20, WindowRef("b", 10, 0): 10}
    assert in_ranges(found, {"a": (10, 20)}) == {WindowRef("a", 10, 10): 20}


@given(st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=50), st.integers(1, 9))
def test_shards_are_stable_and_in_range(models: list[str], shards: int) -> None:
    for m in models:
        assert 0 <= shard_of(m, shards) == shard_of(m, shards) < shards


def test_a_thousand_models_spread_over_shards() -> None:
    counts = Counter(shard_of(f"model-{i:04d}", 4) for i in range(1000))
    assert sorted(counts) == [0, 1, 2, 3] and min(counts.values()) > 200


@given(sizes=st.lists(st.integers(1, 400), min_size=1, max_size=60), cap=st.integers(100, 1000))
def test_the_baseline_cache_never_holds_more_than_its_bytes(sizes: list[int], cap: int) -> None:
    cache: BaselineCache[str] = BaselineCache(cap)
    loads = Counter[str]()

    def loader(model: str, size: int) -> tuple[str, int, int]:
        loads[model] += 1
        return model.upper(), size, 1

    for i, size in enumerate(sizes):
        model = f"m{i % 7}"
        assert cache.get(model, lambda m=model, s=size: loader(m, s)) == model.upper()
        assert cache.bytes <= cap
        assert cache.bytes == sum(e.size for e in cache._entries.values())
    kept = [m for m in cache.cached()]
    before = sum(loads.values())
    for m in kept:  # what is cached is served without loading
        cache.get(m, lambda m=m: loader(m, 1))
    assert sum(loads.values()) == before


def test_a_changed_baseline_drops_only_its_model() -> None:
    cache: BaselineCache[str] = BaselineCache(10_000)
    for m in ("a", "b", "c"):
        cache.get(m, lambda m=m: (m, 100, 1))
    assert cache.invalidate_changed({"a": 1, "b": 2, "c": 1}) == ["b"]
    assert cache.cached() == ["a", "c"] and cache.bytes == 200
    reloaded: list[str] = []
    cache.get("b", lambda: (reloaded.append("b") or "b2", 100, 2))  # type: ignore[func-returns-value]
    cache.get("a", lambda: (reloaded.append("a") or "a2", 100, 1))  # type: ignore[func-returns-value]
    assert reloaded == ["b"]


def test_the_least_recently_used_baseline_goes_first() -> None:
    cache: BaselineCache[str] = BaselineCache(300)
    for m in ("a", "b", "c"):
        cache.get(m, lambda m=m: (m, 100, 1))
    cache.get("a", lambda: ("x", 100, 1))  # a hit: a is now the most recent
    cache.get("d", lambda: ("d", 100, 1))
    assert cache.cached() == ["c", "a", "d"] and cache.evictions == 1
    cache.get("huge", lambda: ("h", 301, 1))  # larger than the cache: used, not kept
    assert "huge" not in cache.cached() and cache.bytes == 300
