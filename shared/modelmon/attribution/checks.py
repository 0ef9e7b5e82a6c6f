"""``feature_attribution_drift_check``: a window's NDCG against the threshold (pure).

SageMaker Developer Guide ``clarify-model-monitor-feature-attribution-drift.md``: "if the NDCG
value is below 0.90, we automatically raise an alert"; the violation entry
(``clarify-model-monitor-model-attribution-drift-violations.md``) is
``{"label": "label0", "metric_name": "shap", "constraint_check_type":
"feature_attribution_drift_check", "description": "Feature attribution drift
0.7639720923277322 exceeds threshold 0.9"}`` — SageMaker's own wording, kept although the
value is *below* the threshold. modelmon's threshold is configurable per model
(``explainability.threshold``); an NDCG that cannot be computed (no baseline ranking, no
attributions) never violates.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from modelmon.attribution.analysis import ExplainabilityAnalysis
from modelmon.attribution.ndcg import ndcg

CHECK_TYPE: Final = "feature_attribution_drift_check"
METRIC_NAME: Final = "shap"
DEFAULT_THRESHOLD: Final = 0.9


@dataclass(frozen=True, slots=True)
class LabelCheck:
    """One label's NDCG against its threshold."""

    label: str
    ndcg: float
    threshold: float
    baseline: dict[str, float]
    live: dict[str, float]

    @property
    def evaluated(self) -> bool:
        return math.isfinite(self.ndcg)

    @property
    def violated(self) -> bool:
        return self.evaluated and self.ndcg < self.threshold

    @property
    def description(self) -> str:
        return f"Feature attribution drift {self.ndcg!r} exceeds threshold {self.threshold!r}"

    def violation_json(self) -> dict[str, Any]:
        """One entry of constraint_violations.json, keys as in SageMaker's file."""
        return {
            "label": self.label,
            "metric_name": METRIC_NAME,
            "constraint_check_type": CHECK_TYPE,
            "description": self.description,
        }


def check_labels(
    baseline: ExplainabilityAnalysis,
    live: Mapping[str, Mapping[str, float]],
    threshold: float = DEFAULT_THRESHOLD,
    labels: Mapping[str, str] | None = None,
) -> list[LabelCheck]:
    """One check per baseline label that the window has attributions for.

    ``live``: window label -> global SHAP values; ``labels`` maps a window label to its
    baseline label where the names differ (default: the same name; a window with one label
    and a baseline with one label are compared whatever their names).
    """
    pairs: list[tuple[str, str]] = []
    if labels:
        pairs = [(w, b) for w, b in labels.items() if w in live and b in baseline.labels]
    elif len(live) == 1 and len(baseline.labels) == 1:
        pairs = [(next(iter(live)), next(iter(baseline.labels)))]
    else:
        pairs = [(name, name) for name in live if name in baseline.labels]
    checks = []
    for window_label, base_label in pairs:
        base = baseline.labels[base_label].global_shap_values
        values = dict(live[window_label])
        checks.append(LabelCheck(base_label, ndcg(base, values), threshold, dict(base), values))
    return checks


def violations_json(checks: list[LabelCheck]) -> dict[str, Any]:
    """constraint_violations.json of one window (SageMaker's shape)."""
    return {"version": "1.0", "violations": [c.violation_json() for c in checks if c.violated]}
