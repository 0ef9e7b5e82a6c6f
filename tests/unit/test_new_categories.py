"""new_category_rate at any number of categories: within its stated bound of the exact share."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelmon.drift import get_method
from modelmon.errors import CorruptBlobError
from modelmon.profile import CategoricalProfile, ProfileTracker
from modelmon.profile.category_sample import SAMPLE_SIZE, CategorySample, hash_texts


def profile(values: np.ndarray, batch: int = 10_000) -> CategoricalProfile:
    tracker = ProfileTracker({"c": "categorical"})
    for start in range(0, len(values), batch):
        tracker.update({"c": values[start : start + batch]})
    feature = tracker.snapshot().features["c"]
    assert isinstance(feature, CategoricalProfile)
    return feature


def long_tail(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    weights = 1 / np.arange(1, k + 1) ** 1.1
    return rng.choice(k, n, p=weights / weights.sum()).astype(str).astype(object)


@settings(max_examples=6, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    categories=st.sampled_from([20_000, 60_000]),
    new_share=st.sampled_from([0.0, 0.01, 0.05, 0.15]),
)
def test_long_tail_new_category_rate_within_its_bound(
    seed: int, categories: int, new_share: float
) -> None:
    rng = np.random.default_rng(seed)
    base = long_tail(rng, 200_000, categories)
    cur = long_tail(rng, 60_000, categories)
    n_new = int(new_share * len(cur))
    cur[:n_new] = [f"new-{i}" for i in rng.integers(0, 10 * n_new + 1, n_new)]  # spread thinly
    seen = set(base.tolist())
    exact = float(np.mean([v not in seen for v in cur.tolist()]))
    result = get_method("new_category_rate")(profile(base), profile(cur))
    assert result.error_bound is not None
    assert abs(result.value - exact) <= result.error_bound
    assert result.error_bound < 0.02  # a usable bound, not a shrug
    excess = get_method("new_category_excess")(profile(base), profile(cur))
    if new_share == 0:
        assert excess.value < 0.02  # an unchanged tail is not new
    if new_share >= 0.05:
        assert excess.value > 0.02


def test_exact_while_few_categories_and_one_heavy_new_category() -> None:
    rng = np.random.default_rng(1)
    base = rng.choice(list("abcdef"), 10_000).astype(object)
    cur = rng.choice(list("abcdefz"), 5_000).astype(object)
    exact = float(np.mean(cur == "z"))
    result = get_method("new_category_rate")(profile(base), profile(cur))
    assert result.value == pytest.approx(exact) and result.error_bound == 0
    assert result.details["examples"] == ["z"]


@settings(max_examples=20, deadline=None)
@given(st.lists(st.text(max_size=12), min_size=0, max_size=300), st.integers(0, 2**32 - 1))
def test_sample_is_exact_below_its_threshold_and_merge_symmetric(
    keys: list[str], seed: int
) -> None:
    rng = np.random.default_rng(seed)
    clean = [k.replace("\x00", "") for k in keys]
    counts = rng.integers(1, 5, len(clean)).astype(np.int64)
    half = len(clean) // 2
    a = CategorySample.empty().add(np.array(clean[:half], dtype=str), counts[:half])
    b = CategorySample.empty().add(np.array(clean[half:], dtype=str), counts[half:])
    ab, ba = a.merge(b), b.merge(a)
    assert ab.to_body() == ba.to_body()
    truth: dict[str, int] = {}
    for k, c in zip(clean, counts.tolist(), strict=True):
        truth[k] = truth.get(k, 0) + c
    got = dict(zip(ab.keys.tolist(), ab.counts.tolist(), strict=True))
    assert got == truth  # fewer than SAMPLE_SIZE categories: the whole set
    assert CategorySample.from_body(ab.to_body()).to_body() == ab.to_body()


def test_sample_keeps_the_smallest_hashes_with_exact_counts() -> None:
    keys = np.array([f"k{i}" for i in range(3 * SAMPLE_SIZE)], dtype=str)
    sample = CategorySample.empty()
    for part in np.array_split(np.arange(len(keys)), 7):
        sample = sample.add(keys[part], np.ones(len(part), dtype=np.int64))
    hashes = hash_texts(keys)
    below = keys[hashes < np.uint64(sample.threshold)]
    assert sorted(sample.keys.tolist()) == sorted(below.tolist())
    assert len(sample) == SAMPLE_SIZE and (sample.counts == 1).all()


def test_hash_ignores_array_padding() -> None:
    narrow, wide = hash_texts(np.array(["abc"])), hash_texts(np.array(["abc", "x" * 40]))
    assert narrow[0] == wide[0]


def test_corrupt_sample_in_a_blob_is_a_corrupt_blob() -> None:
    p = profile(np.array(["a", "b", "a"], dtype=object))
    good = p.to_body()  # format 3: [counts, frequent, hll, sample]
    good2 = {"counts": [0, 0, 3], "types": [0, 0], "frequent": good[1], "hll": good[2]}
    for bad in ([1, ["a"], [1, 2]], [0, ["a"], [0]], "x", [2**64, [], []]):
        with pytest.raises(CorruptBlobError, match="category sample"):
            CategoricalProfile.from_body([*good[:3], bad])
        with pytest.raises(CorruptBlobError, match="category sample"):
            CategoricalProfile.from_body({**good2, "sample": bad})  # format 2


def test_categorical_values_check_on_a_large_domain_estimates_the_untracked_values() -> None:
    """20k categories (more than the sketch tracks), all in the domain but 3% of values: the
    in-domain share reads about 0.97, not the tracked categories' share alone."""
    from modelmon.checks.evaluate import categorical_values_check

    rng = np.random.default_rng(4)
    values = long_tail(rng, 100_000, 20_000)
    outside = rng.random(len(values)) < 0.03
    values[outside] = [f"x-{i}" for i in rng.integers(0, 50_000, int(outside.sum()))]
    p = profile(values)
    assert not p.is_exact
    domain = frozenset(str(i) for i in range(20_000))
    exact = 1 - float(outside.mean())
    outcome = categorical_values_check("c", p, domain, 0.95)
    assert outcome is not None and outcome.value is not None
    assert abs(outcome.value - exact) < 0.01 and not outcome.violated
    tracked_only = sum(c for k, c in p.counts().items() if k in domain) / p.count
    assert tracked_only < 0.95  # what the check said before: a false violation
