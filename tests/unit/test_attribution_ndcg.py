"""Clarify's NDCG: a direct computation, scikit-learn's ndcg_score, ties, scale invariance."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import ndcg_score

from modelmon.attribution.ndcg import ndcg


def direct_ndcg(baseline: dict[str, float], live: dict[str, float]) -> float:
    """The DG's formula, literally: F by baseline, F' by live (no ties), a = baseline."""
    names = sorted(set(baseline) | set(live))
    a = {f: baseline.get(f, 0.0) for f in names}
    f_ideal = sorted(names, key=lambda f: -a[f])
    f_live = sorted(names, key=lambda f: -live.get(f, 0.0))
    dcg = sum(a[f] / math.log2(i + 2) for i, f in enumerate(f_live))
    idcg = sum(a[f] / math.log2(i + 2) for i, f in enumerate(f_ideal))
    return dcg / idcg


def tie_break_average(baseline: dict[str, float], live: dict[str, float]) -> float:
    """The mean of the direct formula over every order of the tied live values."""
    names = sorted(set(baseline) | set(live))
    groups: dict[float, list[str]] = {}
    for f in names:
        groups.setdefault(live.get(f, 0.0), []).append(f)
    ordered = [groups[v] for v in sorted(groups, reverse=True)]
    a = {f: baseline.get(f, 0.0) for f in names}
    idcg = sum(v / math.log2(i + 2) for i, v in enumerate(sorted(a.values(), reverse=True)))
    total, count = 0.0, 0
    for perms in itertools.product(*(itertools.permutations(g) for g in ordered)):
        order = [f for p in perms for f in p]
        total += sum(a[f] / math.log2(i + 2) for i, f in enumerate(order))
        count += 1
    return total / count / idcg


names = st.lists(st.sampled_from("abcdefghij"), min_size=2, max_size=8, unique=True)
magnitude = st.floats(0.0, 10.0, allow_nan=False)
coarse = st.integers(0, 3).map(float)  # few distinct values: ties are common


@st.composite
def rankings(draw: st.DrawFn, value: st.SearchStrategy[float]) -> tuple[dict, dict]:
    features = draw(names)
    baseline = {f: draw(value) for f in features}
    if sum(baseline.values()) == 0:
        baseline[features[0]] = 1.0
    live = {f: draw(value) for f in features}
    return baseline, live


@given(rankings(magnitude))
@settings(max_examples=150, deadline=None)
def test_equals_sklearn_ndcg_score(pair: tuple[dict, dict]) -> None:
    baseline, live = pair
    names = sorted(baseline)
    expected = ndcg_score(
        np.array([[baseline[f] for f in names]]), np.array([[live[f] for f in names]])
    )
    assert ndcg(baseline, live) == pytest.approx(expected, abs=1e-12)


@given(rankings(coarse))
@settings(max_examples=100, deadline=None)
def test_ties_average_the_direct_formula_over_tie_breaks(pair: tuple[dict, dict]) -> None:
    baseline, live = pair
    assert ndcg(baseline, live) == pytest.approx(tie_break_average(baseline, live), abs=1e-12)


@given(rankings(magnitude))
@settings(max_examples=100, deadline=None)
def test_without_ties_equals_the_direct_formula(pair: tuple[dict, dict]) -> None:
    baseline, live = pair
    live = {f: v + i * 1e-3 for i, (f, v) in enumerate(sorted(live.items()))}  # break ties
    if len(set(live.values())) < len(live):
        return
    assert ndcg(baseline, live) == pytest.approx(direct_ndcg(baseline, live), abs=1e-12)


@given(rankings(magnitude), st.floats(1e-3, 1e3))
@settings(max_examples=100, deadline=None)
def test_only_the_live_order_matters_not_its_scale(pair: tuple[dict, dict], k: float) -> None:
    baseline, live = pair
    scaled = {f: v * k for f, v in live.items()}
    pairs = itertools.combinations(live, 2)
    if any(np.sign(live[a] - live[b]) != np.sign(scaled[a] - scaled[b]) for a, b in pairs):
        return  # rounding (or underflow) made or broke a tie
    assert ndcg(baseline, scaled) == pytest.approx(ndcg(baseline, live), abs=1e-9)
    assert ndcg(baseline, {f: v * k for f, v in baseline.items()}) == pytest.approx(1.0)


def test_documented_example_and_edges() -> None:
    baseline = {"a": 0.5, "b": 0.3, "c": 0.2}
    assert ndcg(baseline, {"a": 9, "b": 5, "c": 1}) == 1.0
    reversed_ = ndcg(baseline, {"a": 1, "b": 5, "c": 9})
    expected = (0.2 + 0.3 / math.log2(3) + 0.5 / 2) / (0.5 + 0.3 / math.log2(3) + 0.2 / 2)
    assert reversed_ == pytest.approx(expected)
    assert ndcg(baseline, {"b": 1.0}) < 1.0  # missing live features rank last (0)
    assert math.isnan(ndcg({"a": 0.0}, {"a": 1.0}))  # no baseline ranking
    assert math.isnan(ndcg(baseline, {"a": math.inf}))
