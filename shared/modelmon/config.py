"""Per-model monitoring configuration (``schemas/model-config.schema.json``).

Registered with ``modelmon model register --config model.yaml`` and stored in Redis;
services re-read it without a restart. Defaults follow SageMaker Model Monitor's
(comparison_threshold 0.1, Robust comparison, LInfinity for categoricals).
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from modelmon.events import MODEL_ID_PATTERN, CheckType, FeatureKind

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


class WebhookRoute(_Config):
    url: str
    format: Literal["json", "slack"] = "json"
    secret_env: str | None = Field(
        default=None, description="name of the env var holding the HMAC-SHA256 signing secret"
    )
    timeout_seconds: float = Field(default=5.0, gt=0, le=60)


class CloudWatchRoute(_Config):
    enabled: bool = True
    namespace: str = "aws/sagemaker/Endpoints/data-metrics"
    endpoint_name: str | None = Field(default=None, description="defaults to the model id")
    schedule_name: str = "modelmon"


class AlertRoutes(_Config):
    sns_topic_arn: str | None = None
    webhooks: list[WebhookRoute] = Field(default_factory=list)
    cloudwatch: CloudWatchRoute = Field(default_factory=CloudWatchRoute)
    cooldown_seconds: int = Field(default=0, ge=0)
    severity: dict[str, Literal["info", "warning", "critical"]] = Field(
        default_factory=dict, description="severity per check type; 'warning' if unset"
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
    schedule_name: str = Field(default="modelmon", description="report path segment")

    @model_validator(mode="after")
    def _unique_features(self) -> ModelConfig:
        names = [f.name for f in self.features]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"features listed twice: {', '.join(dupes)}")
        return self

    def feature(self, name: str) -> FeatureConfig | None:
        return next((f for f in self.features if f.name == name), None)
