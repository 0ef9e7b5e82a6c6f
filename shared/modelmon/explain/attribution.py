"""Capture events in, attribution events out: the feature row and the event the explainer sends.

An attribution event is a capture event (the one schema, ``modelmon.validation``) with the
model id, variant, event id, inference id and event time of the capture it explains, empty
``inputs`` and the per-feature SHAP values in ``attributions``; ``metadata`` names the method and
the explained output's expected value (SHAP's base value). It is keyed by model id.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC
from typing import Any

import numpy as np
import orjson

from modelmon.errors import PermanentError

#: ``metadata`` keys of an attribution event.
METHOD_KEY = "modelmon.explainer"
EXPECTED_VALUE_KEY = "modelmon.expected_value"


class NotExplainableError(PermanentError):
    """An event the explainer cannot explain (dead letter ``not_explainable``)."""


def feature_row(inputs: Mapping[str, Any], features: Sequence[str]) -> np.ndarray:
    """The event's feature values in model order as float64; raises NotExplainableError when
    one is missing, null, not a number or not finite."""
    row = np.empty(len(features), dtype=np.float64)
    for i, name in enumerate(features):
        value = inputs.get(name)
        if value is None:
            raise NotExplainableError(f"feature {name!r} is missing or null")
        if isinstance(value, str) or not isinstance(value, int | float):
            raise NotExplainableError(f"feature {name!r} is not a number: {str(value)[:64]!r}")
        number = float(value)
        if not math.isfinite(number):
            raise NotExplainableError(f"feature {name!r} is not finite")
        row[i] = number
    return row


def attribution_event(
    capture: Any,
    features: Sequence[str],
    values: np.ndarray,
    method: str,
    expected_value: float,
) -> bytes:
    """The attribution event (JSON bytes) of ``capture`` (a ``CaptureStruct``)."""
    if not np.all(np.isfinite(values)):
        raise NotExplainableError("the explainer gave a value that is not finite")
    event_id = capture.event_id
    body: dict[str, Any] = {
        "schema_version": 1,
        "event_id": event_id,
        "model_id": capture.model_id,
        "variant": capture.variant,
        "inference_id": capture.inference_id or event_id,
        "event_time": capture.event_time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "inputs": {},
        "attributions": {f: float(v) for f, v in zip(features, values.tolist(), strict=True)},
        "metadata": {METHOD_KEY: method, EXPECTED_VALUE_KEY: repr(float(expected_value))},
    }
    return orjson.dumps(body)
