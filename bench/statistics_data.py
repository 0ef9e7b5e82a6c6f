"""Seeded benchmark data for bench_statistics.py: a reference set and a drifted current set.

20 numeric features cycle through normal, lognormal and uniform; 5 categoricals have Zipf
frequencies over 5 ... 50,000 values. In the current set some features drift on purpose and the
rest are unchanged, so a monitor's false alarms show as well as its misses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

N_NUMERIC = 20
CARDINALITIES = (5, 50, 500, 5_000, 50_000)
ZIPF_A = 1.1


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    kind: str  # numeric | categorical
    family: str  # normal | lognormal | uniform | zipf
    drift: str  # what changes in the current set ("" = unchanged)


def specs() -> list[FeatureSpec]:
    out = []
    families = ("normal", "lognormal", "uniform")
    numeric_drift = {0: "mean +0.5 std", 1: "scale x1.5", 2: "range +0.3", 3: "mean +0.05 std",
                     6: "mean +0.2 std"}  # fmt: skip
    for i in range(N_NUMERIC):
        out.append(
            FeatureSpec(f"num_{i:02d}", "numeric", families[i % 3], numeric_drift.get(i, ""))
        )
    cat_drift = {0: "shares reshuffled", 2: "10% new category"}
    for j, card in enumerate(CARDINALITIES):
        out.append(FeatureSpec(f"cat_{card}", "categorical", "zipf", cat_drift.get(j, "")))
    return out


def _numeric(rng: np.random.Generator, family: str, n: int, drift: str) -> np.ndarray:
    shift = {"mean +0.5 std": 0.5, "mean +0.05 std": 0.05, "mean +0.2 std": 0.2}.get(drift, 0.0)
    scale = 1.5 if drift == "scale x1.5" else 1.0
    if family == "normal":
        return rng.normal(10.0 + 2.0 * shift, 2.0 * scale, n)
    if family == "lognormal":
        return rng.lognormal(0.0 + shift, 1.0 * scale, n)
    low = 0.3 if drift == "range +0.3" else 0.0
    return rng.uniform(low, 100.0 * scale + low, n) + shift * 29


def _zipf(rng: np.random.Generator, card: int, n: int, drift: str) -> np.ndarray:
    ranks = np.arange(1, card + 1, dtype=np.float64)
    p = ranks**-ZIPF_A
    if drift == "shares reshuffled":
        p = p[::-1] ** 0.5 * p**0.5 + p  # flatter, same support
    p /= p.sum()
    labels = np.array([f"{card}_{i}" for i in range(card)], dtype=object)
    values = labels[rng.choice(card, size=n, p=p)]
    if drift == "10% new category":
        values[rng.random(n) < 0.1] = "unseen"
    return values


def generate(n: int, seed: int, drifted: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    columns = {}
    for spec in specs():
        drift = spec.drift if drifted else ""
        if spec.kind == "numeric":
            columns[spec.name] = _numeric(rng, spec.family, n, drift)
        else:
            columns[spec.name] = _zipf(rng, int(spec.name.split("_")[1]), n, drift)
    return pd.DataFrame(columns)
