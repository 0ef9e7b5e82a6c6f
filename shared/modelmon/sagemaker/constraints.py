"""``constraints.json``: what a dataset must satisfy (SPEC.md §2.2).

Reads the current keys and the older ones found in SageMaker's own files:
``distribution_constraints.enable_comparisons`` (bool) stands for ``perform_comparison``,
``min_domain_mass`` for ``domain_content_threshold``. Per-feature overrides are read from every
place SageMaker's files and clients put them (``OVERRIDE_PLACES``, most authoritative first):
``monitoringConfigOverrides`` (the developer guide), ``monitoring_config_overrides`` (what the
SageMaker Python SDK 2.x and 3.x ``Constraints.set_monitoring(False, feature_name=...)`` writes)
and the same two inside ``string_constraints`` (older SDKs' files); keys inside may be snake_case
or camelCase, toggles "Enabled"/"Disabled" or booleans. Writing always uses the current keys, so
a file we write is a file SageMaker reads.
"""

from __future__ import annotations

import re
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
    """Old files use booleans where new ones use "Enabled"/"Disabled" (any letter case)."""
    if isinstance(value, bool):
        return "Enabled" if value else "Disabled"
    if isinstance(value, str) and value.lower() in ("enabled", "disabled"):
        return value.capitalize()
    return value


_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")


def _snake(key: str, known: Any) -> str:
    """``evaluateConstraints`` -> ``evaluate_constraints`` when that is a ``known`` key;
    any other key is kept as written, so unknown keys round-trip unchanged."""
    snake = _CAMEL.sub(r"_\1", key).lower()
    return snake if snake in known else key


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
            known = {*cls.model_fields, "distribution_constraints"}
            data = {_snake(k, known): v for k, v in data.items()}
            nested = data.pop("distribution_constraints", None)
            if isinstance(nested, dict):
                for key, value in nested.items():
                    data.setdefault(_snake(key, known), value)
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
    monitoringConfigOverrides: FeatureOverrides | None = None


#: Where a feature's overrides may sit, most authoritative first ("a.b" = key b inside a).
OVERRIDE_PLACES = (
    "monitoringConfigOverrides",
    "monitoring_config_overrides",
    "string_constraints.monitoringConfigOverrides",
    "string_constraints.monitoring_config_overrides",
)


class FeatureConstraints(_SmModel):
    name: str
    inferred_type: InferredType
    completeness: float | None = None
    num_constraints: NumConstraints | None = None
    string_constraints: StringConstraints | None = None
    monitoringConfigOverrides: FeatureOverrides | None = None
    monitoring_config_overrides: FeatureOverrides | None = None

    def overrides(self) -> FeatureOverrides:
        """The feature's overrides from every place in ``OVERRIDE_PLACES``, merged key by key
        (a key set in an earlier place wins)."""
        merged = FeatureOverrides()
        for place in OVERRIDE_PLACES:
            holder: Any = self
            for part in place.split("."):
                holder = getattr(holder, part, None) if holder is not None else None
            if isinstance(holder, FeatureOverrides):
                merged = merged.merged(holder)
        return merged


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
