"""The HTTP API's resource models (its OpenAPI document is generated from these).

Times are UTC ISO-8601; every list is a ``Page`` (``offset``/``limit``, ``total``,
``next_offset``). Numbers derived from sketches carry their bound (``rank_error`` of a KLL
CDF, ``frequency_error`` of a frequent-items table), as every sketch figure in modelmon does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from modelmon.events import CheckOutcome, CheckType, FeatureMetrics, WindowResult

T = TypeVar("T")

Health = Literal["ok", "drift", "alarm", "no_data"]
"""``alarm``: an alert key is in ALARM; ``drift``: the last window has violations; ``no_data``:
no window evaluated yet."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class Page(_Model, Generic[T]):
    """One page of a list: ``next_offset`` is the offset of the next page, or null at the end."""

    items: list[T]
    total: int = Field(ge=0)
    offset: int = Field(ge=0)
    limit: int = Field(ge=1)
    next_offset: int | None = None


class WindowBrief(_Model):
    """The essentials of one evaluated window."""

    window_start: datetime
    window_end: datetime
    evaluated_at: datetime
    event_count: int
    late_event_count: int
    violations: int
    drifted_features: list[str]


class AlarmState(_Model):
    """Alerting's current state of one alert key (model/variant/check/feature)."""

    alert_key: str
    variant: str
    check_type: str
    feature: str
    state: Literal["ALARM", "OK"]
    since: datetime
    window_end: datetime
    notified: bool


class ModelSummary(_Model):
    """One row of the overview."""

    model_id: str
    health: Health
    window_seconds: int
    features: int = Field(description="configured features (0: taken from the baseline)")
    has_baseline: bool
    registry_version: int
    changed_at: datetime
    last_window: WindowBrief | None
    violations_last_day: int = Field(description="violated checks in windows of the last 24 h")
    open_alarms: int


class ModelDetail(_Model):
    """A model: its stored config, status, last window and open alarms."""

    summary: ModelSummary
    config: dict[str, Any]
    alarms: list[AlarmState]


class Registered(_Model):
    """The answer to a registry write."""

    model_id: str
    registry_version: int


class BaselineFile(_Model):
    name: str
    size: int
    sha256: str


class BaselineInfo(_Model):
    """A stored baseline: its files (download each at ``.../baseline/files/{name}``)."""

    model_id: str
    version: int
    source: str
    changed_at: datetime
    files: list[BaselineFile]


class BaselineUpload(_Model):
    """Baseline files as base64 text: statistics.json and constraints.json (SageMaker's or
    ``modelmon baseline create``'s), optionally profile.bin and modelmon.json."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    files: dict[str, str] = Field(
        description="file name -> base64 content", min_length=1, max_length=4
    )
    source: str = Field(default="api", max_length=512, description="where it came from")


class FeaturePoint(_Model):
    """One window of one feature: its metrics and distances (the feature time series)."""

    window_start: datetime
    metrics: FeatureMetrics


class FeatureSeries(_Model):
    """A feature's metrics over time, with the drift method and threshold of its last check."""

    model_id: str
    feature: str
    method: str | None
    threshold: float | None
    higher_is_worse: bool
    page: Page[FeaturePoint]


class HeatCell(_Model):
    value: float | None
    threshold: float | None
    severity: float | None = Field(
        description="distance / threshold (threshold / p-value for p-value methods); >1 drifted"
    )
    violated: bool


class HeatMap(_Model):
    """Features × windows of the drift check: ``cells[f][w]`` is feature f in window w."""

    model_id: str
    features: list[str]
    windows: list[datetime]
    cells: list[list[HeatCell | None]]


class Violation(_Model):
    window_start: datetime
    window_end: datetime
    outcome: CheckOutcome


class AlertTransition(_Model):
    """An alert key entering ALARM (a check violated) or returning to OK, by window."""

    alert_key: str
    check_type: CheckType
    feature: str
    state: Literal["ALARM", "OK"]
    window_start: datetime
    window_end: datetime
    value: float | None
    threshold: float | None
    description: str


class Series(_Model):
    """One distribution, drawn as bars over ``labels``."""

    name: str
    shares: list[float]
    count: float


