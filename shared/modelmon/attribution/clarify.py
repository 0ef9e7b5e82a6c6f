"""SageMaker Clarify online explainability responses in captured data (pure).

An endpoint with Clarify online explainability answers (and captures, as its
``endpointOutput``)::

    {"version": "1.0",
     "predictions": {"content_type": "text/csv; charset=utf-8", "data": "0.98\\n0.12\\n"},
     "label_headers": ["Probability"],
     "explanations": {"kernel_shap": [
        [{"feature_header": "age", "feature_type": "numerical",
          "attributions": [{"attribution": [0.012]}]}, ...],     # record 1
        [...]]}}                                                  # record 2

(SageMaker Developer Guide ``clarify-online-explainability-invoke-endpoint.md``). Each record's
explanation becomes its capture event's ``attributions`` (feature -> SHAP value of the first
label; a text feature's token attributions are summed), and the inner ``predictions`` payload
is the model's output.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def is_clarify_response(doc: Any) -> bool:
    """A Clarify online explainability response body (decoded JSON)."""
    return (
        isinstance(doc, Mapping)
        and isinstance(doc.get("explanations"), Mapping)
        and isinstance(doc.get("predictions"), Mapping)
        and isinstance(doc["predictions"].get("data"), str)
    )


def clarify_predictions(doc: Mapping[str, Any]) -> tuple[str, str]:
    """The inner predictions payload: (content type, data)."""
    predictions = doc["predictions"]
    return str(predictions.get("content_type") or "text/csv"), str(predictions["data"])


def _feature_value(entry: Mapping[str, Any], label_index: int) -> float | None:
    total, found = 0.0, False
    for item in entry.get("attributions") or []:
        values = item.get("attribution") if isinstance(item, Mapping) else None
        if isinstance(values, list) and len(values) > label_index:
            value = values[label_index]
            if isinstance(value, int | float) and not isinstance(value, bool):
                total, found = total + float(value), True
    return total if found and math.isfinite(total) else None


def clarify_attributions(doc: Any, label_index: int = 0) -> list[dict[str, float]]:
    """Per record, feature -> attribution (empty list when ``doc`` has no explanations)."""
    if not is_clarify_response(doc):
        return []
    methods = doc["explanations"]
    records = methods.get("kernel_shap") or next(iter(methods.values()), None)
    if not isinstance(records, list):
        return []
    out: list[dict[str, float]] = []
    for record in records:
        row: dict[str, float] = {}
        for j, entry in enumerate(record if isinstance(record, list) else []):
            if not isinstance(entry, Mapping):
                continue
            value = _feature_value(entry, label_index)
            if value is not None:
                row[str(entry.get("feature_header") or f"_c{j}")] = value
        out.append(row)
    return out
