"""The label join's series for the API tests: per window a model-quality evaluation and a
bias evaluation, computed by the label join's own pure code from counted rows and stored
through its own ``Publisher`` (Redis sorted sets, as ``modelmon run labeljoin`` writes them).
The publisher's alert events are kept in a list: alerting is not what these tests read."""

from __future__ import annotations

from typing import Any

import numpy as np

from modelmon.bias.analysis import analysis_json
from modelmon.bias.config import BiasConfig
from modelmon.bias.state import BiasState, state_from_rows
from modelmon.bias.stream import IntervalOptions, evaluate_bias
from modelmon.config import ModelConfig
from modelmon.keys import Keys
from modelmon.quality.evaluate import evaluate
from modelmon.quality.join import models_of
from modelmon.quality.pairs import Pairs
from modelmon_services.labeljoin.service import Publisher

BIAS: dict[str, Any] = {
    "label": "y", "label_values_or_threshold": [1], "predicted_label": "prediction",
    "facet": [{"name_or_index": "sex", "value_or_threshold": ["f"]}],
    "methods": {"pre_training_bias": {"methods": ["CI", "DPL"]},
                "post_training_bias": {"methods": ["DPPL", "DI"]}},
}  # fmt: skip
CONSTRAINTS = {
    "binary_classification_constraints": {
        "accuracy": {"threshold": 0.7, "comparison_operator": "LessThanThreshold"}
    }
}
BIAS_KEY = "sex=f/DPPL"


def _rows(rng: np.random.Generator, n: int, shift: float, noise: float) -> list[dict[str, Any]]:
    sex = rng.choice(["f", "m"], n)
    y = rng.integers(0, 2, n)
    flip = rng.random(n) < noise
    prediction = np.where(flip, 1 - y, y)
    prediction = np.where((sex == "f") & (rng.random(n) < shift), 1, prediction)
    return [{"sex": s, "y": int(a), "prediction": int(b)}
            for s, a, b in zip(sex, y, prediction, strict=True)]  # fmt: skip


def _state(config: BiasConfig, rows: list[dict[str, Any]]) -> BiasState:
    return state_from_rows(config, rows, joined=True).merge(
        state_from_rows(config, rows, joined=False)
    )


def seed_label_join(
    client: Any, prefix: str, model_id: str, t0_ms: int, window_ms: int, windows: int = 4,
    bad: int = 2,
) -> list[bytes]:  # fmt: skip
    """``windows`` windows from ``t0_ms``; window ``bad`` has low accuracy and women predicted
    'positive' far more often (a bias violation). Returns the alert events published."""
    config = BiasConfig.model_validate(BIAS)
    rng = np.random.default_rng(5)
    baseline = analysis_json(config, _state(config, _rows(rng, 4000, 0.0, 0.1)))
    model_config = ModelConfig.model_validate({
        "model_id": model_id,
        "quality": {"problem_type": "BinaryClassification", "constraints": CONSTRAINTS},
        "bias": {"analysis_config": BIAS, "baseline": baseline, "check": "interval"},
    })  # fmt: skip
    model = models_of({model_id: model_config})[model_id]
    sent: list[bytes] = []
    publisher = Publisher(
        lambda topic, key, value: sent.append(value), "unused", client, Keys(prefix), None,
        lambda m, check: (m, "sched", "warning", False),
    )  # fmt: skip
    options = IntervalOptions(0.99, 500, True)
    for w in range(windows):
        start = t0_ms + w * window_ms
        rows = _rows(rng, 400, 0.6 if w == bad else 0.0, 0.45 if w == bad else 0.1)
        pairs = Pairs([f"{w}-{i}" for i in range(len(rows))], [r["y"] for r in rows],
                      [r["prediction"] for r in rows])  # fmt: skip
        state = model.spec.empty().add(pairs)
        counts = {"predictions": len(rows)}
        span = (start, start + window_ms)
        publisher(evaluate(model_id, "BinaryClassification", span, state, counts, CONSTRAINTS),
                  model)  # fmt: skip
        found = evaluate_bias(model_id, span, config, _state(config, rows), baseline, options)
        publisher.bias(found, model)
    return sent
