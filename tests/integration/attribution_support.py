"""The detector's feature-attribution series for the API tests: per window an evaluation of
seeded SHAP values against an explainability baseline, computed by the detector's own pure
code (``evaluate_attributions``) and stored by its own writer (``save_window_doc`` into
``Keys.attribution_results``, as ``services/detector/attribution.py`` does)."""

from __future__ import annotations

from typing import Any

import numpy as np

from modelmon.attribution.analysis import LabelExplanation, analysis_document
from modelmon.attribution.evaluate import AttributionSettings, evaluate_attributions
from modelmon.attribution.state import state_of_events
from modelmon.keys import Keys
from modelmon.streaming.results import save_window_doc

WEIGHTS = {"income": 0.4, "debt": 0.3, "age": 0.2, "tenure": 0.1}
#: The drifted window's weights: the ranking turned around (NDCG far below 0.9).
SHIFTED = {"income": 0.05, "debt": 0.1, "age": 0.3, "tenure": 0.6}
BASELINE = analysis_document({"label0": LabelExplanation(WEIGHTS)})


def seed_attribution(
    client: Any, prefix: str, model_id: str, t0_ms: int, window_ms: int, windows: int = 4,
    bad: int = 2,
) -> list[dict[str, Any]]:  # fmt: skip
    """``windows`` windows from ``t0_ms``; window ``bad`` ranks the features the other way
    round (an NDCG violation). Returns the stored documents."""
    rng = np.random.default_rng(11)
    settings = AttributionSettings(BASELINE, 0.9)
    docs = []
    for w in range(windows):
        weights = SHIFTED if w == bad else WEIGHTS
        events = [
            {"attributions": {f: float(v * rng.normal()) for f, v in weights.items()}}
            for _ in range(300)
        ]
        start = t0_ms + w * window_ms
        found = evaluate_attributions(
            model_id, (start, start + window_ms), state_of_events(events), settings
        )
        save_window_doc(client, Keys(prefix).attribution_results(model_id), start, found.to_json())
        docs.append(found.to_json())
    return docs
