"""How often the demo's bias check fires, measured on the demo's own traffic and model.

The label join evaluates a window again each time more of its labels arrive; the demo's
windows hold ~200 predictions (5 s at 40 requests/s) and are first evaluated at 120 labels.
``bias_rates`` replays that offline: windows of the given phases drawn with seeded RNGs,
answered by the model (at the phase's model version), each evaluated at several label counts
with the demo's bias config, baseline and interval rule. Pure apart from the model call;
identical seeds give identical figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from modelmon.bias.analysis import analysis_json
from modelmon.bias.config import BiasConfig
from modelmon.bias.state import BiasState, state_from_rows
from modelmon.bias.stream import IntervalOptions, evaluate_bias
from modelmon.demo.dataset import LABEL
from modelmon.demo.model import PREDICTION, VERSIONS, DemoModel
from modelmon.demo.phases import Phase, draw_requests_and_labels
from modelmon.demo.setup import DEMO_BIAS_CONFIG, DEMO_BIAS_LEVEL


@dataclass
class PhaseRates:
    """Evaluations of one phase's windows and how many violated (DPPL of the facet)."""

    windows: int = 0
    evaluations: int = 0
    violated: int = 0
    windows_violated: int = 0
    max_abs_dppl: float = 0.0
    dppl: list[float] = field(default_factory=list)


def _joined_rows(model: DemoModel, phase: Phase, rng: np.random.Generator, n: int) -> list[Any]:
    records, labels = draw_requests_and_labels(phase, rng, n)
    served = replace(model, version=VERSIONS[phase.model_version])
    answers = served.predict(records)
    return [
        {**r, LABEL: y, PREDICTION: a[PREDICTION]}
        for r, y, a in zip(records, labels, answers, strict=True)
    ]


def _state(config: BiasConfig, rows: Sequence[dict[str, Any]]) -> BiasState:
    return state_from_rows(config, rows, joined=True).merge(
        state_from_rows(config, rows, joined=False)
    )


def baseline_doc(model: DemoModel, seed: int = 0, n: int = 6000) -> dict[str, Any]:
    """The demo's bias baseline: the model's joined rows of normal traffic."""
    config = BiasConfig.model_validate(DEMO_BIAS_CONFIG)
    rows = _joined_rows(model, Phase("baseline", 1), np.random.default_rng(seed), n)
    return analysis_json(config, _state(config, rows))


def bias_rates(
    model: DemoModel,
    phases: Sequence[Phase],
    seeds: Sequence[int],
    windows: int = 4,
    window_rows: int = 200,
    label_counts: Sequence[int] = (120, 160, 200),
    level: float = DEMO_BIAS_LEVEL,
) -> dict[str, PhaseRates]:
    """Per phase name: windows drawn per seed, each evaluated at ``label_counts`` labels."""
    config = BiasConfig.model_validate(DEMO_BIAS_CONFIG)
    baseline = baseline_doc(model)
    options = IntervalOptions(level=level, replicates=1000, check=True)
    out: dict[str, PhaseRates] = {}
    for phase in phases:
        rates = out.setdefault(phase.name, PhaseRates())
        for seed in seeds:
            rng = np.random.default_rng([seed, len(phase.name)])
            for _ in range(windows):
                rows = _joined_rows(model, phase, rng, window_rows)
                rates.windows += 1
                hit = False
                for n in label_counts:
                    found = evaluate_bias("m", (0, 1), config, _state(config, rows[:n]),
                                          baseline, options)  # fmt: skip
                    rates.evaluations += 1
                    rates.violated += bool(found.violations)
                    hit = hit or bool(found.violations)
                    value = found.reports[0].metrics[0].value or 0.0
                    rates.dppl.append(value)
                    rates.max_abs_dppl = max(rates.max_abs_dppl, abs(value))
                rates.windows_violated += hit
    return out
