"""SHAP values with the ``shap`` library: TreeExplainer for tree ensembles, Kernel SHAP otherwise.

``TreeAttributor`` wraps ``shap.TreeExplainer`` on a loaded artefact (``load_tree_model``):
interventional against a background sample when one is given, tree-path-dependent otherwise.
``KernelAttributor`` wraps ``shap.KernelExplainer`` around a prediction function (the model's
HTTP endpoint, handed in) and a background sample; each explanation seeds numpy's generator from
the event id, so the same event gives the same values. ``requests_per_explanation`` bounds what
one explanation costs the endpoint, for the request budget.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from modelmon.errors import ModelmonError, PermanentError
from modelmon.explain.attribution import NotExplainableError

#: Suffixes ``load_tree_model`` reads, and how.
TREE_SUFFIXES = {".joblib": "joblib", ".pkl": "joblib", ".pickle": "joblib",
                 ".txt": "lightgbm", ".json": "xgboost", ".ubj": "xgboost"}  # fmt: skip
#: numpy's global generator is what Kernel SHAP samples coalitions with: one user at a time.
_NUMPY_RANDOM = threading.Lock()


class ExplainerSetupError(PermanentError):
    """A model's explainer cannot be built (artefact unreadable, not a tree model, ...)."""


class Attributor(Protocol):
    """Explains rows of one model: SHAP values per row and feature, for one output."""

    method: str
    expected_value: float

    def explain(self, rows: np.ndarray, seeds: Sequence[int]) -> np.ndarray: ...


def load_tree_model(path: Path) -> Any:
    """The model in ``path`` by its suffix (``TREE_SUFFIXES``); ExplainerSetupError if not."""
    kind = TREE_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise ExplainerSetupError(
            f"{path.name}: unknown model file type; use one of {', '.join(sorted(TREE_SUFFIXES))}"
        )
    try:
        if kind == "joblib":
            import joblib

            return joblib.load(path)
        if kind == "lightgbm":
            import lightgbm

            return lightgbm.Booster(model_file=str(path))
        import xgboost

        booster = xgboost.Booster()
        booster.load_model(str(path))
        return booster
    except ImportError as exc:
        raise ExplainerSetupError(f"{path.name}: needs the {kind} package: {exc}") from exc
    except Exception as exc:
        raise ExplainerSetupError(f"{path.name}: cannot load the model: {exc}") from exc


def _pick(values: Any, output_index: int, n_features: int) -> np.ndarray:
    """One output's (rows, features) matrix from what shap returns for one or many outputs."""
    if isinstance(values, list):
        if output_index >= len(values):
            raise ExplainerSetupError(f"output_index {output_index}: the model has {len(values)}")
        values = values[output_index]
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 3:
        if output_index >= array.shape[2]:
            raise ExplainerSetupError(
                f"output_index {output_index}: the model has {array.shape[2]} outputs"
            )
        array = array[:, :, output_index]
    if array.ndim != 2 or array.shape[1] != n_features:
        raise ExplainerSetupError(f"unexpected SHAP value shape {array.shape}")
    return array


def _base(expected: Any, output_index: int) -> float:
    flat = np.atleast_1d(np.asarray(expected, dtype=np.float64)).ravel()
    return float(flat[output_index] if flat.size > output_index else flat[0])


class TreeAttributor:
    """``shap.TreeExplainer`` over a tree ensemble (scikit-learn, XGBoost, LightGBM)."""

    method = "tree"

    def __init__(
        self, model: Any, n_features: int, background: np.ndarray | None = None,
        output_index: int = 0,
    ) -> None:  # fmt: skip
        import shap

        perturbation = "interventional" if background is not None else "tree_path_dependent"
        try:
            self._explainer = shap.TreeExplainer(
                model, data=background, feature_perturbation=perturbation
            )
        except Exception as exc:
            raise ExplainerSetupError(f"not a tree model shap can explain: {exc}") from exc
        self._n, self._output = n_features, output_index
        self.expected_value = _base(self._explainer.expected_value, output_index)

    def explain(self, rows: np.ndarray, seeds: Sequence[int] = ()) -> np.ndarray:
        try:
            values = self._explainer.shap_values(rows, check_additivity=False)
        except Exception as exc:
            raise NotExplainableError(f"TreeExplainer failed: {exc}") from exc
        return _pick(values, self._output, self._n)


def kernel_nsamples(n_features: int, nsamples: int | str) -> int:
    """The coalitions Kernel SHAP evaluates: shap's rule (auto: 2M+2048; at most 2^M-2)."""
    wanted = 2 * n_features + 2048 if nsamples == "auto" else int(nsamples)
    if n_features <= 30:
        wanted = min(wanted, 2**n_features - 2)
    return max(wanted, 1)


class KernelAttributor:
    """``shap.KernelExplainer`` around ``predict`` (rows -> one number per row)."""

    method = "kernel"

    def __init__(
        self, predict: Callable[[np.ndarray], np.ndarray], background: Any, n_features: int,
        nsamples: int | str = "auto", max_batch_rows: int = 10_000,
    ) -> None:  # fmt: skip
        import shap

        self._n, self._nsamples = n_features, kernel_nsamples(n_features, nsamples)
        self._background_rows = int(getattr(background, "data", background).shape[0])
        self._batch = max_batch_rows
        try:
            self._explainer = shap.KernelExplainer(predict, background, link="identity")
        except ExplainerSetupError:
            raise
        except PermanentError as exc:  # the endpoint refused the background's predictions
            raise ExplainerSetupError(f"the model endpoint: {exc}") from exc
        except (ValueError, TypeError) as exc:
            raise ExplainerSetupError(f"Kernel SHAP cannot start: {exc}") from exc
        self.expected_value = _base(self._explainer.expected_value, 0)

    def requests_per_explanation(self) -> int:
        """Requests one explanation sends at most: the row itself, then the coalition rows."""
        rows = self._nsamples * self._background_rows
        return 1 + math.ceil(rows / self._batch)

    def explain(self, rows: np.ndarray, seeds: Sequence[int]) -> np.ndarray:
        out = np.empty((rows.shape[0], self._n), dtype=np.float64)
        for i, (row, seed) in enumerate(zip(rows, seeds, strict=True)):
            with _NUMPY_RANDOM:
                np.random.seed(seed)
                try:
                    values = self._explainer.shap_values(
                        row[None, :], nsamples=self._nsamples, l1_reg=False, silent=True
                    )
                except ModelmonError:
                    raise  # the endpoint's: retried (transient) or dead-lettered (permanent)
                except Exception as exc:
                    raise NotExplainableError(f"Kernel SHAP failed: {exc}") from exc
            out[i] = _pick(values, 0, self._n)[0]
        return out


def background_sample(data: np.ndarray, size: int, method: str, seed: int) -> Any:
    """The background Kernel SHAP integrates over: weighted k-means centres (``shap.kmeans``,
    deterministic) or a seeded sample of rows; all rows when there are no more than ``size``."""
    if data.ndim != 2 or data.shape[0] == 0:
        raise ExplainerSetupError("the background data has no rows")
    if data.shape[0] <= size:
        return data
    if method == "kmeans":
        import shap

        return shap.kmeans(data, size)
    rng = np.random.default_rng(seed)
    return data[np.sort(rng.choice(data.shape[0], size=size, replace=False))]
