"""Model-quality metrics: each equals scikit-learn on the same pairs; states merge exactly."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from modelmon.errors import CorruptBlobError, InvalidEventError
from modelmon.quality.binary import EXACT_SCORES, BinaryState
from modelmon.quality.files import _jsonable
from modelmon.quality.multiclass import MulticlassState
from modelmon.quality.pairs import Pairs
from modelmon.quality.problem import QualitySpec
from modelmon.quality.regression import RegressionState

TOL = 1e-9


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Metric dicts equal, NaN included (compared as SageMaker writes them)."""
    return json.dumps(_jsonable(a), sort_keys=True) == json.dumps(_jsonable(b), sort_keys=True)


def _keys(n: int, prefix: str = "k") -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


binary_rows = st.lists(
    st.tuples(st.booleans(), st.booleans(), st.floats(0, 1, allow_nan=False)),
    min_size=1,
    max_size=300,
)


def _binary(rows: list[tuple[bool, bool, float]]) -> tuple[BinaryState, np.ndarray, ...]:
    y = np.array([int(r[0]) for r in rows])
    p = np.array([int(r[1]) for r in rows])
    s = np.array([r[2] for r in rows])
    state = BinaryState().add(Pairs(_keys(len(rows)), y.tolist(), p.tolist(), s))
    return state, y, p, s


@settings(max_examples=30, deadline=None)
@given(binary_rows)
def test_binary_metrics_equal_sklearn(rows: list[tuple[bool, bool, float]]) -> None:
    state, y, p, s = _binary(rows)
    m = state.metrics()
    tn, fp, fn, tp = skm.confusion_matrix(y, p, labels=[0, 1]).ravel()
    assert m["confusion_matrix"] == {"0": {"0": tn, "1": fp}, "1": {"0": fn, "1": tp}}
    zd = {"zero_division": 0}
    expect = {
        "accuracy": skm.accuracy_score(y, p),
        "precision": skm.precision_score(y, p, **zd),
        "recall": skm.recall_score(y, p, **zd),
        "true_positive_rate": skm.recall_score(y, p, **zd),
        "true_negative_rate": skm.recall_score(1 - y, 1 - p, **zd),
        "false_positive_rate": fp / (fp + tn) if fp + tn else 0.0,
        "false_negative_rate": fn / (fn + tp) if fn + tp else 0.0,
        "f0_5": skm.fbeta_score(y, p, beta=0.5, **zd),
        "f1": skm.f1_score(y, p, **zd),
        "f2": skm.fbeta_score(y, p, beta=2, **zd),
        "precision_best_constant_classifier": y.mean(),
        "f1_best_constant_classifier": skm.f1_score(y, np.ones_like(y), **zd),
        "f2_best_constant_classifier": skm.fbeta_score(y, np.ones_like(y), beta=2, **zd),
    }
    for name, value in expect.items():
        assert m[name]["value"] == pytest.approx(value, abs=TOL), name
    if 0 < y.sum() < len(y):
        assert m["auc"]["value"] == pytest.approx(skm.roc_auc_score(y, s), abs=TOL)
        assert state.auc_error_bound() == 0.0  # few distinct scores: exact
        rounded = state._rounded()
        gap = abs(rounded.metrics()["auc"]["value"] - skm.roc_auc_score(y, s))
        assert gap <= rounded.auc_error_bound() + TOL
    else:
        assert math.isnan(m["auc"]["value"])


def test_auc_within_stated_bound_once_scores_are_rounded() -> None:
    rng = np.random.default_rng(7)
    n = EXACT_SCORES * 3
    y = rng.integers(0, 2, n)
    s = np.clip(rng.normal(0.4 + 0.2 * y, 0.1), 0, 1)
    state = BinaryState().add(Pairs(_keys(n), y.tolist(), (s >= 0.5).astype(int).tolist(), s))
    assert not state.exact
    bound = state.auc_error_bound()
    assert 0 < bound < 1e-3
    assert abs(state.metrics()["auc"]["value"] - skm.roc_auc_score(y, s)) <= bound


