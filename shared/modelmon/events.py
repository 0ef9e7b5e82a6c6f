"""Event models: the pydantic twins of the JSON Schemas in ``schemas/``.

``schemas/`` is the source of truth; ``tests/unit/test_schemas.py`` checks that each schema,
its model and its examples agree and round-trip. Changes within a schema version are
additive only: new optional fields, never a renamed or retyped one.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Protocol

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)

from modelmon.names import NAME_PATTERN, Name

SCHEMA_VERSION: Literal[1] = 1

#: Model ids become Kafka keys, Redis key parts and S3 path segments: keep them plain
#: (the one pattern of every such name, ``modelmon.names``).
MODEL_ID_PATTERN = NAME_PATTERN
ModelId = Name

#: A feature value as captured: JSON scalars only. Lists/objects are not features.
Scalar = str | int | float | bool | None


def _require_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamps must carry a timezone (UTC, e.g. 2026-01-01T00:00:00Z)")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_require_utc)]


def new_event_id() -> str:
    """A fresh idempotency key."""
    return str(uuid.uuid4())


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Payload(_Event):
    """A raw request or response body as observed (SageMaker's endpointInput/Output)."""

    content_type: str = Field(description="observedContentType, e.g. text/csv or application/json")
    encoding: Literal["CSV", "JSON", "BASE64"]
    data: str = Field(description="the body as a string; base64 when encoding is BASE64")


class Outputs(_Event):
    """What the model answered. Named outputs beyond these three are allowed."""

    model_config = ConfigDict(extra="allow", frozen=True)

    prediction: Scalar = Field(default=None, description="the predicted label or value")
    probability: float | None = Field(
        default=None, description="binary classifiers: probability of the positive class"
    )
    scores: dict[str, float] | None = Field(
        default=None, description="multiclass: score or probability per class label"
    )


class CaptureEvent(_Event):
    """One inference, as captured (topic ``modelmon.capture.v1``, key = model id)."""

    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: str = Field(default_factory=new_event_id, min_length=1, max_length=128)
    model_id: ModelId
    variant: Name = Field(default="AllTraffic", min_length=1, max_length=128)
    inference_id: str | None = Field(
        default=None,
        max_length=256,
        description="join key for ground-truth labels; defaults to event_id",
    )
    event_time: UtcDatetime = Field(description="when the inference happened (UTC)")
    inputs: dict[str, Scalar] = Field(description="named feature values")
    outputs: Outputs = Field(default_factory=Outputs)
    latency_ms: float | None = Field(default=None, ge=0)
    attributions: dict[str, float] | None = Field(
        default=None, description="per-feature attributions (e.g. SHAP) for this inference"
    )
    metadata: dict[str, str] | None = None
    request: Payload | None = Field(default=None, description="raw request body, if captured")
    response: Payload | None = Field(default=None, description="raw response body, if captured")
    source: Literal["sdk", "proxy", "ingest", "sagemaker"] | None = None

    @model_validator(mode="after")
    def _default_inference_id(self) -> CaptureEvent:
        if self.inference_id is None:
            object.__setattr__(self, "inference_id", self.event_id)
        return self


#: Why an input was dead-lettered: a closed set (``reason`` adds the details, for a human).
DeadLetterCode = Literal[
    "invalid_event",  # undecodable, or not valid against its schema
    "unknown_model",  # names a model that is not registered
    "oversize",  # larger than the configured limit
    "corrupt_state",  # a stored partial/result/baseline blob that cannot be read
    "delivery_failed",  # an alert route refused it or kept failing
    "unhandled",  # anything else that made the consumer give up on the input
    "not_explainable",  # the explainer cannot explain it (a feature missing, not numeric, ...)
    # the input classes a decoder names (modelmon.streaming.poison): each an invalid_event
    "no_value",  # a Kafka message without a value
    "invalid_utf8",  # bytes that are not UTF-8 inside a valid JSON event
    "too_deep",  # nesting past the decoder's depth
    "number_out_of_range",  # past float64, or an integer past 64 bits
    "invalid_json",  # not JSON at all
    "schema_violation",  # JSON, but not a valid capture event
    "event_time_out_of_bounds",  # dated past the configured future/past horizons
]
#: The codes of input that is not a valid event: ``invalid_event`` or the class a decoder named.
INVALID_EVENT_CODES: frozenset[str] = frozenset(
    {"invalid_event", "no_value", "invalid_utf8", "too_deep", "number_out_of_range"}
    | {"invalid_json", "schema_violation", "event_time_out_of_bounds"}
)


class DeadLetterRecord(_Event):
    """Input that could not be processed (topic ``modelmon.deadletter.v1``)."""

    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: str = Field(default_factory=new_event_id)
    model_id: str | None = Field(default=None, description="when it could be read from the input")
    service: str = Field(description="the service that gave up, e.g. aggregator")
    code: DeadLetterCode = Field(default="unhandled", description="why, as a closed set of codes")
    reason: str = Field(description="what was wrong, for a human")
    error_type: str = Field(description="the exception class, e.g. InvalidEventError")
    source_topic: str | None = None
    source_partition: int | None = None
    source_offset: int | None = None
    original: str = Field(
        description="the original bytes, base64-encoded (the first original_cap bytes)"
    )
    original_size: int | None = Field(
        default=None, ge=0, description="size of the whole original in bytes"
    )
    original_truncated: bool = Field(
        default=False, description="original holds only a prefix: fetch it by topic/offset"
    )
    failed_at: UtcDatetime


CheckType = Literal[
    "data_type_check",
    "completeness_check",
    "baseline_drift_check",
    "missing_column_check",
    "extra_column_check",
    "categorical_values_check",
    "non_negative_check",
]
#: Model quality against its constraints (``modelmon run labeljoin``); feature = metric name.
QualityCheckType = Literal["model_quality_check"]
#: Bias metrics against the bias baseline (``modelmon run labeljoin``); feature =
#: ``{facet}={facet value}/{metric}``.
BiasCheckType = Literal["bias_drift_check"]
#: Clarify's explainability check (modelmon.attribution).
AttributionCheckType = Literal["feature_attribution_drift_check"]
#: What an alert is about: a check, ``evaluation_failed`` (the detector could not evaluate
#: the window; feature ``*``, the reason in the description) or a model-quality constraint.
AlertKind = (
    CheckType
    | Literal["evaluation_failed"]
    | QualityCheckType
    | BiasCheckType
    | AttributionCheckType
)

#: How a feature is profiled and compared (one definition for config, profiles and checks).
FeatureKind = Literal["numeric", "categorical"]
#: SageMaker's inferred types of a feature (statistics.json ``inferred_type``).
InferredType = Literal["Integral", "Fractional", "String", "Unknown"]


class CheckOutcome(_Event):
    """One check of one feature in one window: passed or violated, with its numbers."""

    check_type: CheckType
    feature: str
    violated: bool
    value: float | None = None
    threshold: float | None = None
    method: str | None = Field(default=None, description="distance used, for drift checks")
    description: str = ""
    error_bound: float | None = Field(
        default=None,
        ge=0,
        description="drift checks: bound on |value - value on the exact data| (None: unknown)",
    )
    borderline: bool = Field(
        default=False,
        description="drift checks: the threshold lies within error_bound of value, so the exact "
        "data could give the other verdict (the verdict still follows value)",
    )


class FeatureMetrics(_Event):
    """Per-feature figures of a window; distances keyed by registry name."""

    inferred_type: InferredType
    count: int = Field(ge=0)
    missing: int = Field(ge=0)
    completeness: float = Field(ge=0, le=1)
    type_mismatches: int = Field(default=0, ge=0)
    mean: float | None = None
    std: float | None = None
    min: float | None = None
    max: float | None = None
    sum: float | None = None
    distinct_estimate: float | None = None
    distances: dict[str, float] = Field(default_factory=dict)


class WindowResult(_Event):
    """The evaluation of one (model, window) against the model's baseline."""

    schema_version: Literal[1] = SCHEMA_VERSION
    model_id: ModelId
    variant: Name = "AllTraffic"
    window_start: UtcDatetime
    window_end: UtcDatetime
    rolling_windows: int = Field(default=1, ge=1, description="windows merged (rolling view)")
    evaluated_at: UtcDatetime
    event_count: int = Field(ge=0)
    late_event_count: int = Field(default=0, ge=0)
    features: dict[str, FeatureMetrics]
    checks: list[CheckOutcome]
    report_uri: str | None = None
    status: Literal["evaluated", "failed"] = Field(
        default="evaluated", description="failed: the window could not be evaluated (reason)"
    )
    failure_reason: str | None = None

    @property
    def violations(self) -> list[CheckOutcome]:
        return [c for c in self.checks if c.violated]


class AlertEvent(_Event):
    """A violated check (``state=ALARM``) or its clearing (``state=OK``)."""

    schema_version: Literal[1] = SCHEMA_VERSION
    type: Literal["alert"] = "alert"
    event_id: str = Field(description="idempotency key: same alert, same id")
    alert_key: str = Field(description="stable per model/variant/check/feature, e.g. for dedup")
    model_id: ModelId
    variant: Name = "AllTraffic"
    window_start: UtcDatetime
    window_end: UtcDatetime
    check_type: AlertKind
    feature: str
    value: float | None = None
    threshold: float | None = None
    method: str | None = None
    severity: Literal["info", "warning", "critical"] = "warning"
    state: Literal["ALARM", "OK"] = "ALARM"
    description: str
    report_uri: str | None = None
    detected_at: UtcDatetime


class WindowEvaluated(_Event):
    """Every metric of one evaluated window, so alerting can publish all of them."""

    schema_version: Literal[1] = SCHEMA_VERSION
    type: Literal["window_evaluated"] = "window_evaluated"
    event_id: str
    model_id: ModelId
    result: WindowResult


AlertsTopicEvent = Annotated[AlertEvent | WindowEvaluated, Field(discriminator="type")]


def alert_key(model_id: str, variant: str, check_type: str, feature: str) -> str:
    """The stable identity of an alert across windows."""
    return f"{model_id}/{variant}/{check_type}/{feature}"


def transition_id(
    series: str, model_id: str, window_start_ms: int, feature: str, state: str, evidence: int
) -> str:
    """The id of one check's state in one window of a series evaluated again as evidence
    arrives (the label join's quality and bias, the attributions): ``series`` is the id's
    prefix (``q``, ``b``, ``a``), ``evidence`` the count it rests on (labelled pairs, joined
    pairs, attributions). Same window, check, state and evidence, same id."""
    text = f"{model_id}|{window_start_ms}|{feature}|{state}|{evidence}"
    return f"{series}-{hashlib.sha256(text.encode()).hexdigest()[:32]}"


def window_alert(
    model_id: str,
    window_ms: tuple[int, int],
    check_type: AlertKind,
    feature: str,
    *,
    event_id: str,
    description: str,
    detected_at: datetime,
    variant: str = "AllTraffic",
    state: str = "ALARM",
    value: float | None = None,
    threshold: float | None = None,
    method: str | None = None,
    severity: str = "warning",
    report_uri: str | None = None,
) -> AlertEvent:
    """The alert event of one check of one window (start, end in epoch ms), its ``alert_key``
    derived from model, variant, check and feature."""
    return AlertEvent(
        event_id=event_id,
        alert_key=alert_key(model_id, variant, check_type, feature),
        model_id=model_id,
        variant=variant,
        window_start=datetime.fromtimestamp(window_ms[0] / 1000, UTC),
        window_end=datetime.fromtimestamp(window_ms[1] / 1000, UTC),
        check_type=check_type,
        feature=feature,
        value=value,
        threshold=threshold,
        method=method,
        severity=severity,  # validated by the model: one of its Literal values
        state=state,
        description=description,
        report_uri=report_uri,
        detected_at=detected_at,
    )


class EvaluatedWindow(Protocol):
    """What ``series_alert`` reads of a label-join or attribution evaluation."""

    @property
    def model_id(self) -> str: ...
    @property
    def window_start_ms(self) -> int: ...
    @property
    def window_end_ms(self) -> int: ...


def series_alert(
    evaluation: EvaluatedWindow, series: str, evidence: int, check_type: AlertKind, feature: str,
    state: str, **fields: Any,
) -> AlertEvent:  # fmt: skip
    """``window_alert`` of an evaluated window, its id the ``transition_id`` of the check's
    state (``fields``: ``window_alert``'s keyword arguments)."""
    start = evaluation.window_start_ms
    return window_alert(
        evaluation.model_id, (start, evaluation.window_end_ms), check_type, feature,
        event_id=transition_id(series, evaluation.model_id, start, feature, state, evidence),
        state=state, **fields,
    )  # fmt: skip
