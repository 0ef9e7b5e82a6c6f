"""SageMaker's model-quality files: statistics.json, constraints.json, constraint_violations.json.

Shapes as in SPEC.md §4 and the reference files: metrics ``{"value", "standard_deviation"}``
(``"NaN"`` as a string where undefined), constraints ``{"threshold", "comparison_operator"}``
with the baseline value as the suggested threshold, violations ``{"constraint_check_type":
<operator>, "description": "Metric auc with V +/- S was LessThanThreshold 'T'", "metric_name":
<camelCase>}``. A SageMaker-made file is read as is.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, Final, Literal

from modelmon.errors import BaselineError
from modelmon.quality.problem import CONSTRAINTS_KEY, METRICS_KEY, PROBLEM_TYPES, ProblemType

Operator = Literal["LessThanThreshold", "GreaterThanThreshold"]

#: The metrics SageMaker suggests constraints for, and the operator that flags a violation.
#: Binary: the 11 of SPEC.md §4. Regression: SageMaker's reference constraints. Multiclass: not
#: published by AWS; ours are the weighted scores (higher is better, so LessThanThreshold).
SUGGESTED: Final[dict[str, dict[str, Operator]]] = {
    "BinaryClassification": {
        "recall": "LessThanThreshold",
        "precision": "LessThanThreshold",
        "accuracy": "LessThanThreshold",
        "true_positive_rate": "LessThanThreshold",
        "true_negative_rate": "LessThanThreshold",
        "false_positive_rate": "GreaterThanThreshold",
        "false_negative_rate": "GreaterThanThreshold",
        "auc": "LessThanThreshold",
        "f0_5": "LessThanThreshold",
        "f1": "LessThanThreshold",
        "f2": "LessThanThreshold",
    },
    "MulticlassClassification": {
        "accuracy": "LessThanThreshold",
        "weighted_recall": "LessThanThreshold",
        "weighted_precision": "LessThanThreshold",
        "weighted_f0_5": "LessThanThreshold",
        "weighted_f1": "LessThanThreshold",
        "weighted_f2": "LessThanThreshold",
    },
    "Regression": {
        "mae": "GreaterThanThreshold",
        "mse": "GreaterThanThreshold",
        "rmse": "GreaterThanThreshold",
        "r2": "LessThanThreshold",
    },
}


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def statistics(
    problem_type: ProblemType,
    metrics: Mapping[str, Any],
    item_count: int,
    evaluation_time: str | None = None,
) -> dict[str, Any]:
    """A model-quality ``statistics.json`` body."""
    dataset: dict[str, Any] = {"item_count": item_count}
    if evaluation_time is not None:
        dataset["evaluation_time"] = evaluation_time
    return {"version": 0.0, "dataset": dataset, METRICS_KEY[problem_type]: _jsonable(metrics)}


def suggest_constraints(problem_type: ProblemType, metrics: Mapping[str, Any]) -> dict[str, Any]:
    """SageMaker's suggested constraints: each metric's baseline value is its threshold."""
    body: dict[str, Any] = {}
    for name, operator in SUGGESTED[problem_type].items():
        value = metrics[name]["value"]
        if isinstance(value, float) and math.isnan(value):
            continue  # undefined in the baseline (e.g. AUC with one class): nothing to hold
        body[name] = {"threshold": value, "comparison_operator": operator}
    return {"version": 0.0, CONSTRAINTS_KEY[problem_type]: body}


def problem_of(document: Mapping[str, Any], keys: Mapping[str, str]) -> ProblemType:
    """The problem type a statistics or constraints document holds."""
    for problem in PROBLEM_TYPES:
        if keys[problem] in document:
            return problem  # type: ignore[return-value]
    raise BaselineError(
        f"not a model-quality file: expected one of {', '.join(sorted(keys.values()))}"
    )


def read_constraints(document: Mapping[str, Any]) -> tuple[ProblemType, dict[str, Any]]:
    """A model-quality constraints.json (ours or SageMaker's), checked."""
    problem = problem_of(document, CONSTRAINTS_KEY)
    body = document[CONSTRAINTS_KEY[problem]]
    for name, rule in body.items():
        operator = rule.get("comparison_operator") if isinstance(rule, Mapping) else None
        if operator not in ("LessThanThreshold", "GreaterThanThreshold"):
            raise BaselineError(
                f"constraint {name}: comparison_operator {operator!r} is not "
                "LessThanThreshold or GreaterThanThreshold"
            )
        if not isinstance(rule.get("threshold"), int | float):
            raise BaselineError(f"constraint {name}: threshold must be a number")
    return problem, dict(body)


def camel(metric_name: str) -> str:
    """SageMaker's violation spelling: true_positive_rate -> truePositiveRate; f0_5 stays."""
    head, *rest = metric_name.split("_")
    if any(not part[:1].isalpha() for part in rest):
        return metric_name
    return head + "".join(part.capitalize() for part in rest)


def _number(value: float) -> str:
    """A value as SageMaker prints it (Java's Double.toString: 1.0, NaN)."""
    if math.isnan(value):
        return "NaN"
    text = repr(float(value))
    return text if any(c in text for c in ".eE") else text + ".0"


#: A metric within this (relative) distance of its threshold is float noise, not a violation:
#: summing the same pairs in another order moves the last bits (SageMaker's own regression
#: baseline checks itself one ulp over its mse threshold without it).
FLOAT_SLACK: Final = 1e-12


def check(constraints: Mapping[str, Any], metrics: Mapping[str, Any]) -> list[dict[str, str]]:
    """The violations of ``metrics`` (one problem type's metrics) against its constraints."""
    violations = []
    for name, rule in constraints.items():
        entry = metrics.get(name)
        if not isinstance(entry, Mapping):
            continue
        value = _float(entry.get("value"))
        std = _float(entry.get("standard_deviation"))
        threshold, operator = float(rule["threshold"]), rule["comparison_operator"]
        slack = FLOAT_SLACK * max(1.0, abs(threshold))
        if operator == "LessThanThreshold":
            broken = value < threshold - slack
        else:
            broken = value > threshold + slack
        if math.isnan(value) or not broken:
            continue
        violations.append(
            {
                "constraint_check_type": operator,
                "description": f"Metric {camel(name)} with {_number(value)} +/- {_number(std)} "
                f"was {operator} '{_number(threshold)}'",
                "metric_name": camel(name),
            }
        )
    return violations


def _float(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return math.nan


def violations_file(violations: list[dict[str, str]]) -> dict[str, Any]:
    return {"violations": violations}


def dumps(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2) + "\n"
