"""Clarify's explainability ``analysis.json``: read (ours or Clarify's) and write (pure).

Shape (SageMaker Developer Guide ``clarify-processing-job-run.md``; reference file
``clarify_explanability.json``)::

    {"version": "1.0",
     "explanations": {"kernel_shap": {"label0": {"global_shap_values": {"f": v, ...},
                                                 "expected_value": v}, ...}}}

A Clarify-made file may hold more (``global_top_shap_text``, ``pdp``, other methods): what is
not global SHAP is kept as is and ignored by the check.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from modelmon.errors import BaselineError

VERSION: Final = "1.0"
#: Clarify's method key; modelmon writes it for tree SHAP too (the values mean the same).
KERNEL_SHAP: Final = "kernel_shap"


@dataclass(frozen=True, slots=True)
class LabelExplanation:
    """One label's global SHAP values (feature -> mean |SHAP|) and expected value."""

    global_shap_values: dict[str, float]
    expected_value: float | None = None


@dataclass(frozen=True, slots=True)
class ExplainabilityAnalysis:
    """The global SHAP values of every label, under one method."""

    labels: dict[str, LabelExplanation]
    method: str = KERNEL_SHAP
    extra: dict[str, Any] = field(default_factory=dict)  # other explanations (pdp, ...) as read

    def label(self, name: str | None = None) -> tuple[str, LabelExplanation]:
        """The named label, or the first one when ``name`` is None."""
        if name is None:
            first = next(iter(self.labels))
            return first, self.labels[first]
        if name not in self.labels:
            known = ", ".join(self.labels)
            raise BaselineError(
                f"label {name!r} not in the explainability baseline (it has {known})"
            )
        return name, self.labels[name]


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BaselineError(f"{where}: expected a number, got {value!r}")
    return float(value)


def parse_analysis(doc: Mapping[str, Any]) -> ExplainabilityAnalysis:
    """An explainability analysis.json (Clarify's or ours); BaselineError if it is not."""
    if not isinstance(doc, Mapping):
        raise BaselineError("explainability analysis.json must be a JSON object")
    explanations = doc.get("explanations")
    if not isinstance(explanations, Mapping) or not explanations:
        raise BaselineError("explainability analysis.json has no 'explanations' object")
    methods = [m for m, v in explanations.items() if isinstance(v, Mapping) and v]
    if not methods:
        raise BaselineError("'explanations' holds no method with labels (kernel_shap)")
    method = KERNEL_SHAP if KERNEL_SHAP in methods else methods[0]
    labels: dict[str, LabelExplanation] = {}
    for label, body in explanations[method].items():
        if not isinstance(body, Mapping) or not isinstance(body.get("global_shap_values"), Mapping):
            raise BaselineError(f"explanations.{method}.{label}: no global_shap_values")
        values = {
            str(f): _number(v, f"explanations.{method}.{label}.global_shap_values.{f}")
            for f, v in body["global_shap_values"].items()
        }
        if not values:
            raise BaselineError(f"explanations.{method}.{label}: global_shap_values empty")
        expected = body.get("expected_value")
        labels[str(label)] = LabelExplanation(
            values, None if expected is None else _number(expected, f"{label}.expected_value")
        )
    extra = {m: v for m, v in explanations.items() if m != method}
    return ExplainabilityAnalysis(labels, method, extra)


def analysis_document(
    labels: Mapping[str, LabelExplanation], method: str = KERNEL_SHAP
) -> dict[str, Any]:
    """The analysis.json document (features in descending attribution order)."""
    body: dict[str, Any] = {}
    for label, expl in labels.items():
        ranked = sorted(expl.global_shap_values.items(), key=lambda kv: (-kv[1], kv[0]))
        entry: dict[str, Any] = {
            "global_shap_values": {f: v for f, v in ranked if math.isfinite(v)}
        }
        if expl.expected_value is not None and math.isfinite(expl.expected_value):
            entry["expected_value"] = expl.expected_value
        body[label] = entry
    return {"version": VERSION, "explanations": {method: body}}
