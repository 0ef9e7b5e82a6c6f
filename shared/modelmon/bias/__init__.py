"""Bias drift: SageMaker Clarify's bias metrics from mergeable per-window counts.

``config`` (Clarify's analysis config), ``state`` (the mergeable counts and the batch hook
``state_from_columns``), ``metrics`` (Clarify's formulas on counts), ``report`` (metrics per
facet value, confidence intervals), ``analysis`` (Clarify's analysis.json), ``checks``
(bias_drift_check violations) and ``cloudwatch`` (``bias_metric_<NAME>`` datums).
"""

from modelmon.bias.config import BiasConfig, FacetConfig
from modelmon.bias.state import BiasState, FacetCounts, state_from_columns, state_from_rows

__all__ = [
    "BiasConfig",
    "BiasState",
    "FacetConfig",
    "FacetCounts",
    "state_from_columns",
    "state_from_rows",
]
