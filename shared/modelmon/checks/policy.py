"""Which checks run on a feature, with which method and thresholds.

Precedence, most specific first: a feature entry of the ModelConfig; the feature's
``monitoringConfigOverrides`` in constraints.json; a model-wide ModelConfig value the user set
explicitly; constraints.json's ``monitoring_config``. SageMaker method names ("Simple",
"Robust", "LInfinity", "ChiSquared") and drift-registry names are both accepted.

Drift thresholds: a feature's own threshold (ModelConfig or constraints override) applies to
its method; otherwise ``drift.method_thresholds[method]``; otherwise the model-wide
``drift.threshold`` when the user set it; otherwise, for SageMaker's methods only,
constraints.json's ``comparison_threshold``; otherwise the registry's default for the method
(its own scale and direction: PSI 0.2, a chi-square p-value below 0.05, ...). With
``drift.policy: recommended`` a feature without its own method is checked by every rule of
:data:`RECOMMENDED` (each with its own threshold); any of them crossing is a violation.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelmon.config import DEFAULT_CHECKS, DriftConfig, FeatureConfig, ModelConfig
from modelmon.drift import DriftMethod, get_method, sagemaker_method
from modelmon.events import CheckType, FeatureKind
from modelmon.sagemaker.constraints import (
    Constraints,
    DistributionConstraints,
    FeatureOverrides,
)

#: The recommended policy: per kind, (registry method, threshold). See docs/statistics.md
#: for the sensitivity and false-positive figures these were chosen by.
RECOMMENDED: dict[FeatureKind, tuple[tuple[str, float], ...]] = {
    "numeric": (("linf_robust", 0.1), ("jensen_shannon_robust", 0.05)),
    "categorical": (("linf_categorical_robust", 0.05), ("new_category_excess", 0.01)),
}


@dataclass(frozen=True)
class DriftRule:
    """One drift method with the threshold it is judged against."""

    method: str
    threshold: float


@dataclass(frozen=True)
class FeaturePolicy:
    """Everything the checks of one feature need to know besides the data."""

    monitored: bool
    evaluate_constraints: bool
    compare: bool
    drift_rules: tuple[DriftRule, ...]
    datatype_threshold: float
    domain_threshold: float
    completeness: float | None
    is_non_negative: bool
    domain: frozenset[str] | None

    @property
    def drift_method(self) -> str:
        """The first (for SageMaker's policy: the only) drift method."""
        return self.drift_rules[0].method

    @property
    def drift_threshold(self) -> float:
        return self.drift_rules[0].threshold


def enabled_checks(config: ModelConfig | None) -> frozenset[CheckType]:
    return frozenset(config.checks if config is not None else DEFAULT_CHECKS)


def min_rows(config: ModelConfig | None) -> int:
    drift = config.drift if config is not None else DriftConfig()
    return drift.min_window_count


def _set(drift: DriftConfig | None, name: str) -> bool:
    return drift is not None and name in drift.model_fields_set


def _default_threshold(
    method: DriftMethod, drift: DriftConfig | None, sagemaker_threshold: float
) -> float:
    """A method's threshold when the feature sets none (see the module docstring)."""
    if drift is not None and method.name in drift.method_thresholds:
        return drift.method_thresholds[method.name]
    if _set(drift, "threshold"):
        return drift.threshold  # type: ignore[union-attr]
    return sagemaker_threshold if method.sagemaker else method.default_threshold


def _check_names(drift: DriftConfig | None) -> None:
    for name in drift.method_thresholds if drift is not None else ():
        get_method(name)  # an unknown name fails here, listing the available ones


def _drift(
    kind: FeatureKind,
    over: FeatureOverrides,
    fcfg: FeatureConfig | None,
    drift: DriftConfig | None,
    dist: DistributionConstraints,
) -> tuple[DriftRule, ...]:
    """The drift rules (registry method and threshold) of one feature."""
    _check_names(drift)
    if kind == "numeric":
        method = over.comparison_method
        model_wide = drift.numeric_method if _set(drift, "numeric_method") else None  # type: ignore[union-attr]
        fallback, threshold = dist.comparison_method, over.comparison_threshold
        sm_threshold = dist.comparison_threshold
    else:
        method = over.categorical_drift_method
        model_wide = drift.categorical_method if _set(drift, "categorical_method") else None  # type: ignore[union-attr]
        fallback, threshold = dist.categorical_drift_method, over.categorical_comparison_threshold
        sm_threshold = dist.categorical_comparison_threshold
    if fcfg is not None and fcfg.drift_threshold is not None:
        threshold = fcfg.drift_threshold
    own = (fcfg.drift_method if fcfg else None) or method
    if drift is not None and drift.policy == "recommended" and own is None and threshold is None:
        return tuple(
            DriftRule(name, drift.method_thresholds.get(name, limit))
            for name, limit in RECOMMENDED[kind]
        )
    chosen = get_method(sagemaker_method(own or model_wide or fallback, kind))
    if threshold is None:
        threshold = _default_threshold(chosen, drift, sm_threshold)
    return (DriftRule(chosen.name, threshold),)


def feature_policy(
    name: str, kind: FeatureKind, constraints: Constraints, config: ModelConfig | None
) -> FeaturePolicy:
    """Resolve one feature's policy (see the module docstring for the precedence)."""
    mc = constraints.monitoring_config
    cons = constraints.feature(name)
    over = cons.overrides() if cons is not None else FeatureOverrides()
    fcfg = config.feature(name) if config is not None else None
    drift = config.drift if config is not None else None
    rules = _drift(kind, over, fcfg, drift, mc.distribution_constraints)

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
        drift_rules=rules,
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
