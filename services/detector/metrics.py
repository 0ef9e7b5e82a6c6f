"""The detector's Prometheus metrics, on a registry owned by the service instance."""

from __future__ import annotations

import math

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from modelmon.events import WindowResult


class DetectorMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.evaluated = Counter(
            "modelmon_detector_windows_evaluated",
            "Windows evaluated by this detector",
            ["model"],
            registry=registry,
        )
        self.violations = Counter(
            "modelmon_detector_violations",
            "Violated checks published as alert events",
            ["model", "check"],
            registry=registry,
        )
        self.failures = Counter(
            "modelmon_detector_evaluation_failures",
            "Windows whose evaluation failed for a reason other than a dependency outage",
            ["model"],
            registry=registry,
        )
        self.late = Gauge(
            "modelmon_detector_window_late_events",
            "Late events of the last evaluated window",
            ["model"],
            registry=registry,
        )
        self.seconds = Histogram(
            "modelmon_detector_evaluation_seconds",
            "Time to merge, evaluate and publish one window",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=registry,
        )
        self.delay = Gauge(
            "modelmon_detector_evaluation_delay_seconds",
            "Wall-clock time from a window's close (end + lateness) to its evaluation",
            registry=registry,
        )
        # Series: models x features (at most MODELMON_LIMITS__MAX_FEATURES each) x distances.
        self.drift = Gauge(
            "modelmon_detector_feature_drift",
            "Drift distance of each feature in the model's last evaluated window (vs baseline)",
            ["model", "feature", "distance"],
            registry=registry,
        )
        self.index_reads = Counter(
            "modelmon_detector_index_entries_read",
            "Window-index entries read by ranged reads (long jumps, first start, repair sweep)",
            registry=registry,
        )
        self.candidates = Counter(
            "modelmon_detector_candidate_windows",
            "Windows looked up because their model's watermark moved past their close",
            registry=registry,
        )
        self.repair_runs = Counter(
            "modelmon_detector_repair_sweeps",
            "Bounded repair sweeps of the window index below the cursor",
            registry=registry,
        )
        self.repair_windows = Counter(
            "modelmon_detector_repair_windows",
            "Windows the repair sweep found behind the cursor (not yet evaluated)",
            registry=registry,
        )
        self.baseline_cache_bytes = Gauge(
            "modelmon_detector_baseline_cache_bytes",
            "Stored size of the baselines held in the LRU cache",
            registry=registry,
        )
        self.baseline_loads = Counter(
            "modelmon_detector_baseline_loads",
            "Baselines read from the registry (cache misses)",
            registry=registry,
        )

    def observe_drift(self, result: WindowResult) -> None:
        """Per-feature distances of one window's result (a rolling view is not exported)."""
        if result.rolling_windows > 1 or result.status != "evaluated":
            return
        for feature, figures in result.features.items():
            for distance, value in figures.distances.items():
                if math.isfinite(value):
                    self.drift.labels(result.model_id, feature, distance).set(value)
