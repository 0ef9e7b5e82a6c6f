"""Which checks run on a feature, with which method and thresholds.

Precedence, most specific first: a feature entry of the ModelConfig; the feature's
``monitoringConfigOverrides`` in constraints.json; a model-wide ModelConfig value the user set
explicitly; constraints.json's ``monitoring_config``. SageMaker method names ("Simple",
"Robust", "LInfinity", "ChiSquared") and drift-registry names are both accepted.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelmon.config import DEFAULT_CHECKS, DriftConfig, ModelConfig
from modelmon.drift import get_method, sagemaker_method
from modelmon.events import CheckType
from modelmon.profile import FeatureKind
from modelmon.sagemaker.constraints import Constraints, FeatureOverrides


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


def feature_policy(
    name: str, kind: FeatureKind, constraints: Constraints, config: ModelConfig | None
) -> FeaturePolicy:
    """Resolve one feature's policy (see the module docstring for the precedence)."""
    mc = constraints.monitoring_config
    dist = mc.distribution_constraints
    cons = constraints.feature(name)
    over = cons.overrides() if cons is not None else FeatureOverrides()
    fcfg = config.feature(name) if config is not None else None
    drift = config.drift if config is not None else None
    numeric = kind == "numeric"

    if numeric:
        method = over.comparison_method or (
            drift.numeric_method if drift and _set(drift, "numeric_method") else None
        )
        method = method or dist.comparison_method
        threshold = over.comparison_threshold
        default_threshold = dist.comparison_threshold
    else:
        method = over.categorical_drift_method or (
            drift.categorical_method if drift and _set(drift, "categorical_method") else None
        )
        method = method or dist.categorical_drift_method
        threshold = over.categorical_comparison_threshold
        default_threshold = dist.categorical_comparison_threshold
    if fcfg is not None and fcfg.drift_method:
        method = fcfg.drift_method
    method = sagemaker_method(method, kind)
    get_method(method)  # an unknown name fails here, listing the available ones
    if fcfg is not None and fcfg.drift_threshold is not None:
        threshold = fcfg.drift_threshold
    if threshold is None and drift is not None and _set(drift, "threshold"):
        threshold = drift.threshold
    if threshold is None:
        threshold = default_threshold

    def pick(override: float | None, field: str, sm_value: float) -> float:
        if override is not None:
            return override
        if drift is not None and _set(drift, field):
            return float(getattr(drift, field))
        return sm_value

    completeness = cons.completeness if cons is not None else None
    if fcfg is not None and fcfg.completeness_threshold is not None:
        completeness = fcfg.completeness_threshold
    strings = cons.string_constraints if cons is not None else None
    nums = cons.num_constraints if cons is not None else None
    evaluate = (over.evaluate_constraints or mc.evaluate_constraints) == "Enabled"
    return FeaturePolicy(
        monitored=fcfg.monitored if fcfg is not None else True,
        evaluate_constraints=evaluate,
        compare=dist.perform_comparison == "Enabled",
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
