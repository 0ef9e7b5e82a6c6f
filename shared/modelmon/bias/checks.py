"""``bias_drift_check``: a window's bias metrics against the bias baseline, SageMaker's rule.

"If the value of a bias metric in the job analysis results file (analysis.json) is worse than
its corresponding value in the baseline constraints file, a violation is logged" (SageMaker
Developer Guide, ``clarify-model-monitor-bias-drift-violations.md``). Worse = farther from the
metric's ideal value (1 for DI, 0 for every other metric): with a baseline DPPL of 0.2, a window
DPPL of 0.1 passes and -0.3 violates. The baseline value is the threshold; there is no other.

Optionally (``use_intervals``), the DG's bias drift page's confidence-interval reading: a
violation needs the metric's whole normal-bootstrap interval to lie outside the allowed range
[ideal - |b - ideal|, ideal + |b - ideal|]; a metric without an interval falls back to the
point rule. A null on either side (Clarify could not compute it) never violates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from modelmon.bias.analysis import BiasBaseline
from modelmon.bias.metrics import METRICS
from modelmon.bias.report import FacetValueReport

CHECK_TYPE: Final = "bias_drift_check"


@dataclass(frozen=True)
class BiasViolation:
    facet: str
    facet_value: str
    metric_name: str
    value: float
    baseline: float

    @property
    def description(self) -> str:
        return (
            f"Metric value {format_value(self.value)} doesn't meet the baseline constraint "
            f"requirement {format_value(self.baseline)}"
        )

    def to_json(self) -> dict[str, Any]:
        """One entry of constraint_violations.json, keys as in SageMaker's file."""
        return {
            "constraint_check_type": CHECK_TYPE,
            "description": self.description,
            "facet": self.facet,
            "facet_value": self.facet_value,
            "metric_name": self.metric_name,
        }


def format_value(value: float) -> str:
    """Python's repr, with Java's spelling of infinity as in SageMaker's files."""
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(value)


def ideal_value(name: str) -> float:
    spec = METRICS.get(name)
    return spec.ideal if spec is not None else 0.0


def is_worse(value: float, baseline: float, ideal: float) -> bool:
    """Farther from the ideal than the baseline (an infinite baseline is never exceeded)."""
    return abs(value - ideal) > abs(baseline - ideal)


def _interval_worse(interval: tuple[float, float], baseline: float, ideal: float) -> bool:
    low, high = interval
    allowed = abs(baseline - ideal)
    return high < ideal - allowed or low > ideal + allowed


def bias_violations(
    baseline: BiasBaseline,
    stage: str,
    reports: Sequence[FacetValueReport],
    intervals: dict[tuple[str, str, str], tuple[float, float]] | None = None,
) -> list[BiasViolation]:
    """Every metric of ``reports`` worse than its baseline value, in report order.

    ``intervals``: (facet, facet value, metric) -> confidence interval, to use SageMaker's
    interval reading instead of the point rule where one is given.
    """
    out = []
    for report in reports:
        for metric in report.metrics:
            if metric.value is None or math.isnan(metric.value):
                continue
            found = baseline.lookup(stage, report.facet, report.value_or_threshold, metric.name)
            if found is None or found.value is None:
                continue
            ideal = ideal_value(metric.name)
            key = (report.facet, report.value_or_threshold, metric.name)
            interval = (intervals or {}).get(key)
            if interval is not None:
                worse = _interval_worse(interval, found.value, ideal)
            else:
                worse = is_worse(metric.value, found.value, ideal)
            if worse:
                out.append(
                    BiasViolation(
                        report.facet,
                        report.value_or_threshold,
                        metric.name,
                        metric.value,
                        found.value,
                    )
                )
    return out


def violations_json(violations: Sequence[BiasViolation]) -> dict[str, Any]:
    """constraint_violations.json of a bias monitoring run."""
    return {"version": "1.0", "violations": [v.to_json() for v in violations]}
