"""SageMaker's data-quality checks on mergeable profiles (pure: no I/O, no clock).

``evaluate(baseline, current, config)`` runs data_type_check, completeness_check,
baseline_drift_check, missing_column_check, extra_column_check, categorical_values_check and
(opt-in) non_negative_check, and returns every outcome with per-feature figures.
"""

from __future__ import annotations

from modelmon.checks.baseline import PROFILE_FILE, Baseline, BaselineDistribution
from modelmon.checks.evaluate import Evaluation, evaluate, feature_metrics, validate
from modelmon.checks.policy import FeaturePolicy, feature_policy

__all__ = [
    "PROFILE_FILE",
    "Baseline",
    "BaselineDistribution",
    "Evaluation",
    "FeaturePolicy",
    "evaluate",
    "feature_metrics",
    "feature_policy",
    "validate",
]
