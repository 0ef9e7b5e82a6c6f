"""``modelmon_detector_feature_drift``: every finite distance of a window's result, per feature."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from modelmon.events import FeatureMetrics, WindowResult
from modelmon_services.detector.metrics import DetectorMetrics

T = datetime(2026, 1, 1, tzinfo=UTC)
names = st.text("abcdefgh_", min_size=1, max_size=6)
values = st.floats(allow_nan=True, allow_infinity=True)


def _result(features: dict[str, dict[str, float]], rolling: int) -> WindowResult:
    return WindowResult(
        model_id="m1", window_start=T, window_end=T, evaluated_at=T,
        rolling_windows=rolling, event_count=1, checks=[],
        features={
            name: FeatureMetrics(inferred_type="Fractional", count=1, missing=0, completeness=1,
                                 distances=d)
            for name, d in features.items()
        },
    )  # fmt: skip


def _exported(registry: CollectorRegistry) -> dict[tuple[str, str, str], float]:
    return {
        (s.labels["model"], s.labels["feature"], s.labels["distance"]): s.value
        for family in registry.collect()
        if family.name == "modelmon_detector_feature_drift"
        for s in family.samples
    }


@given(st.dictionaries(names, st.dictionaries(names, values, max_size=4), max_size=5))
def test_each_finite_distance_is_exported(features: dict[str, dict[str, float]]) -> None:
    registry = CollectorRegistry()
    metrics = DetectorMetrics(registry)
    metrics.observe_drift(_result(features, rolling=1))
    want = {
        ("m1", f, d): v for f, ds in features.items() for d, v in ds.items() if math.isfinite(v)
    }
    assert _exported(registry) == want


def test_a_rolling_view_does_not_overwrite_the_window() -> None:
    registry = CollectorRegistry()
    metrics = DetectorMetrics(registry)
    metrics.observe_drift(_result({"x": {"linf_simple": 0.2}}, rolling=1))
    metrics.observe_drift(_result({"x": {"linf_simple": 0.9}}, rolling=3))
    assert _exported(registry) == {("m1", "x", "linf_simple"): 0.2}