class Distribution(_Model):
    """Baseline vs window of one feature: shares per bin (numeric) or per category (top N),
    and for numeric features both CDFs at the bin edges."""

    model_id: str
    feature: str
    kind: Literal["numeric", "categorical"]
    window_start: datetime
    labels: list[str]
    series: list[Series]
    edges: list[float] = Field(default_factory=list, description="numeric: bin edges")
    cdf: list[Series] = Field(default_factory=list, description="numeric: CDF at each edge")
    error_bound: float = Field(
        description="rank error of the KLL sketch (numeric) or frequency error (categorical)"
    )
    categories_total: int = 0


class WindowPage(_Model):
    """Window results (as the detector wrote them) of one model."""

    model_id: str
    rolling: bool
    page: Page[WindowResult]


class Problem(_Model):
    """RFC 9457 problem details; ``errors`` names each offending field."""

    model_config = ConfigDict(frozen=True, extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldError] = Field(default_factory=list)


class FieldError(_Model):
    field: str = Field(description="where: body.x.y, query.limit, path.model_id, header...")
    detail: str


Problem.model_rebuild()


# -- model quality and bias (the label join's series) ----------------------------------------
class QualityMetric(_Model):
    """One model-quality metric of a window and the model's constraint on it, if any."""

    name: str
    value: float | None = Field(description="null: undefined in this window (e.g. NaN)")
    standard_deviation: float | None = None
    threshold: float | None = None
    comparison_operator: Literal["LessThanThreshold", "GreaterThanThreshold"] | None = None
    violated: bool = False


class QualityWindow(_Model):
    """One label-join evaluation of a window (SageMaker's model-quality monitor)."""

    window_start: datetime
    window_end: datetime
    problem_type: str
    predictions: int = Field(description="captured predictions of the window")
    labelled: int = Field(description="of which joined to a label")
    coverage: float
    metrics: list[QualityMetric]
    violations: list[dict[str, str]] = Field(
        description="constraint_violations.json entries (SageMaker's keys)"
    )


class QualitySeries(_Model):
    model_id: str
    page: Page[QualityWindow]


BiasValue = float | Literal["Infinity", "-Infinity"] | None


class BiasMetric(_Model):
    """One bias metric of one facet value in a window, beside its baseline and interval."""

    stage: Literal["pre_training", "post_training"]
    facet: str
    facet_value: str
    metric: str
    value: BiasValue = Field(description="null: Clarify's error (see error)")
    error: str | None = None
    low: float | None = Field(default=None, description="normal bootstrap interval, low end")
    high: float | None = None
    baseline: BiasValue = None
    ideal: float = Field(description="1 for DI, 0 for every other metric")
    checked: bool = Field(description="post-training metrics are checked; pre-training reported")
    violated: bool
    sensitive: int = Field(ge=0, description="joined pairs in the sensitive group")
    rest: int = Field(ge=0, description="joined pairs in the rest")


class BiasWindow(_Model):
    """One window's bias drift evaluation (Clarify's metrics per facet value)."""

    window_start: datetime
    window_end: datetime
    joined: int
    skipped: int
    check: Literal["point", "interval"]
    confidence_level: float | None
    violations: int
    metrics: list[BiasMetric]


class BiasSeries(_Model):
    model_id: str
    page: Page[BiasWindow]


# -- feature attribution (the detector's NDCG series) ------------------------------------------
class AttributionFeature(_Model):
    """One of a label's top features in a window: its global SHAP value beside the baseline's."""

    feature: str
    value: float = Field(description="the window's mean |SHAP| of the feature")
    baseline: float | None = Field(description="the baseline's; null: not in the baseline")


class AttributionLabel(_Model):
    """One label's NDCG check in a window (Clarify's feature_attribution_drift_check)."""

    label: str
    ndcg: float | None = Field(description="null: no baseline ranking to compare with")
    threshold: float | None = Field(description="null: not checked (no baseline)")
    violated: bool = Field(description="ndcg < threshold")
    top_features: list[AttributionFeature] = Field(
        description="the window's highest mean |SHAP| first (at most 10)"
    )


class AttributionWindow(_Model):
    """One window's feature-attribution drift evaluation."""

    window_start: datetime
    window_end: datetime
    attributions: int = Field(ge=0, description="events with attributions in the window")
    violations: int = Field(ge=0, description="labels whose NDCG is below the threshold")
    labels: list[AttributionLabel]


class AttributionSeries(_Model):
    model_id: str
    page: Page[AttributionWindow]
