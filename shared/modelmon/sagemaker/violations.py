"""``constraint_violations.json`` and the wording of each violation (SPEC.md §3).

Wording confirmed from real SageMaker output: data_type_check ("Data type match requirement
is not met. ...") and the numerical baseline_drift_check ("Numerical distance: X exceeds
numerical threshold: Y"). The others are not published by AWS; ours follow the same pattern
and keep the phrases AWS's own parsing utilities look for ("Value: X does not meet the
constraint requirement!", "distance: X exceeds"). docs/baselines-and-monitoring.md lists them.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import Field

from modelmon.sagemaker.statistics import _SmModel


class Violation(_SmModel):
    feature_name: str
    constraint_check_type: str
    description: str


class ConstraintViolations(_SmModel):
    """The whole ``constraint_violations.json``."""

    violations: list[Violation] = Field(default_factory=list)


def _pct(share: float) -> str:
    """A share as SageMaker prints it: Java's Double.toString of the percentage."""
    return f"{java_double(share * 100)}%"


def java_double(value: float) -> str:
    """``repr`` of a float the way Java prints it (always a decimal point: 100.0, 0.0)."""
    text = repr(float(value))
    return text if any(c in text for c in ".eEn") else text + ".0"


def data_type(expected_type: str, required_share: float, observed_share: float) -> str:
    return (
        "Data type match requirement is not met. "
        f"Expected data type: {expected_type}, Expected match: {_pct(required_share)}. "
        f"Observed: Only {_pct(observed_share)} of data is {expected_type}."
    )


def completeness(required: float, observed: float) -> str:
    return (
        "Data completeness requirement is not met. "
        f"Expected completeness: {_pct(required)}. "
        f"Observed: Only {_pct(observed)} of data is present."
    )


def baseline_drift(numeric: bool, distance: float, threshold: float) -> str:
    """SageMaker's wording, exactly; the method is carried in its own field, not here."""
    kind = "Numerical" if numeric else "Categorical"
    return (
        f"{kind} distance: {java_double(distance)} exceeds {kind.lower()} threshold: "
        f"{java_double(threshold)}"
    )


def baseline_drift_p_value(numeric: bool, p_value: float, threshold: float) -> str:
    """A p-value method (ChiSquared): drift when the p-value falls below the threshold."""
    kind = "Numerical" if numeric else "Categorical"
    return (
        f"{kind} p-value: {java_double(p_value)} is below {kind.lower()} threshold: "
        f"{java_double(threshold)}"
    )


def categorical_values(in_domain: float, required: float, unknown: Iterable[str]) -> str:
    shown = sorted(unknown)[:10]
    more = "" if len(shown) < 10 else ", ..."
    return (
        f"Value: {java_double(in_domain)} does not meet the constraint requirement! "
        f"Expected at least {_pct(required)} of values in the baseline domain; "
        f"values not in the domain: {', '.join(shown)}{more}"
    )


def non_negative(minimum: float) -> str:
    return (
        "Value: 0.0 does not meet the constraint requirement! "
        f"Expected non-negative values (is_non_negative); observed minimum: {java_double(minimum)}"
    )


def missing_column(current_columns: int, baseline_columns: int) -> str:
    return (
        "There are missing columns in current dataset. "
        f"Number of columns in current dataset: {current_columns}, "
        f"Number of columns in baseline constraints: {baseline_columns}"
    )


def extra_column(current_columns: int, baseline_columns: int) -> str:
    return (
        "There are extra columns in current dataset. "
        f"Number of columns in current dataset: {current_columns}, "
        f"Number of columns in baseline constraints: {baseline_columns}"
    )