@settings(max_examples=25, deadline=None)
@given(binary_rows, st.integers(1, 5), st.randoms(use_true_random=False))
def test_binary_merge_of_parts_equals_whole(rows, parts, rnd) -> None:  # type: ignore[no-untyped-def]
    whole, y, p, s = _binary(rows)
    keys = _keys(len(rows))
    cut = sorted(rnd.sample(range(len(rows) + 1), min(parts, len(rows) + 1)))
    pieces = [slice(a, b) for a, b in zip([0, *cut], [*cut, len(rows)], strict=True)]
    rnd.shuffle(pieces)
    merged = BinaryState()
    for sl in pieces:
        merged = merged.merge(
            BinaryState().add(Pairs(keys[sl], y[sl].tolist(), p[sl].tolist(), s[sl]))
        )
    assert np.array_equal(merged.confusion, whole.confusion)
    assert np.array_equal(merged.hist, whole.hist)
    assert _same(merged.metrics(), whole.metrics())


def test_standard_deviation_only_from_200_samples_and_deterministic() -> None:
    rng = np.random.default_rng(1)
    y, p = rng.integers(0, 2, 400), rng.integers(0, 2, 400)
    s = rng.random(400)
    small = BinaryState().add(Pairs(_keys(199), y[:199].tolist(), p[:199].tolist(), s[:199]))
    assert math.isnan(small.metrics()["accuracy"]["standard_deviation"])
    a = BinaryState().add(Pairs(_keys(400), y.tolist(), p.tolist(), s)).metrics()
    b = BinaryState().add(Pairs(_keys(400), y.tolist(), p.tolist(), s)).metrics()
    assert _same(a, b)
    assert 0 < a["accuracy"]["standard_deviation"] < 0.1
    other = BinaryState().add(Pairs(_keys(400, "x"), y.tolist(), p.tolist(), s)).metrics()
    assert other["accuracy"]["standard_deviation"] != a["accuracy"]["standard_deviation"]


def test_prediction_from_probability_at_threshold() -> None:
    state = BinaryState(threshold=0.8).add(
        Pairs(_keys(3), [1, 1, 0], [None, None, None], np.array([0.9, 0.79, 0.85]))
    )
    assert state.metrics()["confusion_matrix"] == {"0": {"0": 0, "1": 1}, "1": {"0": 1, "1": 1}}
    with pytest.raises(InvalidEventError):
        BinaryState().add(Pairs(_keys(1), [1], [None], np.array([np.nan])))


multi_rows = st.lists(
    st.tuples(st.sampled_from("abcd"), st.sampled_from("abcde")), min_size=1, max_size=300
)


@settings(max_examples=30, deadline=None)
@given(multi_rows)
def test_multiclass_metrics_equal_sklearn(rows: list[tuple[str, str]]) -> None:
    y, p = [r[0] for r in rows], [r[1] for r in rows]
    m = MulticlassState().add(Pairs(_keys(len(rows)), y, p)).metrics()
    labels = sorted(set(y) | set(p))
    cm = skm.confusion_matrix(y, p, labels=labels)  # labels= silences the one-class warning
    assert m["confusion_matrix"] == {
        a: {b: int(cm[i, j]) for j, b in enumerate(labels)} for i, a in enumerate(labels)
    }
    w = {"average": "weighted", "zero_division": 0}
    assert m["accuracy"]["value"] == pytest.approx(skm.accuracy_score(y, p), abs=TOL)
    assert m["weighted_recall"]["value"] == pytest.approx(skm.recall_score(y, p, **w), abs=TOL)
    assert m["weighted_precision"]["value"] == pytest.approx(
        skm.precision_score(y, p, **w), abs=TOL
    )
    for key, beta in (("weighted_f0_5", 0.5), ("weighted_f1", 1.0), ("weighted_f2", 2.0)):
        assert m[key]["value"] == pytest.approx(skm.fbeta_score(y, p, beta=beta, **w), abs=TOL)
    top = max(set(y), key=lambda c: (y.count(c), -ord(c)))
    const = [top] * len(y)
    assert m["accuracy_best_constant_classifier"]["value"] == pytest.approx(
        skm.accuracy_score(y, const)
    )
    assert m["weighted_f1_best_constant_classifier"]["value"] == pytest.approx(
        skm.f1_score(y, const, **w), abs=TOL
    )
    assert m["weighted_precision_best_constant_classifier"]["value"] == pytest.approx(
        skm.precision_score(y, const, **w), abs=TOL
    )


