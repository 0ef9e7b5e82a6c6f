"""Each model's explainer, built once per config: the attributor, its request budget and cost.

A model whose explainer cannot be built (no artefact, not a tree model, no background) fails
with ``ExplainerSetupError``; the failure is remembered for ``retry_seconds`` so a broken
config costs one attempt per interval, not one per event, and a changed config is tried at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelmon.explain.background import read_background
from modelmon.explain.config import ExplainerConfig
from modelmon.explain.sampling import TokenBucket
from modelmon.explain.shapley import (
    Attributor,
    ExplainerSetupError,
    KernelAttributor,
    TreeAttributor,
    background_sample,
    load_tree_model,
)
from modelmon.names import UnsafeNameError, contained

#: Builds the prediction function of a model's endpoint, spending from its budget.
PredictorFactory = Callable[[str, ExplainerConfig, TokenBucket], Callable[[np.ndarray], np.ndarray]]


@dataclass
class ModelExplainer:
    config: ExplainerConfig
    attributor: Attributor
    #: Requests to the endpoint per explanation (0: a tree model, no endpoint).
    cost: int
    budget: TokenBucket | None


class Explainers:
    """The explainers of the models seen so far, keyed by model id and rebuilt on a new config."""

    def __init__(
        self, models_dir: str | None, data_dir: str | None, predictor: PredictorFactory, *,
        clock: Callable[[], float], acquire: Callable[[TokenBucket, int], None],
        retry_seconds: float = 60.0,
    ) -> None:  # fmt: skip
        self._models_dir, self._data_dir, self._predictor = models_dir, data_dir, predictor
        self._clock, self._acquire, self._retry = clock, acquire, retry_seconds
        self._built: dict[str, ModelExplainer] = {}
        self._failed: dict[str, tuple[ExplainerConfig, float, ExplainerSetupError]] = {}

    def get(self, model_id: str, config: ExplainerConfig) -> ModelExplainer:
        built = self._built.get(model_id)
        if built is not None and built.config == config:
            return built
        failed = self._failed.get(model_id)
        if failed is not None and failed[0] == config and self._clock() - failed[1] < self._retry:
            raise failed[2]
        try:
            built = self._build(model_id, config)
        except ExplainerSetupError as exc:
            self._failed[model_id] = (config, self._clock(), exc)
            raise
        self._failed.pop(model_id, None)
        self._built[model_id] = built
        return built

    def _path(self, root: str | None, relative: str, what: str) -> Path:
        if root is None:
            setting = "MODELS_DIR" if what == "model_path" else "DATA_DIR"
            raise ExplainerSetupError(
                f"{what} {relative!r} needs the explainer's directory setting "
                f"MODELMON_EXPLAINER__{setting}"
            )
        try:
            path = contained(root, relative)
        except UnsafeNameError as exc:
            raise ExplainerSetupError(str(exc)) from exc
        if not path.is_file():
            raise ExplainerSetupError(f"{what} {relative!r}: no such file below {root}")
        return path

    def _background(self, config: ExplainerConfig, method: str) -> Any:
        if config.background_path is None:
            return None
        path = self._path(self._data_dir, config.background_path, "background_path")
        data = read_background(path, config.features)
        return background_sample(data, config.background_size, method, config.seed)

    def _build(self, model_id: str, config: ExplainerConfig) -> ModelExplainer:
        n = len(config.features)
        if config.model_path is not None:
            model = load_tree_model(self._path(self._models_dir, config.model_path, "model_path"))
            background = self._background(config, "sample")
            tree = TreeAttributor(model, n, background, config.output_index)
            return ModelExplainer(config, tree, 0, None)
        background = self._background(config, config.background_method)
        rows = int(getattr(background, "data", background).shape[0])
        start_cost = math.ceil(rows / config.max_batch_rows)
        rate = config.max_requests_per_second
        budget = TokenBucket(rate, max(rate, float(start_cost)))
        self._acquire(budget, start_cost)  # the background's predictions (SHAP's base value)
        kernel = KernelAttributor(
            self._predictor(model_id, config, budget),
            background,
            n,
            config.nsamples,
            config.max_batch_rows,
        )
        cost = kernel.requests_per_explanation()
        budget.burst = max(rate, float(cost))
        return ModelExplainer(config, kernel, cost, budget)
