"""CloudWatch metric data for an evaluated window, under SageMaker Model Monitor's names.

Per feature (SPEC.md §7): ``feature_baseline_drift_<f>`` (the drift distance the window was
checked with), ``feature_non_null_<f>`` (completeness) and, for numeric features,
``feature_data_<f>`` as a statistic set (SampleCount, Sum, Minimum, Maximum, so CloudWatch's
Average is the window's mean). Dimensions ``Endpoint`` and ``MonitoringSchedule``; every
datapoint is timestamped at the window end. ``batches`` splits the data to PutMetricData's
limits: 1000 metrics and 1 MB per request.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from modelmon.config import CloudWatchRoute, ModelConfig, endpoint_name
from modelmon.events import FeatureMetrics, WindowResult

MAX_METRICS_PER_CALL = 1000
#: The documented limit is 1 MB per POST; leave room for the envelope and encoding.
MAX_PAYLOAD_BYTES = 900_000
MAX_NAME_LENGTH = 255
#: CloudWatch rejects values beyond ±2^360 and (on older endpoints) below 8.5e-109 in magnitude.
_MAX_MAGNITUDE = 2.0**360
_MIN_MAGNITUDE = 8.515920e-109

_NUMERIC = {"Integral", "Fractional"}


class StatisticSet(BaseModel):
    model_config = ConfigDict(frozen=True)

    sample_count: float
    sum: float
    minimum: float
    maximum: float


class MetricDatum(BaseModel):
    """One datapoint: a single value or a statistic set."""

    model_config = ConfigDict(frozen=True)

    name: str
    dimensions: tuple[tuple[str, str], ...]
    timestamp: datetime
    value: float | None = None
    statistics: StatisticSet | None = None

    def to_aws(self) -> dict[str, Any]:
        """The ``MetricData`` member boto3's ``put_metric_data`` expects."""
        datum: dict[str, Any] = {
            "MetricName": self.name,
            "Dimensions": [{"Name": n, "Value": v} for n, v in self.dimensions],
            "Timestamp": self.timestamp,
            "Unit": "None",
        }
        if self.statistics is not None:
            s = self.statistics
            datum["StatisticValues"] = {
                "SampleCount": s.sample_count,
                "Sum": s.sum,
                "Minimum": s.minimum,
                "Maximum": s.maximum,
            }
        else:
            datum["Value"] = self.value
        return datum


def dimensions(
    model_id: str, route: CloudWatchRoute, config: ModelConfig | None
) -> tuple[tuple[str, str], ...]:
    """SageMaker's dimensions: ``Endpoint`` (``endpoint_name``'s rule) and the schedule."""
    return (
        ("Endpoint", endpoint_name(model_id, config)),
        ("MonitoringSchedule", route.schedule_name),
    )


def window_metrics(
    result: WindowResult, route: CloudWatchRoute, config: ModelConfig | None = None
) -> list[MetricDatum]:
    """Every datapoint of one window (rolling views are not published)."""
    if result.rolling_windows != 1:
        return []
    dims = dimensions(result.model_id, route, config)
    drift = _drift_values(result, config)
    data: list[MetricDatum] = []
    for feature, metrics in sorted(result.features.items()):
        point = {"dimensions": dims, "timestamp": result.window_end}
        if feature in drift:
            data.append(
                MetricDatum(name=f"feature_baseline_drift_{feature}", value=drift[feature], **point)
            )
        data.append(
            MetricDatum(name=f"feature_non_null_{feature}", value=metrics.completeness, **point)
        )
        stats = _statistic_set(metrics)
        if stats is not None:
            data.append(MetricDatum(name=f"feature_data_{feature}", statistics=stats, **point))
    return [d for d in (_publishable(d) for d in data) if d is not None]


def _drift_values(result: WindowResult, config: ModelConfig | None) -> dict[str, float]:
    """The distance each feature was drift-checked with; else the configured method's."""
    values = {
        c.feature: c.value
        for c in result.checks
        if c.check_type == "baseline_drift_check" and c.value is not None
    }
    for feature, metrics in result.features.items():
        if feature not in values:
            method = _configured_method(feature, metrics, config)
            if method in metrics.distances:
                values[feature] = metrics.distances[method]
            elif len(metrics.distances) == 1:
                values[feature] = next(iter(metrics.distances.values()))
    return values


def _configured_method(feature: str, metrics: FeatureMetrics, config: ModelConfig | None) -> str:
    cfg = config or ModelConfig(model_id="unregistered")
    own = cfg.feature(feature)
    if own is not None and own.drift_method:
        return own.drift_method
    if metrics.inferred_type in _NUMERIC:
        return cfg.drift.numeric_method
    return cfg.drift.categorical_method


def _statistic_set(m: FeatureMetrics) -> StatisticSet | None:
    """count includes missing values and type mismatches; sum/min/max cover numbers only."""
    numbers = m.count - m.missing - m.type_mismatches
    if m.inferred_type not in _NUMERIC or numbers <= 0:
        return None
    if m.sum is None or m.min is None or m.max is None:
        return None
    return StatisticSet(sample_count=numbers, sum=m.sum, minimum=m.min, maximum=m.max)


def _clamp(value: float) -> float | None:
    if not math.isfinite(value):
        return None
    if abs(value) < _MIN_MAGNITUDE:
        return 0.0
    return max(-_MAX_MAGNITUDE, min(_MAX_MAGNITUDE, value))


def _publishable(datum: MetricDatum) -> MetricDatum | None:
    """None for what CloudWatch would reject (non-finite values, over-long names)."""
    if len(datum.name) > MAX_NAME_LENGTH:
        return None
    if datum.statistics is not None:
        s = datum.statistics
        clamped = [_clamp(v) for v in (s.sum, s.minimum, s.maximum)]
        if any(v is None for v in clamped):
            return None
        total, low, high = (float(v) for v in clamped if v is not None)
        stats = StatisticSet(sample_count=s.sample_count, sum=total, minimum=low, maximum=high)
        return datum.model_copy(update={"statistics": stats})
    value = _clamp(datum.value) if datum.value is not None else None
    return None if value is None else datum.model_copy(update={"value": value})


def encoded_size(datum: MetricDatum) -> int:
    """An upper estimate of a datum's bytes in a PutMetricData request (query encoding)."""
    member = 60  # "MetricData.member.NNNN." prefix per parameter, and separators
    size = member + len("MetricName=") + len(datum.name.encode()) * 3
    for name, value in datum.dimensions:
        size += 2 * member + len(name.encode()) * 3 + len(value.encode()) * 3
    size += member + 40  # Timestamp
    size += member + 20  # Unit
    size += (4 if datum.statistics is not None else 1) * (member + 30)
    return size


def batches(
    data: Iterable[MetricDatum],
    max_metrics: int = MAX_METRICS_PER_CALL,
    max_bytes: int = MAX_PAYLOAD_BYTES,
) -> Iterator[list[MetricDatum]]:
    """Split into requests of at most ``max_metrics`` data and ``max_bytes`` (estimated)."""
    batch: list[MetricDatum] = []
    size = 0
    for datum in data:
        cost = encoded_size(datum)
        if batch and (len(batch) >= max_metrics or size + cost > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(datum)
        size += cost
    if batch:
        yield batch