@settings(max_examples=30, deadline=None)
@given(multi_rows, st.integers(0, 300))
def test_multiclass_merge_equals_whole(rows: list[tuple[str, str]], cut: int) -> None:
    y, p, k = [r[0] for r in rows], [r[1] for r in rows], _keys(len(rows))
    whole = MulticlassState().add(Pairs(k, y, p))
    a = MulticlassState().add(Pairs(k[:cut], y[:cut], p[:cut]))
    b = MulticlassState().add(Pairs(k[cut:], y[cut:], p[cut:]))
    assert _same(b.merge(a).metrics(), whole.metrics())


reg_rows = st.lists(st.tuples(st.floats(-1e3, 1e3), st.floats(-1e3, 1e3)), min_size=2, max_size=300)


@settings(max_examples=30, deadline=None)
@given(reg_rows, st.integers(0, 300))
def test_regression_metrics_equal_sklearn(rows: list[tuple[float, float]], cut: int) -> None:
    y, p, k = [r[0] for r in rows], [r[1] for r in rows], _keys(len(rows))
    whole = RegressionState().add(Pairs(k, y, p))
    merged = (
        RegressionState()
        .add(Pairs(k[cut:], y[cut:], p[cut:]))
        .merge(RegressionState().add(Pairs(k[:cut], y[:cut], p[:cut])))
    )
    for state in (whole, merged):
        m, layers = state.metrics(), state.layers()
        scale = 1 + max(abs(v) for v in y + p) ** 2
        assert m["mae"]["value"] == pytest.approx(skm.mean_absolute_error(y, p), rel=1e-9, abs=1e-9)
        mse = skm.mean_squared_error(y, p)
        assert m["mse"]["value"] == pytest.approx(mse, rel=1e-9, abs=1e-9 * scale)
        assert m["rmse"]["value"] == pytest.approx(math.sqrt(mse), rel=1e-9, abs=1e-6)
        if np.var(p) > 1e-6 * scale:  # SageMaker's r2: prediction and label swapped
            assert m["r2"]["value"] == pytest.approx(skm.r2_score(p, y), rel=1e-6, abs=1e-6)
        if np.var(y) > 1e-6 * scale:
            assert layers["textbook_r2"][0] == pytest.approx(skm.r2_score(y, p), rel=1e-6, abs=1e-6)


def test_regression_error_quantiles() -> None:
    y = np.arange(1000.0)
    state = RegressionState().add(Pairs(_keys(1000), y.tolist(), (y - 1).tolist()))
    assert state.error_quantiles([0.5]) == [1.0]
    with pytest.raises(InvalidEventError):
        RegressionState().add(Pairs(_keys(1), ["cat"], [1.0]))


@pytest.mark.parametrize(
    "problem", ["BinaryClassification", "MulticlassClassification", "Regression"]
)
def test_states_round_trip_bytes(problem: str) -> None:
    spec = QualitySpec(problem)  # type: ignore[arg-type]
    rng = np.random.default_rng(3)
    pairs = Pairs(
        _keys(250),
        rng.integers(0, 3, 250).tolist(),
        rng.integers(0, 3, 250).tolist(),
        rng.random(250),
    )
    state = spec.empty().add(pairs)
    again = spec.deserialize(state.serialize())
    assert _same(again.metrics(), state.metrics())
    blob = bytearray(state.serialize())
    blob[-1] ^= 0xFF
    with pytest.raises(CorruptBlobError):
        spec.deserialize(bytes(blob))
    other = "Regression" if problem != "Regression" else "BinaryClassification"
    with pytest.raises(CorruptBlobError):
        QualitySpec(other).deserialize(state.serialize())  # type: ignore[arg-type]
