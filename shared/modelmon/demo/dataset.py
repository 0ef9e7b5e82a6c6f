"""The demo's tabular data: a loan book with readable numeric and categorical features.

Generated with a seeded numpy RNG (no download), so every run trains the same model and the
baseline is the same. ``defaulted`` is the label; it is never sent as a feature.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

Kind = Literal["integral", "fractional", "categorical"]


@dataclass(frozen=True)
class FeatureSpec:
    """One input feature of the demo model."""

    name: str
    kind: Kind
    description: str


FEATURES: tuple[FeatureSpec, ...] = (
    FeatureSpec("age", "integral", "applicant age in years, 21-75"),
    FeatureSpec("income", "fractional", "yearly income"),
    FeatureSpec("balance", "fractional", "current account balance"),
    FeatureSpec("tenure_months", "integral", "months as a customer"),
    FeatureSpec("num_products", "integral", "products held, 1-4"),
    FeatureSpec("credit_score", "integral", "bureau score, 300-850"),
    FeatureSpec("utilization", "fractional", "share of the credit line in use, 0-1"),
    FeatureSpec("region", "categorical", "north, south, east, west or central"),
    FeatureSpec("plan", "categorical", "basic, standard or premium"),
    FeatureSpec("channel", "categorical", "web, mobile or branch"),
    FeatureSpec("sex", "categorical", "female or male: the sensitive attribute (bias drift)"),
)
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
NUMERIC: tuple[str, ...] = tuple(f.name for f in FEATURES if f.kind != "categorical")
CATEGORICAL: tuple[str, ...] = tuple(f.name for f in FEATURES if f.kind == "categorical")
INTEGRAL: frozenset[str] = frozenset(f.name for f in FEATURES if f.kind == "integral")
LABEL = "defaulted"

CATEGORIES: dict[str, tuple[tuple[str, ...], tuple[float, ...]]] = {
    "region": (("north", "south", "east", "west", "central"), (0.24, 0.22, 0.2, 0.19, 0.15)),
    "plan": (("basic", "standard", "premium"), (0.5, 0.35, 0.15)),
    "channel": (("web", "mobile", "branch"), (0.45, 0.4, 0.15)),
    #: the label does not depend on it; the model must not either (the bias monitor's facet)
    "sex": (("female", "male"), (0.5, 0.5)),
}
#: the sensitive attribute and its sensitive value (the bias config's facet)
SENSITIVE = ("sex", "female")


def generate_columns(rng: np.random.Generator, n: int) -> dict[str, np.ndarray[Any, Any]]:
    """``n`` applicants as columns (numpy arrays), drawn from the demo's fixed distributions."""
    cols: dict[str, np.ndarray[Any, Any]] = {
        "age": np.clip(rng.normal(42, 12, n), 21, 75).round().astype(np.int64),
        "income": np.exp(rng.normal(np.log(55_000), 0.45, n)).round(2),
        "balance": np.exp(rng.normal(np.log(8_000), 0.8, n)).round(2),
        "tenure_months": np.minimum(rng.geometric(1 / 40, n) - 1, 240).astype(np.int64),
        "num_products": rng.choice(np.array([1, 2, 3, 4]), n, p=[0.45, 0.35, 0.15, 0.05]),
        "credit_score": np.clip(rng.normal(680, 70, n), 300, 850).round().astype(np.int64),
        "utilization": rng.beta(2, 5, n).round(4),
    }
    for name, (values, probs) in CATEGORIES.items():
        cols[name] = rng.choice(np.array(values, dtype=object), n, p=list(probs))
    return cols


def label_columns(
    cols: dict[str, np.ndarray[Any, Any]], rng: np.random.Generator
) -> np.ndarray[Any, Any]:
    """The ground truth: a noisy logistic function of the features (1 = defaulted)."""
    logit = (
        -1.2
        - (cols["credit_score"] - 680) / 45
        + 3.0 * (cols["utilization"] - 0.29)
        + 0.9 * np.log(cols["balance"] / cols["income"] * 7)
        - cols["tenure_months"] / 120
        + 0.4 * (cols["plan"] == "basic")
        - 0.3 * (cols["channel"] == "branch")
    )
    prob = 1 / (1 + np.exp(-logit))
    labels: np.ndarray[Any, Any] = (rng.random(len(prob)) < prob).astype(np.int64)
    return labels


def rows(cols: dict[str, np.ndarray[Any, Any]]) -> list[dict[str, Any]]:
    """Columns -> JSON-ready records with plain Python scalars (ints stay ints)."""
    plain = {name: cols[name].tolist() for name in FEATURE_NAMES}
    n = len(plain[FEATURE_NAMES[0]])
    return [{name: plain[name][i] for name in FEATURE_NAMES} for i in range(n)]
