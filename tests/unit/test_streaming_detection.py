"""From a merged window to results, alert events and report paths (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from modelmon.config import ModelConfig
from modelmon.keys import WindowRef
from modelmon.profile import ProfileTracker
from modelmon.streaming import detection

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
NOW = datetime(2026, 1, 1, 0, 1, tzinfo=UTC)


def _profile(xs: list[float]) -> detection.DatasetProfile:
    tracker = ProfileTracker({"x": "numeric"})
    tracker.update({"x": xs})
    return tracker.snapshot()


def test_without_a_baseline_a_window_gets_figures_and_no_checks() -> None:
    view = detection.single(WindowRef("m", 10_000, T0), _profile([1.0, 2.0, 3.0]), late=2)
    found = detection.detect(view, ModelConfig(model_id="m"), None, NOW, None)
    result = found.result
    assert (result.event_count, result.late_event_count, result.rolling_windows) == (3, 2, 1)
    assert result.window_start == datetime(2026, 1, 1, tzinfo=UTC)
    assert result.window_end == datetime(2026, 1, 1, 0, 0, 10, tzinfo=UTC)
    assert result.checks == [] and result.features["x"].mean == 2.0
    assert detection.alert_events(view, found, ModelConfig(model_id="m"), NOW) == []
    evaluated = detection.window_evaluated(view, found)
    again = detection.window_evaluated(
        view, detection.detect(view, ModelConfig(model_id="m"), None, NOW, None)
    )
    assert evaluated.event_id == again.event_id  # same window, same id


def test_rolling_views_span_the_windows_they_merge() -> None:
    last = WindowRef("m", 10_000, T0 + 20_000)
    view = detection.rolling(last, [_profile([1.0]), _profile([2.0, 3.0])])
    assert (view.start_ms, view.end_ms, view.windows, view.profile.row_count) == (
        T0 + 10_000, T0 + 30_000, 2, 3,
    )  # fmt: skip
    single = detection.single(last, _profile([1.0]), 0)
    assert detection.event_id(*view.id_parts, "x") != detection.event_id(*single.id_parts, "x")


def test_reports_follow_sagemakers_hourly_layout() -> None:
    config = ModelConfig(model_id="churn", schedule_name="hourly")
    ref = WindowRef("churn", 3_600_000, T0 + 3_600_000)
    view = detection.single(ref, _profile([1.0]), 0)
    assert detection.report_path(config, view, ref.size_ms) == "churn/hourly/2026/01/01/01/"
    small = WindowRef("churn", 10_000, T0 + 70_000)
    view = detection.single(small, _profile([1.0]), 0)
    assert detection.report_path(config, view, small.size_ms) == "churn/hourly/2026/01/01/00/0110/"
    rolled = detection.rolling(small, [_profile([1.0]), _profile([1.0])])
    assert detection.report_path(config, rolled, small.size_ms).endswith("/0110/rolling-2/")
