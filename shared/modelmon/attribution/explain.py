"""SHAP values for an explainability baseline (``baseline create --analysis explainability``).

- A linear model (scikit-learn's ``coef_``/``intercept_``, e.g. ``LogisticRegression``): exact
  SHAP values in the model's margin (logit) space, ``phi = w * (x - mean(background))`` —
  what ``shap.LinearExplainer`` (interventional) and Kernel SHAP converge to; no ``shap``
  needed.
- Any other model: the ``shap`` library (``TreeExplainer`` for tree ensembles it can load,
  Kernel SHAP with a background sample otherwise), imported only then; or the explainer
  service's module ``modelmon.explain`` when it offers ``shap_values(model, rows,
  background)`` (the hook helper i14b's module fills).
- An HTTP endpoint: Kernel SHAP with a predict function that posts CSV rows (``shap``).

Pure numerics apart from that optional import; global SHAP = mean |SHAP| per feature
(Clarify's ``agg_method="mean_abs"``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from modelmon.errors import ConfigurationError

FloatMatrix = npt.NDArray[np.float64]


def linear_shap(
    coef: Sequence[float] | FloatMatrix, rows: FloatMatrix, mean: FloatMatrix
) -> FloatMatrix:
    """Exact SHAP values of a linear margin ``w . x + b`` against a background mean."""
    w = np.asarray(coef, dtype=np.float64).reshape(-1)
    return (np.asarray(rows, dtype=np.float64) - mean) * w


def global_shap(values: FloatMatrix, names: Sequence[str]) -> dict[str, float]:
    """Mean |SHAP| per feature (Clarify's global SHAP values)."""
    means = np.abs(np.asarray(values, dtype=np.float64)).mean(axis=0)
    return {name: float(v) for name, v in zip(names, means.tolist(), strict=True)}


def expected_value(model: Any, background: FloatMatrix) -> float | None:
    """The model's mean margin on the background (a linear model's SHAP base value)."""
    coef = getattr(model, "coef_", None)
    if coef is None:
        return None
    margin = np.asarray(background, dtype=np.float64) @ np.asarray(coef).reshape(-1)
    return float(
        margin.mean() + float(np.asarray(getattr(model, "intercept_", 0.0)).reshape(-1)[0])
    )


def _is_linear(model: Any) -> bool:
    """A single-output linear model (``coef_`` of one row)."""
    coef = getattr(model, "coef_", None)
    if coef is None:
        return False
    shape = np.asarray(coef).shape
    return len(shape) == 1 or (len(shape) == 2 and shape[0] == 1)


def _shap() -> Any:
    try:
        return importlib.import_module("shap")
    except ImportError as exc:
        raise ConfigurationError(
            "this model needs the shap library (pip install shap): only linear models "
            "are explained without it"
        ) from exc


def model_shap(model: Any, rows: FloatMatrix, background: FloatMatrix) -> FloatMatrix:
    """SHAP values (rows x features) of a fitted model, for the positive class / output 0."""
    if _is_linear(model):
        return linear_shap(model.coef_, rows, np.asarray(background).mean(axis=0))
    try:
        hook = importlib.import_module("modelmon.explain")
    except ImportError:
        hook = None
    if hook is not None and hasattr(hook, "shap_values"):
        return np.asarray(hook.shap_values(model, rows, background), dtype=np.float64)
    shap = _shap()
    try:
        explainer = shap.TreeExplainer(model)
        values = explainer.shap_values(rows)
    except Exception:  # noqa: BLE001 - not a tree model shap can read: Kernel SHAP
        predict = getattr(model, "predict_proba", None) or model.predict
        explainer = shap.KernelExplainer(predict, background)
        values = explainer.shap_values(rows)
    return _first_output(values)


def endpoint_shap(
    predict: Callable[[FloatMatrix], FloatMatrix], rows: FloatMatrix, background: FloatMatrix
) -> FloatMatrix:
    """Kernel SHAP of a prediction function (e.g. one that calls the model's HTTP endpoint)."""
    shap = _shap()
    return _first_output(shap.KernelExplainer(predict, background).shap_values(rows))


def _first_output(values: Any) -> FloatMatrix:
    """The positive class of a binary classifier (the last output), else the first output."""
    if isinstance(values, list):
        values = values[-1]
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 3:
        array = array[:, :, -1]
    return array
