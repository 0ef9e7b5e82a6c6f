"""Identical input gives identical results: profile bytes, distances and verdicts, in any process,
and merge order does not change them."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from typing import Any

import numpy as np
import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from modelmon.drift import available_methods, get_method
from modelmon.profile import DatasetProfile, ProfileTracker
from modelmon.profile.kll import Kll
from modelmon.readers.stats import columns_from_rows
from modelmon.streaming.decode import TypedDecoder, decode_batch

KINDS: Any = {"x": "numeric", "c": "categorical"}


def build(seed: int, n: int, batch: int, categories: int) -> DatasetProfile:
    rng = np.random.default_rng(seed)
    tracker = ProfileTracker(KINDS)
    for start in range(0, n, batch):
        m = min(batch, n - start)
        tracker.update(
            {
                "x": rng.lognormal(0, 1, m),
                "c": [f"k{v}" for v in rng.zipf(1.3, m) % categories],
            }
        )
    return tracker.snapshot()


@settings(max_examples=10, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 30_000),
    batch=st.sampled_from([1_000, 4_096, 10_000]),
    categories=st.sampled_from([5, 5_000]),
)
def test_same_input_twice_gives_identical_bytes_and_distances(
    seed: int, n: int, batch: int, categories: int
) -> None:
    a, b = build(seed, n, batch, categories), build(seed, n, batch, categories)
    assert a.serialize() == b.serialize()
    base = build(seed + 1, 20_000, 5_000, categories)
    for name in ("x", "c"):
        fb, fa, fb2 = base.features[name], a.features[name], b.features[name]
        for method in available_methods(fa.kind):
            ra, rb = get_method(method)(fb, fa), get_method(method)(fb, fb2)
            assert repr(ra.value) == repr(rb.value)
            assert ra.error_bound == rb.error_bound


@settings(max_examples=10, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1), sizes=st.lists(st.integers(0, 12_000), min_size=2, max_size=2)
)
def test_merge_is_commutative_bit_for_bit(seed: int, sizes: list[int]) -> None:
    a = build(seed, sizes[0], 3_000, 4_000)
    b = build(seed + 7, sizes[1], 3_000, 4_000)
    assert a.merge(b).serialize() == b.merge(a).serialize()


def test_kll_merge_is_symmetric_and_copy_is_independent() -> None:
    rng = np.random.default_rng(5)
    a, b = Kll(64), Kll(64)
    a.update(rng.normal(size=5_000))
    b.update(rng.normal(size=3_000))
    ab, ba = a.copy(), b.copy()
    ab.merge(b)
    ba.merge(a)
    assert ab.serialize() == ba.serialize()
    assert a.n == 5_000 and b.n == 3_000
    assert Kll.deserialize(ab.serialize()).serialize() == ab.serialize()


_CHILD = """
import hashlib, sys
sys.path[:0] = {path!r}
from tests.unit.test_determinism import build
print(hashlib.sha256(build(11, 60_000, 7_000, 9_000).serialize()).hexdigest())
"""


def test_identical_bytes_across_processes_and_hash_seeds() -> None:
    """Python's str hashing is salted per process: nothing in a profile may depend on it."""
    digests = set()
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        code = _CHILD.format(path=[root, *sys.path])
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        digests.add(out.stdout.strip())
    here = hashlib.sha256(build(11, 60_000, 7_000, 9_000).serialize()).hexdigest()
    assert digests == {here}


def _events(seed: int, n: int) -> list[bytes]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        x: Any = float(rng.lognormal()) if i % 3 else int(rng.integers(0, 100))
        if i % 17 == 0:
            x = None
        label = f"{int(rng.zipf(1.5)) % 5000}_{i % 3}"  # labels like "5_0" stay categories
        out.append(
            orjson.dumps(
                {"model_id": "m", "event_time": "2026-01-01T00:00:00Z",
                 "inputs": {"x": x, "c": label}}
            )
        )  # fmt: skip
    return out


@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), batch=st.sampled_from([2_000, 5_000]))
def test_streaming_replay_equals_the_batch_run_bit_for_bit(seed: int, batch: int) -> None:
    """The same events through the typed decoder, the generic decoder and the batch reader's
    row-to-column path, in the same batches, give identical profile bytes."""
    messages = _events(seed, 12_000)
    kinds: Any = {"x": "numeric", "c": "categorical"}
    typed, generic, rows = ProfileTracker(kinds), ProfileTracker(kinds), ProfileTracker(kinds)
    decoder = TypedDecoder("m", kinds)
    for start in range(0, len(messages), batch):
        chunk = messages[start : start + batch]
        decoded = decoder.decode(chunk)
        assert decoded is not None
        everything = np.arange(len(decoded), dtype=np.int64)
        typed.update(decoded.columns_at(everything, kinds))
        plain, rejected = decode_batch(chunk)
        assert not rejected
        generic.update(plain.columns_at(everything, kinds))
        rows.update(columns_from_rows([orjson.loads(m)["inputs"] for m in chunk]))
    blob = typed.snapshot().serialize()
    assert generic.snapshot().serialize() == blob
    assert rows.snapshot().serialize() == blob


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), shift=st.sampled_from([0.0, 0.05, 0.3]))
def test_merge_order_does_not_change_a_verdict(seed: int, shift: float) -> None:
    """Three partial profiles merged in every order: distances stay within their bound of each
    other, and the verdict is the same whenever the value is farther than the bound from the
    threshold (bit-identical for two operands: see the commutativity test)."""
    rng = np.random.default_rng(seed)
    base = ProfileTracker(KINDS)
    base.update({"x": rng.normal(0, 1, 30_000), "c": rng.choice(list("abcd"), 30_000).tolist()})
    baseline = base.snapshot()
    parts = []
    for _ in range(3):
        t = ProfileTracker(KINDS)
        t.update({"x": rng.normal(shift, 1, 8_000), "c": rng.choice(list("abcde"), 8_000).tolist()})
        parts.append(t.snapshot())
    orders = [(0, 1, 2), (2, 1, 0), (1, 0, 2)]
    merged = [parts[a].merge(parts[b]).merge(parts[c]) for a, b, c in orders]
    for name in ("x", "c"):
        for method_name in available_methods(baseline.features[name].kind):
            method = get_method(method_name)
            results = [method(baseline.features[name], m.features[name]) for m in merged]
            bound = max(r.error_bound or 0.0 for r in results)
            values = [r.value for r in results]
            assert max(values) - min(values) <= 2 * bound + 1e-12, (method_name, values)
            far = all(abs(v - method.default_threshold) > bound for v in values)
            if far:
                assert len({method.drifted(v) for v in values}) == 1
