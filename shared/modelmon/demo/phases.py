"""The traffic schedule as data: phases, each with a duration and what it does to requests.

A phase changes requests drawn from the training distribution: ``shift`` adds a constant to
a numeric feature, ``scale`` multiplies it, ``new_categories`` replaces a share of a
categorical's values with values never seen in training, ``missing`` sends ``null`` for a
share of a feature's values and ``wrong_type`` sends a string where a number belongs.
``model_version`` is the model version served during the phase (the runner switches the demo
model at the phase's start): ``v2`` shifts one group's predictions, not the inputs. Pure
logic: no clock, no I/O; the RNG is handed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from modelmon.demo.dataset import INTEGRAL, generate_columns, label_columns, rows

WRONG_TYPE_VALUE = "unknown"
DEFAULT_VERSION = "v1"


@dataclass(frozen=True)
class Phase:
    """One stretch of traffic."""

    name: str
    duration_s: float
    shift: dict[str, float] = field(default_factory=dict)
    scale: dict[str, float] = field(default_factory=dict)
    new_categories: dict[str, tuple[str, ...]] = field(default_factory=dict)
    new_category_rate: float = 0.0
    missing: dict[str, float] = field(default_factory=dict)
    wrong_type: dict[str, float] = field(default_factory=dict)
    #: share of ground-truth labels flipped: the world changed, the model did not (accuracy falls)
    label_noise: float = 0.0
    #: the model version that serves this phase (``modelmon.demo.model.VERSIONS``)
    model_version: str = DEFAULT_VERSION
    #: the model leans on these features ({feature: standardized weight} of the demo's
    #: explainable scorer, ``demo.attribution``): the attributions move, the inputs do not
    shortcut: dict[str, float] = field(default_factory=dict)

    @property
    def drifted(self) -> frozenset[str]:
        """Features whose distribution this phase moves (shift or scale)."""
        return frozenset(self.shift) | frozenset(self.scale)

    @property
    def is_normal(self) -> bool:
        return not (
            self.drifted or self.new_categories or self.missing or self.wrong_type
            or self.label_noise or self.model_version != DEFAULT_VERSION or self.shortcut
        )  # fmt: skip

    def describe(self) -> str:
        """One line for humans, e.g. ``income +30000; balance x3; region new: islands``."""
        parts = [f"{f} {v:+g}" for f, v in self.shift.items()]
        parts += [f"{f} x{v:g}" for f, v in self.scale.items()]
        parts += [
            f"{f} new categories {', '.join(v)} ({self.new_category_rate:.0%} of values)"
            for f, v in self.new_categories.items()
        ]
        parts += [f"{f} missing ({r:.0%})" for f, r in self.missing.items()]
        parts += [
            f"{f} wrong type {WRONG_TYPE_VALUE!r} ({r:.0%})" for f, r in self.wrong_type.items()
        ]
        if self.label_noise:
            parts.append(f"labels flipped ({self.label_noise:.0%})")
        if self.model_version != DEFAULT_VERSION:
            parts.append(f"model {self.model_version} deployed")
        if self.shortcut:
            parts.append("model leans on " + ", ".join(self.shortcut) + " (attributions only)")
        return "; ".join(parts) or "training distribution"


def default_schedule(window_s: float, windows_per_phase: float = 3) -> list[Phase]:
    """Normal -> drift + new categories + data-quality fault + a model version that treats
    women worse -> normal, in windows."""
    span = window_s * windows_per_phase
    return [
        Phase("normal", span),
        Phase(
            "incident",
            span,
            shift={"income": 30_000.0},
            scale={"balance": 3.0},
            new_categories={"region": ("islands", "overseas")},
            new_category_rate=0.1,
            missing={"credit_score": 0.25},
            wrong_type={"age": 0.2},
            label_noise=0.45,
            model_version="v2",
        ),
        Phase("recovered", span * 4 / 3),
    ]


def attribution_schedule(window_s: float, windows_per_phase: float = 3) -> list[Phase]:
    """Normal -> a shortcut feature dominates the predictions (inputs unchanged) -> normal:
    the feature-attribution incident (docs/attribution.md)."""
    span = window_s * windows_per_phase
    return [
        Phase("normal", span),
        Phase("shortcut", span, shortcut={"num_products": 3.0}),
        Phase("recovered", span),
    ]


def phases_from_data(items: Any) -> list[Phase]:
    """Phases from a parsed YAML/JSON list of mappings (the ``--schedule`` file)."""
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ValueError("a schedule is a list of phases: [{name, duration_s, shift, ...}]")
    phases = []
    for item in items:
        fields = dict(item)
        cats = fields.pop("new_categories", {}) or {}
        phases.append(Phase(**fields, new_categories={k: tuple(v) for k, v in cats.items()}))
    return phases


def fit_to_duration(phases: list[Phase], duration_s: float) -> list[Phase]:
    """The same phases, their durations scaled so that they add up to ``duration_s``."""
    total = sum(p.duration_s for p in phases)
    return [replace(p, duration_s=p.duration_s * duration_s / total) for p in phases]


def _mask(rng: np.random.Generator, n: int, rate: float) -> np.ndarray[Any, Any]:
    return rng.random(n) < rate


def draw_requests(phase: Phase, rng: np.random.Generator, n: int) -> list[dict[str, Any]]:
    """``n`` request bodies (flat feature objects) for ``phase``."""
    return draw_requests_and_labels(phase, rng, n)[0]


def draw_requests_and_labels(
    phase: Phase, rng: np.random.Generator, n: int
) -> tuple[list[dict[str, Any]], list[int]]:
    """``n`` request bodies for ``phase`` and each one's ground truth (1 = defaulted).

    The truth comes from the applicant's real features (before the phase's faults), drawn
    after the requests so the requests are the same as ``draw_requests``'s; ``label_noise``
    then flips a share of them.
    """
    cols = generate_columns(rng, n)
    clean = {name: values.copy() for name, values in cols.items()}
    for name, delta in phase.shift.items():
        cols[name] = cols[name] + delta
    for name, factor in phase.scale.items():
        cols[name] = cols[name] * factor
    for name in phase.drifted & INTEGRAL:
        cols[name] = cols[name].round().astype(np.int64)
    for name in phase.drifted - INTEGRAL:
        cols[name] = cols[name].round(2)
    for name, values in phase.new_categories.items():
        hit = _mask(rng, n, phase.new_category_rate)
        cols[name] = cols[name].copy()
        cols[name][hit] = rng.choice(np.array(values, dtype=object), int(hit.sum()))
    records = rows(cols)
    _blank(records, phase.missing, None, rng)
    _blank(records, phase.wrong_type, WRONG_TYPE_VALUE, rng)
    labels = label_columns(clean, rng)
    flip = _mask(rng, n, phase.label_noise)
    return records, np.where(flip, 1 - labels, labels).astype(int).tolist()


def _blank(
    records: list[dict[str, Any]], rates: dict[str, float], value: Any, rng: np.random.Generator
) -> None:
    for name, rate in rates.items():
        for i in np.flatnonzero(_mask(rng, len(records), rate)):
            records[i][name] = value
