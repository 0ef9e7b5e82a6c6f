"""The demo's feature attributions: exact SHAP values of an explainable scorer, per request.

The demo's served model is a gradient-boosted tree ensemble; the attributions the demo
publishes come from its explainable twin, a logistic regression on the standardized numeric
features fitted on the same generated loan book, whose SHAP values are exact:
``phi_f = w_f * (x_f - mean_f) / sd_f`` (interventional SHAP of a linear margin). Its global
SHAP values on the training set are the explainability baseline (Clarify's analysis.json).

A phase's ``shortcut`` ({feature: standardized weight}) is the incident: a retrained model
that leans on a feature the baseline model barely used (e.g. ``num_products``). The inputs
are drawn from the training distribution as before — no data-drift check can see it — but
the ranking of the attributions changes and the NDCG drops below 0.9.

The traffic generator hands every answered request to ``AttributionPublisher``, which
publishes a capture-schema event with the request's ``attributions`` (and empty inputs) to
the attributions topic, as the explainer service does (``modelmon run explainer``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelmon.attribution.analysis import LabelExplanation, analysis_document
from modelmon.demo.dataset import NUMERIC, generate_columns, label_columns


@dataclass(frozen=True)
class DemoExplainer:
    """A fitted linear scorer: standardized weights, means and standard deviations."""

    weights: dict[str, float]
    means: dict[str, float]
    scales: dict[str, float]

    @staticmethod
    def fit(seed: int = 7, n: int = 6000) -> DemoExplainer:
        from sklearn.linear_model import LogisticRegression

        rng = np.random.default_rng(seed)
        cols = generate_columns(rng, n)
        labels = label_columns(cols, rng)
        matrix = np.column_stack([np.asarray(cols[f], dtype=np.float64) for f in NUMERIC])
        means, scales = matrix.mean(axis=0), matrix.std(axis=0)
        scales[scales == 0] = 1.0
        model = LogisticRegression(max_iter=1000).fit((matrix - means) / scales, labels)
        return DemoExplainer(
            dict(zip(NUMERIC, model.coef_[0].tolist(), strict=True)),
            dict(zip(NUMERIC, means.tolist(), strict=True)),
            dict(zip(NUMERIC, scales.tolist(), strict=True)),
        )

    def attributions(
        self, body: Mapping[str, Any], shortcut: Mapping[str, float] | None = None
    ) -> dict[str, float]:
        """Exact SHAP values of one request (numeric features that hold a number)."""
        weights = {**self.weights, **(shortcut or {})}
        out = {}
        for name, weight in weights.items():
            value = body.get(name)
            if isinstance(value, int | float) and not isinstance(value, bool):
                out[name] = weight * (float(value) - self.means[name]) / self.scales[name]
        return out

    def analysis(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """Clarify's explainability analysis.json of these (training) rows."""
        sums: dict[str, float] = dict.fromkeys(self.weights, 0.0)
        for row in rows:
            for name, value in self.attributions(row).items():
                sums[name] += abs(value)
        values = {name: total / max(1, len(rows)) for name, total in sums.items()}
        return analysis_document({"label0": LabelExplanation(values, 0.0)})


def with_explainability(config: Any, seed: int = 7, n: int = 6000) -> Any:
    """The demo model's config with its explainability baseline: the explainable scorer's
    global SHAP values on the training set the model server trains on (same seed)."""
    from modelmon.config import ExplainabilitySection
    from modelmon.demo.dataset import rows

    explainer = DemoExplainer.fit(seed, n)
    training = rows(generate_columns(np.random.default_rng(seed), n))
    section = ExplainabilitySection(baseline=explainer.analysis(training))
    return config.model_copy(update={"explainability": section})


class AttributionPublisher:
    """Publishes each answered request's attributions to the attributions topic (SDK client)."""

    def __init__(self, model_id: str, settings: Any, explainer: DemoExplainer) -> None:
        from modelmon.capture import CaptureClient

        topics = settings.topics.model_copy(update={"capture": settings.topics.attributions})
        self.explainer = explainer
        self._client = CaptureClient(
            model_id, settings=settings.model_copy(update={"topics": topics})
        )

    def publish(
        self, inference_id: str, body: Mapping[str, Any], shortcut: Mapping[str, float]
    ) -> None:
        attributions = self.explainer.attributions(body, shortcut)
        if attributions:
            self._client.capture({}, None, inference_id=inference_id, attributions=attributions)

    def close(self, timeout: float = 10.0) -> None:
        self._client.close(timeout)
