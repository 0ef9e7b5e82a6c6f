"""``constraints.json``: what a dataset must satisfy (SPEC.md §2.2).

Reads the current keys and the older ones found in SageMaker's own files:
``distribution_constraints.enable_comparisons`` (bool) stands for ``perform_comparison``,
``min_domain_mass`` for ``domain_content_threshold``, and per-feature overrides may sit in
``monitoringConfigOverrides`` (documented) or ``string_constraints.monitoring_config_overrides``
(what the SageMaker SDK's ``Constraints.set_monitoring()`` writes). Writing always uses the
current keys, so a file we write is a file SageMaker reads.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from modelmon.sagemaker.statistics import InferredType, _SmModel

#: SageMaker's suggested defaults (real container output, SPEC.md §2.2).
DEFAULT_COMPARISON_THRESHOLD = 0.1
DEFAULT_COMPARISON_METHOD = "Robust"
DEFAULT_CATEGORICAL_DRIFT_METHOD = "LInfinity"
DEFAULT_DATATYPE_CHECK_THRESHOLD = 1.0
DEFAULT_DOMAIN_CONTENT_THRESHOLD = 1.0


def _toggle(value: Any) -> Any:
    """Old files use booleans where new ones use "Enabled"/"Disabled"."""
    if isinstance(value, bool):
        return "Enabled" if value else "Disabled"
    return value


Toggle = Annotated[Literal["Enabled", "Disabled"], BeforeValidator(_toggle)]


class NumConstraints(_SmModel):
    is_non_negative: bool | None = None


class FeatureOverrides(_SmModel):
    """Per-feature monitoring overrides. Any key left unset falls back to monitoring_config.

    ``comparison_method`` may also be a modelmon drift-registry name (e.g. ``psi``).
    """

    evaluate_constraints: Toggle | None = None
    emit_metrics: Toggle | None = None
    datatype_check_threshold: float | None = None
    domain_content_threshold: float | None = None
    comparison_threshold: float | None = None
    comparison_method: str | None = None
    categorical_comparison_threshold: float | None = None
    categorical_drift_method: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            nested = data.pop("distribution_constraints", None)
            if isinstance(nested, dict):
                for key, value in nested.items():
                    data.setdefault(key, value)
        return data

    def merged(self, other: FeatureOverrides | None) -> FeatureOverrides:
        """These overrides with unset keys taken from ``other``."""
        if other is None:
            return self
        mine = self.model_dump(exclude_none=True)
        return FeatureOverrides.model_validate({**other.model_dump(exclude_none=True), **mine})


class StringConstraints(_SmModel):
    domains: list[str] | None = None
    monitoring_config_overrides: FeatureOverrides | None = None


class FeatureConstraints(_SmModel):
    name: str
    inferred_type: InferredType
    completeness: float | None = None
    num_constraints: NumConstraints | None = None
    string_constraints: StringConstraints | None = None
    monitoringConfigOverrides: FeatureOverrides | None = None

    def overrides(self) -> FeatureOverrides:
        """Both places SageMaker files keep per-feature overrides, documented key first."""
        legacy = (
            self.string_constraints.monitoring_config_overrides if self.string_constraints else None
        )
        own = self.monitoringConfigOverrides or FeatureOverrides()
        return own.merged(legacy)


class DistributionConstraints(_SmModel):
    perform_comparison: Toggle = "Enabled"
    comparison_threshold: float = DEFAULT_COMPARISON_THRESHOLD
    comparison_method: str = DEFAULT_COMPARISON_METHOD
    categorical_comparison_threshold: float = DEFAULT_COMPARISON_THRESHOLD
    categorical_drift_method: str = DEFAULT_CATEGORICAL_DRIFT_METHOD

    @model_validator(mode="before")
    @classmethod
    def _old_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            if "enable_comparisons" in data and "perform_comparison" not in data:
                data["perform_comparison"] = data.pop("enable_comparisons")
        return data


class MonitoringConfig(_SmModel):
    evaluate_constraints: Toggle = "Enabled"
    emit_metrics: Toggle = "Enabled"
    datatype_check_threshold: float = DEFAULT_DATATYPE_CHECK_THRESHOLD
    domain_content_threshold: float = DEFAULT_DOMAIN_CONTENT_THRESHOLD
    distribution_constraints: DistributionConstraints = Field(
        default_factory=DistributionConstraints
    )

    @model_validator(mode="before")
    @classmethod
    def _old_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            dist = data.get("distribution_constraints")
            if (
                isinstance(dist, dict)
                and "min_domain_mass" in dist
                and "domain_content_threshold" not in data
            ):
                data["domain_content_threshold"] = dist["min_domain_mass"]
        return data


class Constraints(_SmModel):
    """The whole ``constraints.json``."""

    version: float = 0.0
    features: list[FeatureConstraints] = Field(default_factory=list)
    monitoring_config: MonitoringConfig = Field(default_factory=MonitoringConfig)

    def feature(self, name: str) -> FeatureConstraints | None:
        return next((f for f in self.features if f.name == name), None)
