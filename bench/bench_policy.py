"""Drift-policy sensitivity: the smallest mean shift and scale change each policy flags, and its
false alarms on unchanged data, at 1k ... 1M rows (baseline and current the same size).

Policies: SageMaker's default (linf_robust / linf_categorical_robust at 0.1), modelmon's
recommended (modelmon.checks.policy.RECOMMENDED: each method with its own threshold), and two
peers' default *rules* computed with scipy on the raw data (not the peers' code): Evidently's
for > 1,000 rows (normed Wasserstein > 0.1 numeric, Jensen-Shannon > 0.1 categorical) and Alibi
Detect's KSDrift (two-sample KS p-value < 0.05).

Prints markdown on stdout; progress on stderr.
Usage: .venv/bin/python bench/bench_policy.py [--sizes 1000,10000,100000,1000000] [--seeds 20]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import stats
from scipy.spatial.distance import jensenshannon

from modelmon.checks.policy import RECOMMENDED
from modelmon.drift import get_method
from modelmon.profile import ProfileTracker

SHIFTS = (0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0)
SCALES = (1.02, 1.05, 1.1, 1.15, 1.2, 1.3, 1.5, 2.0)
SAGEMAKER = {"numeric": (("linf_robust", 0.1),), "categorical": (("linf_categorical_robust", 0.1),)}
Gen = Callable[[np.random.Generator, int], np.ndarray]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def profile(values: np.ndarray, kind: str) -> Any:
    tracker = ProfileTracker({"x": kind})  # type: ignore[dict-item]
    for start in range(0, len(values), 10_000):
        tracker.update({"x": values[start : start + 10_000]})
    return tracker.snapshot().features["x"]


def flagged(rules: Any, kind: str, b: Any, c: Any) -> bool:
    return any(get_method(m).drifted(get_method(m)(b, c).value, t) for m, t in rules[kind])


def evidently_rule(x: np.ndarray, y: np.ndarray, kind: str) -> bool:
    if kind == "numeric":
        return bool(stats.wasserstein_distance(x, y) / np.std(x) > 0.1)
    kx, cx = np.unique(x.astype(str), return_counts=True)
    ky, cy = np.unique(y.astype(str), return_counts=True)
    keys = np.union1d(kx, ky)
    p = np.zeros(len(keys))
    q = np.zeros(len(keys))
    p[np.searchsorted(keys, kx)] = cx / cx.sum()
    q[np.searchsorted(keys, ky)] = cy / cy.sum()
    return bool(jensenshannon(p, q) > 0.1)  # natural log, as Evidently calls it


def alibi_rule(x: np.ndarray, y: np.ndarray, kind: str) -> bool:
    if kind != "numeric":
        return False
    return bool(stats.ks_2samp(x, y).pvalue < 0.05)


def smallest(
    n: int, changes: tuple[float, ...], make: Callable[[float, int], np.ndarray]
) -> dict[str, str]:
    """The smallest change each policy flags (data of one seed per change)."""
    x = make(0.0 if changes is SHIFTS else 1.0, 0)
    base = profile(x, "numeric")
    found: dict[str, str] = {}
    for change in changes:
        y = make(change, 1)
        cur = profile(y, "numeric")
        verdicts = {
            "SageMaker default": flagged(SAGEMAKER, "numeric", base, cur),
            "recommended": flagged(RECOMMENDED, "numeric", base, cur),
            "Evidently rule": evidently_rule(x, y, "numeric"),
            "Alibi KS rule": alibi_rule(x, y, "numeric"),
        }
        for name, hit in verdicts.items():
            if hit and name not in found:
                found[name] = f"{change:g}"
    return found


NULLS: dict[str, tuple[str, Gen]] = {
    "normal": ("numeric", lambda r, n: r.normal(0, 1, n)),
    "lognormal(1.5)": ("numeric", lambda r, n: r.lognormal(0, 1.5, n)),
    "Pareto(1)": ("numeric", lambda r, n: r.pareto(1.0, n)),
    "Cauchy": ("numeric", lambda r, n: r.standard_cauchy(n)),
    "Poisson(2) integers": ("numeric", lambda r, n: r.poisson(2, n).astype(float)),
    "integers 0-3": ("numeric", lambda r, n: r.integers(0, 4, n).astype(float)),
    "5 categories": ("categorical", lambda r, n: zipf(r, n, 5)),
    "long tail, 20k categories": ("categorical", lambda r, n: zipf(r, n, 20_000)),
}


def zipf(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    w = 1 / np.arange(1, k + 1) ** 1.1
    return rng.choice(k, n, p=w / w.sum()).astype(str).astype(object)


def false_alarms(n: int, seeds: int) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for name, (kind, gen) in NULLS.items():
        counts = dict.fromkeys(("SageMaker default", "recommended", "Evidently rule"), 0)
        for seed in range(seeds):
            rng = np.random.default_rng(10_000 + seed)
            x, y = gen(rng, n), gen(rng, n)
            b, c = profile(x, kind), profile(y, kind)
            counts["SageMaker default"] += flagged(SAGEMAKER, kind, b, c)
            counts["recommended"] += flagged(RECOMMENDED, kind, b, c)
            counts["Evidently rule"] += evidently_rule(x, y, kind)
        out[name] = counts
    return out


def categorical_drifts(n: int) -> dict[str, dict[str, bool]]:
    rng = np.random.default_rng(7)
    base = zipf(rng, n, 5)
    p = 1 / np.arange(1, 6) ** 1.1
    q = p[::-1] ** 0.5 * p**0.5 + p  # the benchmark's reshuffle: flatter, same support
    reshuffled = rng.choice(5, n, p=q / q.sum()).astype(str).astype(object)
    cases = {"reshuffled 5 categories": (base, reshuffled)}
    for k in (500, 20_000):
        tail, new = zipf(rng, n, k), zipf(rng, n, k)
        m = int(0.05 * n)
        new[:m] = [f"new-{i}" for i in rng.integers(0, 10 * m + 1, m)]  # spread thinly
        cases[f"5% of values in new categories ({k:,} categories)"] = (tail, new)
    out = {}
    for name, (x, y) in cases.items():
        b, c = profile(x, "categorical"), profile(y, "categorical")
        out[name] = {
            "SageMaker default": flagged(SAGEMAKER, "categorical", b, c),
            "recommended": flagged(RECOMMENDED, "categorical", b, c),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    parser.add_argument("--seeds", type=int, default=20)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    policies = ("SageMaker default", "recommended", "Evidently rule", "Alibi KS rule")
    print("## Drift policies: sensitivity and false alarms (bench_policy.py)\n")
    grid = f"shifts {', '.join(map(str, SHIFTS))} std, scales {', '.join(map(str, SCALES))}"
    print(f"Smallest change flagged (normal data, n rows on each side; grid {grid}):\n")
    print("| rows | " + " | ".join(f"{p}: shift / scale" for p in policies) + " |")
    print("|---" * (len(policies) + 1) + "|")
    for n in sizes:
        log(f"sensitivity at {n:,} rows ...")
        shift = smallest(n, SHIFTS, lambda d, s, n=n: np.random.default_rng(n + s).normal(d, 1, n))
        scale = smallest(n, SCALES, lambda d, s, n=n: np.random.default_rng(n + s).normal(0, d, n))
        cells = [f"{shift.get(p, '> 1')} / {scale.get(p, '> 2')}" for p in policies]
        print(f"| {n:,} | " + " | ".join(cells) + " |")
    print(f"\nFalse alarms on unchanged data ({args.seeds} seeds per cell; SageMaker / "
          "recommended / Evidently rule):\n")  # fmt: skip
    print("| data | " + " | ".join(f"{n:,} rows" for n in sizes) + " |")
    print("|---" * (len(sizes) + 1) + "|")
    table: dict[str, list[str]] = {}
    for n in sizes:
        log(f"false alarms at {n:,} rows ...")
        seeds = args.seeds if n <= 100_000 else max(3, args.seeds // 5)
        for name, c in false_alarms(n, seeds).items():
            cell = (
                f"{c['SageMaker default']} / {c['recommended']} / {c['Evidently rule']} of {seeds}"
            )
            table.setdefault(name, []).append(cell)
    for name, cells in table.items():
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("\nCategorical drifts (flagged? SageMaker default / recommended):\n")
    print("| drift | " + " | ".join(f"{n:,} rows" for n in sizes) + " |")
    print("|---" * (len(sizes) + 1) + "|")
    rows: dict[str, list[str]] = {}
    for n in sizes:
        for name, v in categorical_drifts(n).items():
            sm, rec = ("yes" if v[k] else "no" for k in ("SageMaker default", "recommended"))
            rows.setdefault(name, []).append(f"{sm} / {rec}")
    for name, cells in rows.items():
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
