"""The bias analysis config: the fields of SageMaker Clarify's ``analysis_config.json``.

A Clarify analysis config is accepted as is (unknown Clarify fields such as ``dataset_type``,
``methods`` or ``predictor`` are kept and ignored). modelmon adds a few optional fields a
stream needs stated up front, because Clarify infers them from a whole dataset:

- ``facet[].threshold`` / ``label_threshold``: the single value in ``value_or_threshold`` is
  a numeric lower bound (sensitive = value > threshold, Clarify's interval ``(t, max]``), not
  a category. Clarify decides this from the column's dtype and uniqueness; a stream cannot.
- ``predicted_label`` (column of the predicted label) or ``probability`` (column of a score)
  with ``probability_threshold`` (default 0.5; positive when probability > threshold, as the
  ``ProbabilityThresholdAttribute`` of a Clarify monitor).

Field meanings: SageMaker Developer Guide, ``clarify-config-json-monitor-bias-parameters.md``.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

Scalar = str | int | float | bool

#: Clarify's metric names, sorted as Clarify sorts them (``report.bias_report``).
PRE_TRAINING_METRICS = ("CDDL", "CI", "DPL", "JS", "KL", "KS", "LP", "TVD")
POST_TRAINING_METRICS = (
    "AD",
    "CDDPL",
    "DAR",
    "DCA",
    "DCR",
    "DI",
    "DPPL",
    "DRR",
    "GE",
    "RD",
    "SD",
    "TE",
)
#: Other spellings accepted in ``methods`` (SageMaker's docs write DCAcc for DCA).
METRIC_ALIASES = {"DCACC": "DCA"}


class FacetConfig(BaseModel):
    """One sensitive attribute: its column and the sensitive value(s) or numeric threshold."""

    model_config = ConfigDict(
        frozen=True,
        extra="allow",
        json_schema_extra={
            "if": {"properties": {"threshold": {"const": True}}, "required": ["threshold"]},
            "then": {
                "required": ["value_or_threshold"],
                "properties": {
                    "value_or_threshold": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": 1,
                        "items": {"type": "number"},
                    }
                },
            },
        },
    )

    name_or_index: str | int = Field(description="Facet column name (or CSV column index).")
    value_or_threshold: list[Scalar] | None = Field(
        default=None,
        description=(
            "Sensitive value(s); or, with threshold=true, one numeric lower bound. Omitted: "
            "one-vs-rest metrics for every value seen."
        ),
    )
    threshold: bool = Field(
        default=False,
        description="modelmon: value_or_threshold is one numeric lower bound (x > t).",
    )

    @model_validator(mode="after")
    def _one_numeric_threshold(self) -> FacetConfig:
        if self.threshold:
            _single_number(self.value_or_threshold, f"facet {self.name_or_index!r}")
        elif self.value_or_threshold is not None and not self.value_or_threshold:
            raise ValueError(f"facet {self.name_or_index!r}: value_or_threshold is empty")
        return self

    @property
    def name(self) -> str:
        return str(self.name_or_index)

    def bound(self) -> float:
        """The numeric lower bound of a threshold facet."""
        assert self.value_or_threshold is not None
        return float(self.value_or_threshold[0])

    def sensitive_keys(self) -> frozenset[str] | None:
        """The sensitive values as normalized keys; None when every value is analysed."""
        if self.value_or_threshold is None or self.threshold:
            return None
        return frozenset(value_key(v) for v in self.value_or_threshold)


class BiasConfig(BaseModel):
    """Bias analysis config: Clarify's analysis_config.json fields plus modelmon's stream fields."""

    model_config = ConfigDict(frozen=True, extra="allow")

    version: str | None = Field(default=None, description="Clarify config schema version.")
    headers: list[str] | None = Field(
        default=None, description="Column names (CSV data without a header row)."
    )
    label: str | int = Field(description="Observed label column (name or CSV index).")
    label_values_or_threshold: list[Scalar] = Field(
        min_length=1,
        description="Positive label value(s); or, with label_threshold=true, one numeric bound.",
    )
    label_threshold: bool = Field(
        default=False, description="modelmon: the label is positive when label > the bound."
    )
    facet: list[FacetConfig] = Field(min_length=1, description="Sensitive attributes.")
    group_variable: str | int | None = Field(
        default=None, description="Column of the subgroups CDDL and CDDPL condition on."
    )
    predicted_label: str | int | None = Field(
        default=None, description="Predicted label column (matched like the label)."
    )
    probability: str | int | None = Field(
        default=None, description="modelmon: score column, thresholded by probability_threshold."
    )
    probability_threshold: float = Field(
        default=0.5, description="A probability above this predicts the positive label."
    )

    @model_validator(mode="after")
    def _consistent(self) -> BiasConfig:
        if self.label_threshold:
            _single_number(self.label_values_or_threshold, "label")
        names = [f.name for f in self.facet]
        if len(set(names)) != len(names):
            raise ValueError(f"facet names repeat: {names}")
        if not 0.0 <= self.probability_threshold <= 1.0:
            raise ValueError("probability_threshold must lie in [0, 1]")
        return self

    @property
    def label_name(self) -> str:
        return self.column(self.label)

    def column(self, name_or_index: str | int) -> str:
        """A column's name; an integer index is resolved through ``headers``."""
        if isinstance(name_or_index, int):
            if self.headers is None or not 0 <= name_or_index < len(self.headers):
                raise ValueError(f"column index {name_or_index} needs headers that cover it")
            return self.headers[name_or_index]
        return name_or_index

    def prediction_column(self) -> tuple[str, bool]:
        """(column, is_probability): predicted_label, else probability, else "prediction"."""
        if self.predicted_label is not None:
            return self.column(self.predicted_label), False
        if self.probability is not None:
            return self.column(self.probability), True
        return "prediction", False

    def stage_methods(self) -> dict[str, list[str] | None]:
        """Stages and metric names Clarify's ``methods`` asks for (both stages, all, if absent).

        ``{"pre_training_bias": {"methods": "all"}, "post_training_bias": {"methods": [...]}}``
        """
        methods = (self.model_extra or {}).get("methods")
        if not isinstance(methods, dict):
            return {"post_training": None, "pre_training": None}
        out: dict[str, list[str] | None] = {}
        for stage in ("post_training", "pre_training"):
            entry = methods.get(f"{stage}_bias")
            if isinstance(entry, dict):
                names = entry.get("methods", "all")
                out[stage] = None if names == "all" else [str(n) for n in names]
        return out

    def label_value_or_threshold(self) -> str:
        """Clarify's ``label_value_or_threshold`` string for categorical labels."""
        return ",".join(str(v) for v in self.label_values_or_threshold)


def value_key(value: Any) -> str:
    """A category value as a key: 1, 1.0, "1" and "1.0" are one category; True is "True".

    CSV data arrive as text, a config's values as JSON numbers: both meet as the same key.
    """
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value
        return value_key(number) if number.is_integer() else value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return str(value)


def _single_number(values: list[Scalar] | None, what: str) -> None:
    if (
        values is None
        or len(values) != 1
        or isinstance(values[0], bool)
        or not isinstance(values[0], int | float)
        or not math.isfinite(values[0])
    ):
        raise ValueError(f"{what}: a threshold is one finite number in value_or_threshold")


def canonical_metric(name: str) -> str:
    """A metric name in Clarify's spelling, or ValueError listing the valid names."""
    upper = name.upper()
    upper = METRIC_ALIASES.get(upper, upper)
    if upper not in PRE_TRAINING_METRICS + POST_TRAINING_METRICS:
        valid = ", ".join(PRE_TRAINING_METRICS + POST_TRAINING_METRICS)
        raise ValueError(f"unknown bias metric {name!r}; valid: {valid}")
    return upper
