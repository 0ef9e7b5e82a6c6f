"""SageMaker Model Monitor's data-quality files: models, readers, writers and builders.

``statistics.json``, ``constraints.json`` and ``constraint_violations.json`` (SPEC.md §2-3),
read from real SageMaker output (older keys included) and written with the same keys and
types, so baselines and reports move between SageMaker and modelmon unchanged.
"""

from __future__ import annotations

from modelmon.sagemaker.constraints import (
    Constraints,
    DistributionConstraints,
    FeatureConstraints,
    FeatureOverrides,
    MonitoringConfig,
)
from modelmon.sagemaker.files import (
    CONSTRAINTS_FILE,
    STATISTICS_FILE,
    VIOLATIONS_FILE,
    dumps,
    read_constraints,
    read_statistics,
    read_violations,
    write,
)
from modelmon.sagemaker.statistics import FeatureStatistics, Statistics
from modelmon.sagemaker.violations import ConstraintViolations, Violation

__all__ = [
    "CONSTRAINTS_FILE",
    "STATISTICS_FILE",
    "VIOLATIONS_FILE",
    "ConstraintViolations",
    "Constraints",
    "DistributionConstraints",
    "FeatureConstraints",
    "FeatureOverrides",
    "FeatureStatistics",
    "MonitoringConfig",
    "Statistics",
    "Violation",
    "dumps",
    "read_constraints",
    "read_statistics",
    "read_violations",
    "write",
]
