"""Bias metrics from the mergeable counts equal Clarify's formulas on the raw records."""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelmon.bias.config import BiasConfig, value_key
from modelmon.bias.metrics import METRICS
from modelmon.bias.report import FacetValueReport, confidence_interval, facet_reports, split_tables
from modelmon.bias.state import BiasState, merge_all, state_from_columns, state_from_rows
from modelmon.errors import CorruptBlobError

from . import bias_oracle

CONFIG = BiasConfig.model_validate(
    {
        "label": "y",
        "label_values_or_threshold": [1, 2],
        "facet": [
            {"name_or_index": "sex"},
            {"name_or_index": "race", "value_or_threshold": ["b", "c"]},
            {"name_or_index": "age", "value_or_threshold": [40], "threshold": True},
        ],
        "group_variable": "zip",
        "predicted_label": "y_hat",
    }
)
NO_GROUP = CONFIG.model_copy(update={"group_variable": None})

ROW = st.fixed_dictionaries(
    {
        "sex": st.sampled_from(["f", "m", "x", None]),
        "race": st.sampled_from(["a", "b", "c", "d"]),
        "age": st.one_of(st.none(), st.integers(18, 70)),
        "zip": st.sampled_from(["z1", "z2", "z3"]),
        "y": st.sampled_from([0, 1, 2]),
        "y_hat": st.sampled_from([0, 1, 2]),
    }
)


def _expected(
    config: BiasConfig, rows: list[dict[str, Any]], report: FacetValueReport, name: str
) -> float | None:
    positive = {"1", "2"}
    y = np.array([value_key(r["y"]) in positive for r in rows], dtype=bool)
    p = np.array([value_key(r["y_hat"]) in positive for r in rows], dtype=bool)
    if report.facet == "age":
        d = np.array([r["age"] is not None and r["age"] > 40 for r in rows], dtype=bool)
    else:
        sensitive = set(report.value_or_threshold.split(","))
        d = np.array([r[report.facet] in sensitive for r in rows], dtype=bool)
    group = None if config.group_variable is None else np.array([r["zip"] for r in rows])
    return bias_oracle.metric(name, d, y, p, group)


def _assert_same(actual: float | None, expected: float | None, what: str) -> None:
    if expected is None or actual is None:
        assert actual is None and expected is None, f"{what}: {actual} != {expected}"
    elif math.isinf(expected):
        assert actual == expected, what
    else:
        assert actual == pytest.approx(expected, rel=1e-9, abs=1e-12), what


def _check_all(config: BiasConfig, rows: list[dict[str, Any]]) -> None:
    state = state_from_rows(config, rows)
    for stage in ("pre_training", "post_training"):
        for report in facet_reports(config, state, stage):
            for metric in report.metrics:
                expected = _expected(config, rows, report, metric.name)
                what = f"{stage} {report.facet}={report.value_or_threshold} {metric.name}"
                _assert_same(metric.value, expected, what)
                assert (metric.error is None) == (metric.value is not None)


@settings(max_examples=150, deadline=None)
@given(st.lists(ROW, max_size=40), st.booleans())
def test_every_metric_equals_clarify_on_the_raw_records(
    rows: list[dict[str, Any]], grouped: bool
) -> None:
    _check_all(CONFIG if grouped else NO_GROUP, rows)


def test_edge_cases_empty_groups_and_zero_denominators() -> None:
    base = {"sex": "f", "race": "a", "age": 30, "zip": "z1"}
    cases = [
        [],  # nothing at all
        [{**base, "y": 1, "y_hat": 1}],  # one row: the rest is empty
        [{**base, "y": 1, "y_hat": 0}, {**base, "sex": "m", "y": 1, "y_hat": 0}],  # all FN
        [{**base, "y": 0, "y_hat": 1}, {**base, "sex": "m", "age": 50, "y": 1, "y_hat": 0}],
        [{**base, "y": 0, "y_hat": 0}, {**base, "sex": "m", "race": "b", "y": 0, "y_hat": 1}],
    ]
    for rows in cases:
        _check_all(CONFIG, rows)
        _check_all(NO_GROUP, rows)


