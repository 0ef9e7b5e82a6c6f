"""Deterministic profiles covering every part of the stored format (shared by the format tests
and the script that wrote tests/fixtures/profile_v2/, the blobs of format version 2)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from modelmon.profile import DatasetProfile, ProfileTracker


def _small() -> DatasetProfile:
    """Few rows: exact sketches, decimals, -0.0, mismatches, missing, +/-inf, few categories."""
    t = ProfileTracker({"x": "numeric", "c": "categorical", "late": "numeric"})
    t.update(
        {
            "x": [1.5, -0.0, 0.0, "oops", None, 2.25, float("inf")],
            "c": ["a", "b", None, 3, 2.5, [1], "a"],
        }
    )
    t.update({"x": [-3.125, 1e-310, 1.7e308, -1.7e308, 7.0, 7.0, 0.1], "c": ["a"] * 7})
    t.update({"late": [4.0, 5.0]})
    return t.snapshot()


def _windowed() -> DatasetProfile:
    """A window's partial: 3-decimal normals in ten batches (merged moments), six categories."""
    rng = np.random.default_rng(11)
    cats = np.array(["alpha", "beta", "gamma", "delta", "epsilon", "zeta"], dtype=object)
    t = ProfileTracker({"n0": "numeric", "n1": "numeric", "c0": "categorical"})
    for _ in range(10):
        t.update({"n0": rng.normal(50, 10, 40).round(3), "n1": rng.integers(0, 500, 40),
                  "c0": cats[rng.integers(0, 6, 40)]})  # fmt: skip
    return t.snapshot()


def _saturated() -> DatasetProfile:
    """Compacted KLL (estimation mode), full-precision values, a sampled category set."""
    rng = np.random.default_rng(5)
    t = ProfileTracker({"f": "numeric", "p": "numeric", "c": "categorical"})
    for _ in range(4):
        f, p = rng.normal(0, 1, 6000), rng.lognormal(3, 1, 6000).round(2)
        c = np.array([f"k{i}" for i in rng.integers(0, 9000, 6000)], dtype=object)
        t.update({"f": f, "p": p, "c": c})
    return t.snapshot()


def _empty() -> DatasetProfile:
    t = ProfileTracker({"x": "numeric", "c": "categorical"})
    t.update({"x": [None, None], "c": [None, None]})
    return t.snapshot()


CASES: dict[str, Callable[[], DatasetProfile]] = {
    "small": _small,
    "windowed": _windowed,
    "saturated": _saturated,
    "empty": _empty,
    "zero": DatasetProfile.zero,
}
