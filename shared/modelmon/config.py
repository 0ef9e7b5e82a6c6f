"""Per-model monitoring configuration (``schemas/model-config.schema.json``).

Registered with ``modelmon model register --config model.yaml`` and stored in Redis;
services re-read it without a restart. Defaults follow SageMaker Model Monitor's
(comparison_threshold 0.1, Robust comparison, LInfinity for categoricals).
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from modelmon.bias.config import BiasConfig
from modelmon.events import MODEL_ID_PATTERN, CheckType, FeatureKind
from modelmon.explain.config import ExplainerConfig
from modelmon.names import Name

#: SageMaker's data-quality checks: every ``CheckType`` but ``non_negative_check`` (ours, opt-in).
DEFAULT_CHECKS: tuple[CheckType, ...] = tuple(
    check for check in get_args(CheckType) if check != "non_negative_check"
)


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FeatureConfig(_Config):
    """One monitored feature; unset fields fall back to the model-wide defaults."""

    name: str = Field(min_length=1)
    kind: FeatureKind | None = Field(default=None, description="taken from the baseline if unset")
    drift_method: str | None = Field(default=None, description="a name from the drift registry")
    drift_threshold: float | None = Field(default=None, ge=0)
    completeness_threshold: float | None = Field(default=None, ge=0, le=1)
    monitored: bool = True


class WindowConfig(_Config):
    """Event-time tumbling windows aligned to the epoch."""

    size_seconds: int = Field(default=3600, ge=1, le=31 * 86400)
    allowed_lateness_seconds: int = Field(default=60, ge=0)
    idle_timeout_seconds: int = Field(default=300, ge=1)
    rolling_windows: int = Field(
        default=1, ge=1, le=1000, description="also evaluate the merge of the last K windows"
    )


class DriftConfig(_Config):
    """Model-wide drift defaults (SageMaker's monitoring_config)."""

    numeric_method: str = "linf_robust"
    categorical_method: str = "linf_categorical_robust"
    threshold: float = Field(
        default=0.1, ge=0, description="SageMaker's comparison_threshold: for SageMaker's methods"
    )
    policy: Literal["sagemaker", "recommended"] = Field(
        default="sagemaker",
        description="sagemaker: one method per feature (SageMaker's default); recommended: "
        "several methods, each with its own threshold (docs/statistics.md)",
    )
    method_thresholds: dict[str, float] = Field(
        default_factory=dict,
        description="threshold per drift-registry method name, replacing the registry default",
    )
    datatype_check_threshold: float = Field(default=1.0, ge=0, le=1)
    domain_content_threshold: float = Field(default=1.0, ge=0, le=1)
    min_window_count: int = Field(
        default=30, ge=1, description="windows with fewer events are not drift-checked"
    )


#: Signing secrets come from the alerting service's environment, from this namespace only
#: (a model config cannot make it read, say, AWS_SECRET_ACCESS_KEY).
SECRET_ENV_PATTERN = r"^MODELMON_[A-Z0-9_]{1,120}$"


class WebhookRoute(_Config):
    url: str = Field(description="https:// (http:// only with allow_http)")
    format: Literal["json", "slack"] = "json"
    secret_env: str | None = Field(
        default=None,
        pattern=SECRET_ENV_PATTERN,
        description="name of the env var (MODELMON_...) holding the HMAC-SHA256 signing secret",
    )
    timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    allow_http: bool = Field(
        default=False, description="allow a plain http:// URL (e.g. a receiver on loopback)"
    )

    @model_validator(mode="after")
    def _https_only(self) -> WebhookRoute:
        if self.url[:7].lower() == "http://" and not self.allow_http:
            raise ValueError(
                f"webhook url {self.url!r} is plain http: use https:// "
                "(or set allow_http: true on this route)"
            )
        return self


def _get(obj: Any, key: str) -> Any:
    """``key`` of a dict or an attribute of a model (None when absent)."""
    return obj.get(key) if isinstance(obj, dict) else getattr(obj, key, None)


#: SageMaker's own rule for an endpoint name (CreateEndpoint ``EndpointName``): the pattern
#: and at most 63 characters (the pattern alone allows any run of hyphens).
ENDPOINT_NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"
ENDPOINT_NAME_MAX_LENGTH = 63


class CloudWatchRoute(_Config):
    enabled: bool = True
    namespace: str = "aws/sagemaker/Endpoints/data-metrics"
    endpoint_name: str | None = Field(
        default=None,
        pattern=ENDPOINT_NAME_PATTERN,
        max_length=ENDPOINT_NAME_MAX_LENGTH,
        description="deprecated spelling of the model's endpoint_name (read into it)",
    )
    schedule_name: Name = "modelmon"


class AlertRoutes(_Config):
    sns_topic_arn: str | None = None
    webhooks: list[WebhookRoute] = Field(default_factory=list)
    cloudwatch: CloudWatchRoute = Field(default_factory=CloudWatchRoute)
    cooldown_seconds: int = Field(default=0, ge=0)
    severity: dict[str, Literal["info", "warning", "critical"]] = Field(
        default_factory=dict, description="severity per check type; 'warning' if unset"
    )


class QualityConfig(_Config):
    """Model quality from ground-truth labels (``modelmon run labeljoin``)."""

    problem_type: Literal["BinaryClassification", "MulticlassClassification", "Regression"]
    positive_label: str = Field(default="1", description="binary: the positive class")
    threshold: float = Field(
        default=0.5, ge=0, le=1, description="binary: probability >= threshold is positive"
    )
    label_horizon_seconds: int = Field(
        default=7 * 86400, ge=1, description="how long a prediction waits for its label"
    )
    min_labels: int = Field(
        default=100, ge=1, description="a window is evaluated once it has this many labels"
    )
    constraints: dict[str, Any] | None = Field(
        default=None,
        description="a model-quality constraints.json document (ours or SageMaker's)",
    )


class BiasSection(_Config):
    """Bias drift from labels (``modelmon run labeljoin``): Clarify's analysis config and the
    bias baseline (Clarify's analysis.json, e.g. from ``baseline create --analysis bias``)."""

    analysis_config: BiasConfig = Field(
        description="Clarify's analysis_config.json as is (label, facet, predicted_label, ...); "
        "column names are capture input names, 'prediction' and the label"
    )
    baseline: dict[str, Any] | None = Field(
        default=None,
        description="the bias baseline analysis.json (Clarify's or ours); unset: metrics only, "
        "no bias_drift_check",
    )
    confidence_level: float = Field(
        default=0.95,
        gt=0,
        lt=1,
        description="level of the normal bootstrap confidence interval reported with each "
        "window metric",
    )
    bootstrap_replicates: int = Field(
        default=1000,
        ge=0,
        le=100_000,
        description="bootstrap replicates per interval (seeded: the same counts give the same "
        "interval); 0: no intervals",
    )
    check: Literal["point", "interval"] = Field(
        default="point",
        description="point: SageMaker's rule, a metric farther from its ideal value than the "
        "baseline's violates; interval: only when its whole confidence interval is (fewer "
        "false alarms on windows of few rows)",
    )

    @model_validator(mode="after")
    def _interval_check_needs_replicates(self) -> BiasSection:
        if self.check == "interval" and self.bootstrap_replicates < 2:
            raise ValueError("check: interval needs bootstrap_replicates >= 2")
        return self


class ExplainabilitySection(_Config):
    """Feature-attribution drift (docs/attribution.md): Clarify's explainability baseline
    (``analysis.json``, e.g. from ``baseline create --analysis explainability``) and the NDCG
    threshold below which a window violates ``feature_attribution_drift_check``."""

    baseline: dict[str, Any] | None = Field(
        default=None,
        description="the explainability baseline analysis.json (Clarify's or ours); unset: "
        "attributions are profiled and reported, no feature_attribution_drift_check",
    )
    threshold: float = Field(
        default=0.9, ge=0.0, le=1.0, description="alert when a window's NDCG is below this"
    )
    label: str = Field(
        default="label0",
        min_length=1,
        max_length=256,
        description="the label name of the capture events' (flat) attributions",
    )
    baseline_label: str | None = Field(
        default=None,
        description="the baseline label to compare with; unset: the same name "
        "(or the baseline's only label)",
    )


class ModelConfig(_Config):
    """Everything modelmon needs to monitor one model."""

    schema_version: Literal[1] = 1
    model_id: str = Field(pattern=MODEL_ID_PATTERN)
    description: str = ""
    features: list[FeatureConfig] = Field(
        default_factory=list, description="empty: every feature of the baseline"
    )
    label: str | None = Field(default=None, description="ground-truth column, never a feature")
    window: WindowConfig = Field(default_factory=WindowConfig)
    drift: DriftConfig = Field(default_factory=DriftConfig)
    checks: list[CheckType] = Field(default_factory=lambda: list(DEFAULT_CHECKS))
    alerts: AlertRoutes = Field(default_factory=AlertRoutes)
    schedule_name: Name = Field(default="modelmon", description="report path segment")
    html_report: bool = Field(
        default=True,
        description="the detector writes report.html beside each window's statistics.json "
        "(when it has --out); false: the JSON files only",
    )
    quality: QualityConfig | None = Field(
        default=None, description="model quality from labels; unset: no label join"
    )
    bias: BiasSection | None = Field(
        default=None,
        description="bias drift per window from the label join (needs quality); unset: none",
    )
    explainer: ExplainerConfig | None = Field(
        default=None,
        description="SHAP attributions of sampled captures (modelmon run explainer, "
        "docs/explainer.md); unset: not explained",
    )
    explainability: ExplainabilitySection | None = Field(
        default=None,
        description="feature-attribution drift from the capture events' attributions; unset: none",
    )
    endpoint_name: str | None = Field(
        default=None,
        pattern=ENDPOINT_NAME_PATTERN,
        max_length=ENDPOINT_NAME_MAX_LENGTH,
        description="SageMaker endpoint name: capture archive folder, report folder and the "
        "CloudWatch Endpoint dimension; defaults to the model id (docs/sagemaker-compatibility.md)",
    )

    @model_validator(mode="before")
    @classmethod
    def _endpoint_from_cloudwatch(cls, data: Any) -> Any:
        """``alerts.cloudwatch.endpoint_name`` (the older place) fills ``endpoint_name``."""
        if not isinstance(data, dict):
            return data
        old = _get(_get(data.get("alerts"), "cloudwatch"), "endpoint_name")
        if old is None:
            return data
        new = data.get("endpoint_name")
        if new is not None and new != old:
            raise ValueError(
                f"endpoint_name {new!r} and alerts.cloudwatch.endpoint_name {old!r} differ: "
                "keep endpoint_name only"
            )
        return {**data, "endpoint_name": old}

    @model_validator(mode="after")
    def _unique_features(self) -> ModelConfig:
        names = [f.name for f in self.features]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"features listed twice: {', '.join(dupes)}")
        if self.bias is not None and self.quality is None:
            raise ValueError("bias needs quality: its metrics come from the label join")
        if self.bias is not None:
            bias = self.bias.analysis_config
            for column in (bias.label, bias.predicted_label, bias.probability, bias.group_variable):
                if column is not None:
                    bias.column(column)  # a CSV index needs headers that cover it
        if self.explainability is not None and self.explainability.baseline is not None:
            from modelmon.attribution.analysis import parse_analysis as parse_explainability
            from modelmon.errors import BaselineError as _BaselineError

            try:
                parse_explainability(self.explainability.baseline)
            except _BaselineError as exc:
                raise ValueError(f"explainability.baseline: {exc}") from exc
        if self.bias is not None and self.bias.baseline is not None:
            from modelmon.bias.analysis import parse_analysis
            from modelmon.errors import BaselineError

            try:  # a malformed baseline fails at registration
                parse_analysis(self.bias.baseline)
            except BaselineError as exc:
                raise ValueError(f"bias.baseline: {exc}") from exc
        return self

    def feature(self, name: str) -> FeatureConfig | None:
        return next((f for f in self.features if f.name == name), None)


def endpoint_name(model_id: str, config: ModelConfig | None) -> str:
    """The one rule for a model's SageMaker endpoint name: ``config.endpoint_name``, else the
    model id. Capture archive paths (``{prefix}/{endpoint}/{variant}/yyyy/mm/dd/hh/``), report
    paths (``{endpoint}/{schedule}/yyyy/mm/dd/hh/``) and the CloudWatch ``Endpoint`` dimension
    all use it, as SageMaker does with the endpoint's name."""
    if config is not None and config.endpoint_name is not None:
        return config.endpoint_name
    return model_id