def test_known_values_and_clarify_errors() -> None:
    rows = [
        {"sex": "f", "race": "a", "age": 30, "zip": "z1", "y": 1, "y_hat": 0},
        {"sex": "f", "race": "a", "age": 30, "zip": "z1", "y": 0, "y_hat": 0},
        {"sex": "m", "race": "b", "age": 50, "zip": "z2", "y": 0, "y_hat": 1},
    ]
    reports = {
        (r.facet, r.value_or_threshold): r
        for r in facet_reports(NO_GROUP, state_from_rows(NO_GROUP, rows), "post_training")
    }
    f = reports[("sex", "f")]
    # TE: tau_d = FN/FP = 1/0 = inf, tau_a = 0/1 = 0 -> inf (Clarify's divide)
    assert f.metric("TE").value == math.inf  # type: ignore[union-attr]
    assert f.metric("DPPL").value == pytest.approx(1.0)  # type: ignore[union-attr]
    cddpl = f.metric("CDDPL")
    assert cddpl is not None and cddpl.value is None
    assert cddpl.error == "Group variable is empty or not provided"
    assert set(reports) == {("sex", "f"), ("sex", "m"), ("race", "b,c"), ("age", "(40, 50]")}


def test_numeric_threshold_facet_is_value_above_the_bound() -> None:
    rows = [
        {"sex": "f", "race": "a", "age": a, "zip": "z1", "y": 1, "y_hat": int(a > 45)}
        for a in (20, 40, 41, 60)
    ]
    report = next(
        r
        for r in facet_reports(CONFIG, state_from_rows(CONFIG, rows), "post_training")
        if r.facet == "age"
    )
    assert report.value_or_threshold == "(40, 60]"
    assert report.counts[:2] == (2, 2)  # 41 and 60 are sensitive, 40 is not


