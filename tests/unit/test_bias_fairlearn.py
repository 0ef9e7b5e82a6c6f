"""fairlearn agrees with modelmon's bias metrics where both have the same metric."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score

from modelmon.bias.config import BiasConfig
from modelmon.bias.report import facet_reports
from modelmon.bias.state import state_from_columns

CONFIG = BiasConfig.model_validate(
    {
        "label": "y",
        "label_values_or_threshold": [1],
        "facet": [{"name_or_index": "g", "value_or_threshold": ["d"]}],
        "predicted_label": "p",
    }
)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(20, 400))
def test_fairlearn_demographic_parity_and_equalized_odds_parts(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    g = np.where(rng.random(n) < rng.uniform(0.1, 0.9), "d", "a")
    y = (rng.random(n) < rng.uniform(0.1, 0.9)).astype(int)
    p = (rng.random(n) < rng.uniform(0.1, 0.9)).astype(int)
    if len(set(g)) < 2 or len(set(y[g == "d"])) < 2 or len(set(y[g == "a"])) < 2:
        return  # fairlearn's rates need both classes in both groups
    state = state_from_columns(CONFIG, {"g": g, "y": y, "p": p}, joined=True)
    (report,) = facet_reports(CONFIG, state, "post_training")
    value = {m.name: m.value for m in report.metrics}
    assert value["DPPL"] is not None and value["DI"] is not None
    assert demographic_parity_difference(y, p, sensitive_features=g) == pytest.approx(
        abs(value["DPPL"]), abs=1e-12
    )
    di = value["DI"]
    if 0 < di < np.inf:
        ratio = demographic_parity_ratio(y, p, sensitive_features=g)
        assert ratio == pytest.approx(min(di, 1 / di), rel=1e-9)
    frame = MetricFrame(
        metrics={
            "sel": selection_rate,
            "tpr": true_positive_rate,
            "fpr": false_positive_rate,
            "acc": accuracy_score,
        },
        y_true=y,
        y_pred=p,
        sensitive_features=pd.Series(g, name="g"),
    )
    by = frame.by_group
    assert by.loc["a", "sel"] - by.loc["d", "sel"] == pytest.approx(value["DPPL"], abs=1e-12)
    assert by.loc["a", "tpr"] - by.loc["d", "tpr"] == pytest.approx(value["RD"], abs=1e-12)
    # SD = specificity_d - specificity_a = (1 - FPR_d) - (1 - FPR_a) = FPR_a - FPR_d
    assert by.loc["a", "fpr"] - by.loc["d", "fpr"] == pytest.approx(value["SD"], abs=1e-12)
    assert by.loc["a", "acc"] - by.loc["d", "acc"] == pytest.approx(value["AD"], abs=1e-12)
