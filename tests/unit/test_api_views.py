"""The API's pure read models: alert transitions, heat map, severity, summaries, overlays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from modelmon.api import views
from modelmon.demo.history import HistorySpec, window_results
from modelmon.events import CheckOutcome, WindowResult
from modelmon.plots import overlay
from modelmon.profile import ProfileTracker

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _result(w: int, violated: dict[str, bool]) -> WindowResult:
    checks = [
        CheckOutcome(
            check_type="baseline_drift_check",
            feature=f,
            violated=v,
            value=0.3 if v else 0.01,
            threshold=0.1,
            method="linf_robust",
        )
        for f, v in violated.items()
    ]
    return WindowResult(
        model_id="m", window_start=T0 + timedelta(minutes=w),
        window_end=T0 + timedelta(minutes=w + 1), evaluated_at=T0, event_count=1,
        features={}, checks=checks,
    )  # fmt: skip


@given(st.lists(st.lists(st.booleans(), min_size=2, max_size=2), max_size=30))
def test_transitions_alternate_and_follow_the_last_state(flags: list[list[bool]]) -> None:
    results = [_result(w, {"a": f[0], "b": f[1]}) for w, f in enumerate(flags)]
    found = views.transitions("m", results)
    for i, feature in enumerate(("a", "b")):
        mine = [t for t in found if t.feature == feature]
        states = [t.state for t in mine]
        assert all(x != y for x, y in pairwise(states))  # alternate
        assert not states or states[0] == "ALARM"  # the first seen window only if violated
        last = flags[-1][i] if flags else False
        assert (states[-1] == "ALARM" if states else False) == last
        expected = sum(1 for w in range(len(flags)) if flags[w][i] != (w and flags[w - 1][i]))
        assert len(mine) == expected


@given(st.lists(st.sets(st.sampled_from(["a", "b", "c"])), min_size=1, max_size=20))
def test_heat_map_marks_exactly_the_violated_cells(drifted: list[set[str]]) -> None:
    results = [_result(w, {f: f in d for f in "abc"}) for w, d in enumerate(drifted)]
    heat = views.heat_map("m", results)
    assert heat.features == ["a", "b", "c"]
    assert heat.windows == [r.window_start for r in results]
    for i, f in enumerate(heat.features):
        for w, cell in enumerate(heat.cells[i]):
            assert cell is not None
            assert cell.violated == (f in drifted[w])
            assert (cell.severity is not None and cell.severity > 1) == cell.violated


@given(
    st.floats(0, 10, allow_nan=False), st.floats(0, 10, allow_nan=False),
    st.sampled_from(["linf_robust", "psi", "ks_p_value", "chi_square_p_value", "unknown"]),
)  # fmt: skip
def test_severity_is_above_one_exactly_when_the_method_says_drifted(
    value: float, threshold: float, method: str
) -> None:
    from modelmon.drift import get_method
    from modelmon.errors import ModelmonError

    try:
        drifted = get_method(method).drifted(value, threshold)
    except ModelmonError:
        drifted = value > threshold
    outcome = CheckOutcome(
        check_type="baseline_drift_check", feature="f", violated=drifted,
        value=value, threshold=threshold, method=method,
    )  # fmt: skip
    severity = views.severity(outcome)
    assert severity is not None
    assert (severity > 1) == drifted or value == threshold


def test_summary_counts_violations_and_health() -> None:
    from modelmon.config import ModelConfig
    from modelmon.registry import ModelEntry

    spec = HistorySpec("m", ["a", "b"], 5, drifted=frozenset({("a", 3), ("b", 3), ("a", 4)}))
    results = list(window_results(spec))
    entry = ModelEntry(ModelConfig(model_id="m"), 1, 0, True)
    per_window = {views.ms(r.window_start): len(views.violations([r])) for r in results}
    summary = views.summary("m", entry, results[-1], per_window, [])
    assert summary.violations_last_day == 3
    assert summary.health == "drift" and summary.last_window is not None
    assert summary.last_window.drifted_features == ["a"]
    assert views.summary("m", entry, None, {}, []).health == "no_data"


@given(st.floats(-5, 5), st.integers(50, 2000))
def test_numeric_overlay_shares_are_distributions(shift: float, n: int) -> None:
    rng = np.random.default_rng(n)
    sides = []
    for s in (0.0, shift):
        tracker = ProfileTracker({"x": "numeric"})
        tracker.update({"x": rng.normal(s, 1, n)})
        sides.append(tracker.snapshot().features["x"])
    over = overlay(sides[0], sides[1])
    assert list(over.shares) == ["baseline", "window"]
    for shares in over.shares.values():
        assert abs(sum(shares) - 1) <= 1e-9 and min(shares) >= 0
    for cdf in over.cdfs.values():
        assert all(a <= b for a, b in pairwise(cdf))  # monotone
    assert len(over.edges) == len(over.labels) + 1


def test_categorical_overlay_keeps_the_top_categories_of_either_side() -> None:
    tracker = ProfileTracker({"c": "categorical"})
    tracker.update({"c": ["a"] * 50 + ["b"] * 30})
    base = tracker.snapshot().features["c"]
    tracker = ProfileTracker({"c": "categorical"})
    tracker.update({"c": ["z"] * 70 + ["a"] * 10})
    over = overlay(base, tracker.snapshot().features["c"])
    assert over.labels == ["z", "a", "b"]
    assert over.shares["baseline"] == [0.0, 50 / 80, 30 / 80]
    assert over.shares["window"] == [70 / 80, 10 / 80, 0.0]
    assert overlay(None, base).shares.keys() == {"window"}  # no baseline: one side


def test_alarm_states_split_the_alert_key() -> None:
    from modelmon.alerting.state import KeyState

    st_ = KeyState(state="ALARM", window_end=T0, since=T0)
    ok = KeyState(state="OK", window_end=T0, since=T0)
    found = views.alarm_states({"m/AllTraffic/baseline_drift_check/f/g": ok, "m/V/c/x": st_})
    assert [(a.state, a.variant, a.check_type, a.feature) for a in found] == [
        ("ALARM", "V", "c", "x"), ("OK", "AllTraffic", "baseline_drift_check", "f/g"),
    ]  # fmt: skip


@given(st.lists(st.integers(0, 4_000_000_000_000), max_size=20), st.booleans())
def test_series_points_spliced_from_storage_equal_the_parsed_ones(
    starts: list[int], foreign: bool
) -> None:
    import orjson

    from modelmon.api.store import feature_point, feature_points_json

    raws = [
        orjson.dumps({"window_start": t, "count": 3, "distances": {"psi": 0.5}}) for t in starts
    ]
    if foreign and raws:  # a point laid out otherwise: the whole page is parsed instead
        raws[-1] = orjson.dumps({"count": 3, "window_start": starts[-1]})
    spliced = orjson.loads(feature_points_json(raws))
    assert spliced == [feature_point(r) for r in raws]
    assert [p["window_start"][:19] for p in spliced] == [
        datetime.fromtimestamp(t // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S") for t in starts
    ]