def _merge_rows(rows: list[dict[str, Any]], chunks: int, seed: int) -> bytes:
    shuffled = rows[:]
    random.Random(seed).shuffle(shuffled)
    parts = [shuffled[i::chunks] for i in range(chunks)]
    states = [state_from_rows(CONFIG, part) for part in parts]
    random.Random(seed + 1).shuffle(states)
    if seed % 2:
        states = [merge_all(states[: len(states) // 2]), merge_all(states[len(states) // 2 :])]
    return merge_all(states).serialize()


@settings(max_examples=60, deadline=None)
@given(st.lists(ROW, max_size=60), st.integers(1, 6), st.integers(0, 1000))
def test_merge_order_never_changes_a_result(
    rows: list[dict[str, Any]], chunks: int, seed: int
) -> None:
    whole = state_from_rows(CONFIG, rows)
    merged = BiasState.deserialize(_merge_rows(rows, chunks, seed))
    assert merged.serialize() == whole.serialize()
    for stage in ("pre_training", "post_training"):
        assert facet_reports(CONFIG, merged, stage) == facet_reports(CONFIG, whole, stage)


def test_columns_with_numpy_arrays_match_rows() -> None:
    rng = np.random.default_rng(7)
    n = 500
    columns = {
        "sex": rng.choice(np.array(["f", "m"]), n),
        "race": rng.choice(np.array(["a", "b", "c"]), n),
        "age": rng.integers(18, 80, n).astype(np.float64),
        "zip": rng.integers(0, 5, n),
        "y": rng.integers(0, 3, n),
        "y_hat": rng.integers(0, 3, n),
    }
    rows = [{k: v[i].item() for k, v in columns.items()} for i in range(n)]
    assert (
        state_from_columns(CONFIG, columns, joined=True).serialize()
        == state_from_rows(CONFIG, rows).serialize()
    )


def test_prediction_only_counts_and_probability_threshold() -> None:
    config = BiasConfig.model_validate(
        {
            "label": "y",
            "label_values_or_threshold": [1],
            "facet": [{"name_or_index": "sex", "value_or_threshold": ["f"]}],
            "probability": "score",
            "probability_threshold": 0.6,
        }
    )
    captured = state_from_columns(
        config, {"sex": ["f", "f", "m", "m"], "score": [0.7, 0.6, 0.9, None]}, joined=False
    )
    assert captured.skipped == 1
    (report,) = facet_reports(config, captured, "post_training", ["DPPL", "DI"], "captured")
    # sensitive f: 1 of 2 positive (0.6 is not > 0.6); rest m: 1 of 1
    assert report.metric("DPPL").value == pytest.approx(0.5)  # type: ignore[union-attr]
    assert report.metric("DI").value == pytest.approx(0.5)  # type: ignore[union-attr]
    (joined_view,) = facet_reports(config, captured, "post_training", ["DPPL"])
    assert joined_view.metric("DPPL").value is None  # type: ignore[union-attr]


def test_bad_blobs_raise_a_typed_error() -> None:
    blob = state_from_rows(
        CONFIG, [{"sex": "f", "race": "a", "age": 1, "zip": "z", "y": 1, "y_hat": 1}]
    ).serialize()
    for bad in (
        blob[:-3],
        blob[:4] + b"\x09" + blob[5:],
        b"nope",
        blob[:-1] + bytes([blob[-1] ^ 1]),
    ):
        with pytest.raises(CorruptBlobError):
            BiasState.deserialize(bad)


def test_merging_different_thresholds_is_refused() -> None:
    other = CONFIG.model_copy(
        update={"facet": [CONFIG.facet[2].model_copy(update={"value_or_threshold": [50]})]}
    )
    row = {"sex": "f", "race": "a", "age": 45, "zip": "z", "y": 1, "y_hat": 1}
    with pytest.raises(ValueError, match="threshold"):
        state_from_rows(CONFIG, [row]).merge(state_from_rows(other, [row]))


def test_bootstrap_interval_is_deterministic_and_covers_the_value() -> None:
    rng = np.random.default_rng(3)
    n = 2000
    columns = {
        "sex": rng.choice(np.array(["f", "m"]), n),
        "race": rng.choice(np.array(["a", "b"]), n),
        "age": rng.integers(18, 80, n),
        "zip": rng.integers(0, 3, n),
        "y": rng.integers(0, 2, n),
        "y_hat": (rng.random(n) < 0.4).astype(int),
    }
    state = state_from_columns(CONFIG, columns, joined=True)
    tables = split_tables(state.facets["sex"], frozenset({"f"}), True)
    for name in METRICS:
        first = confidence_interval(name, tables)
        assert first == confidence_interval(name, tables)
        value = float(METRICS[name].compute(tables))
        if first is not None:
            assert first[0] <= value <= first[1]
    low, high = confidence_interval("DPPL", tables)  # type: ignore[misc]
    # binomial standard error of a difference of two proportions, ~1000 rows each
    assert 0.03 < high - low < 0.12


def test_captured_then_joined_counts_each_prediction_once() -> None:
    rng = np.random.default_rng(9)
    n = 300
    columns = {
        "sex": rng.choice(np.array(["f", "m"]), n),
        "race": rng.choice(np.array(["a", "b", "c"]), n),
        "age": rng.integers(18, 80, n),
        "zip": rng.integers(0, 3, n),
        "y": rng.integers(0, 3, n),
        "y_hat": rng.integers(0, 3, n),
    }
    captured = state_from_columns(CONFIG, columns, joined=False)
    labelled = {k: v[: n // 2] for k, v in columns.items()}  # half the labels have arrived
    state = captured.merge(state_from_columns(CONFIG, labelled, joined=True))
    total = state.facets["sex"].total()
    assert total[:4].sum() == n // 2 and total[4:].sum() == n
    everything = captured.merge(state_from_columns(CONFIG, columns, joined=True))
    for name in ("DPPL", "DI", "CDDPL"):
        by_source = [
            facet_reports(CONFIG, everything, "post_training", [name], source)[0].metrics[0].value
            for source in ("joined", "captured")
        ]
        assert by_source[0] == pytest.approx(by_source[1])
