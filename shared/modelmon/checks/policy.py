"""Which checks run on a feature, with which method and thresholds.

Precedence, most specific first: a feature entry of the ModelConfig; the feature's
``monitoringConfigOverrides`` in constraints.json; a model-wide ModelConfig value the user set
explicitly; constraints.json's ``monitoring_config``. SageMaker method names ("Simple",
"Robust", "LInfinity", "ChiSquared") and drift-registry names are both accepted.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelmon.config import DEFAULT_CHECKS, DriftConfig, FeatureConfig, ModelConfig
from modelmon.drift import get_method, sagemaker_method
from modelmon.events import CheckType
from modelmon.profile import FeatureKind
from modelmon.sagemaker.constraints import (
    Constraints,
    DistributionConstraints,
    FeatureOverrides,
)


@dataclass(frozen=True)
class FeaturePolicy:
    """Everything the checks of one feature need to know besides the data."""

    monitored: bool
    evaluate_constraints: bool
    compare: bool
    drift_method: str
    drift_threshold: float
    datatype_threshold: float
    domain_threshold: float
    completeness: float | None
    is_non_negative: bool
    domain: frozenset[str] | None


def enabled_checks(config: ModelConfig | None) -> frozenset[CheckType]:
    return frozenset(config.checks if config is not None else DEFAULT_CHECKS)


def min_rows(config: ModelConfig | None) -> int:
    drift = config.drift if config is not None else DriftConfig()
    return drift.min_window_count


def _set(drift: DriftConfig | None, name: str) -> bool:
    return drift is not None and name in drift.model_fields_set


def _drift(
    kind: FeatureKind,
    over: FeatureOverrides,
    fcfg: FeatureConfig | None,
    drift: DriftConfig | None,
    dist: DistributionConstraints,
) -> tuple[str, float]:
    """The drift method (a registry name) and threshold of one feature."""
    if kind == "numeric":
        method = over.comparison_method
        model_wide = drift.numeric_method if _set(drift, "numeric_method") else None  # type: ignore[union-attr]
        fallback, threshold = dist.comparison_method, over.comparison_threshold
        default_threshold = dist.comparison_threshold
    else:
        method = over.categorical_drift_method
        model_wide = drift.categorical_method if _set(drift, "categorical_method") else None  # type: ignore[union-attr]
        fallback, threshold = dist.categorical_drift_method, over.categorical_comparison_threshold
        default_threshold = dist.categorical_comparison_threshold
    chosen = (fcfg.drift_method if fcfg else None) or method or model_wide or fallback
    name = sagemaker_method(chosen, kind)
    get_method(name)  # an unknown name fails here, listing the available ones
    if fcfg is not None and fcfg.drift_threshold is not None:
        threshold = fcfg.drift_threshold
    if threshold is None and _set(drift, "threshold"):
        threshold = drift.threshold  # type: ignore[union-attr]
    return name, default_threshold if threshold is None else threshold


def feature_policy(
    name: str, kind: FeatureKind, constraints: Constraints, config: ModelConfig | None
) -> FeaturePolicy:
    """Resolve one feature's policy (see the module docstring for the precedence)."""
    mc = constraints.monitoring_config
    cons = constraints.feature(name)
    over = cons.overrides() if cons is not None else FeatureOverrides()
    fcfg = config.feature(name) if config is not None else None
    drift = config.drift if config is not None else None
    method, threshold = _drift(kind, over, fcfg, drift, mc.distribution_constraints)

    def pick(override: float | None, field: str, sm_value: float) -> float:
        if override is not None:
            return override
        return float(getattr(drift, field)) if _set(drift, field) else sm_value

    completeness = cons.completeness if cons is not None else None
    if fcfg is not None and fcfg.completeness_threshold is not None:
        completeness = fcfg.completeness_threshold
    strings = cons.string_constraints if cons is not None else None
    nums = cons.num_constraints if cons is not None else None
    return FeaturePolicy(
        monitored=fcfg.monitored if fcfg is not None else True,
        evaluate_constraints=(over.evaluate_constraints or mc.evaluate_constraints) == "Enabled",
        compare=mc.distribution_constraints.perform_comparison == "Enabled",
        drift_method=method,
        drift_threshold=threshold,
        datatype_threshold=pick(
            over.datatype_check_threshold, "datatype_check_threshold", mc.datatype_check_threshold
        ),
        domain_threshold=pick(
            over.domain_content_threshold, "domain_content_threshold", mc.domain_content_threshold
        ),
        completeness=completeness,
        is_non_negative=bool(nums and nums.is_non_negative),
        domain=frozenset(strings.domains) if strings and strings.domains is not None else None,
    )
