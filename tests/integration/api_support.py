"""A seeded monitoring state for the API tests: a registered model with a real baseline, a
synthetic window history written through the detector's ResultStore, window profiles, and the
label join's and the attribution series."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelmon.api.app import create_app
from modelmon.api.auth import TokenAuth
from modelmon.api.captures import CaptureSource
from modelmon.api.store import MonitorStore
from modelmon.archive.store import LocalStore
from modelmon.checks import Baseline
from modelmon.config import ModelConfig
from modelmon.demo.history import HistorySpec, window_results
from modelmon.keys import Keys, WindowRef
from modelmon.profile import DatasetProfile, ProfileTracker
from modelmon.registry import Registry, read_baseline_dir
from modelmon.sagemaker.build import build_statistics, suggest_constraints
from modelmon.streaming.results import ResultStore

from .attribution_support import seed_attribution
from .label_join_support import seed_label_join

READ_TOKEN = "read-token-0123456789abcdef"
ADMIN_TOKEN = "admin-token-0123456789abcdef"
FEATURES = ["x", "y", "color"]
KINDS: dict[str, Any] = {"x": "numeric", "y": "numeric", "color": "categorical"}


@dataclass(frozen=True)
class Seeded:
    model_id: str
    spec: HistorySpec
    drifted_window: int


def profile(rng: np.random.Generator, n: int, shift: float) -> DatasetProfile:
    tracker = ProfileTracker(KINDS)
    probs = [0.7, 0.15, 0.15] if shift else [1 / 3, 1 / 3, 1 / 3]
    tracker.update(
        {
            "x": rng.normal(10 + shift, 2, n),
            "y": rng.integers(0, 100, n),
            "color": rng.choice(["red", "green", "blue"], n, p=probs),
        }
    )
    return tracker.snapshot()


def seed(client: Any, prefix: str, tmp: Path, windows: int = 30) -> Seeded:
    keys = Keys(prefix)
    registry = Registry(client, keys)
    config = {"model_id": "churn", "window": {"size_seconds": 60},
              "features": [{"name": n, "kind": k} for n, k in KINDS.items()]}  # fmt: skip
    registry.register(ModelConfig.model_validate(config))
    rng = np.random.default_rng(3)
    base = profile(rng, 5000, 0.0)
    stats = build_statistics(base, FEATURES)
    directory = tmp / "baseline"
    directory.mkdir(exist_ok=True)
    Baseline(stats, suggest_constraints(stats), base).save(directory)
    registry.push_baseline("churn", read_baseline_dir(directory), "test")
    drifted = windows - 10
    spec = HistorySpec(
        "churn", FEATURES, windows,
        drifted=frozenset({("x", w) for w in range(drifted, drifted + 3)}),
    )  # fmt: skip
    store = ResultStore(client, keys, "test")
    results = list(window_results(spec))
    for result in results:
        store.save_result(result, False, 10**12)
    for w in (drifted, windows - 1):
        ref = WindowRef("churn", 60_000, int(results[w].window_start.timestamp() * 1000))
        store.save_merged(ref, profile(rng, 2000, 2.0 if w == drifted else 0.0), 3600)
    # the label join's series of the same model (model quality and bias per window)
    t0 = int(results[0].window_start.timestamp() * 1000)
    seed_label_join(client, prefix, "churn", t0, 60_000, windows=6, bad=3)
    # and the detector's feature-attribution series (NDCG per window)
    seed_attribution(client, prefix, "churn", t0, 60_000, windows=6, bad=3)
    return Seeded("churn", spec, drifted)


def make_app(client: Any, prefix: str, archive: Path | None = None) -> Any:
    store = MonitorStore(client, Keys(prefix), "modelmon.capture.v1", 6)
    captures = CaptureSource(LocalStore(archive), "") if archive is not None else None
    auth = TokenAuth.of([READ_TOKEN], [ADMIN_TOKEN])
    return create_app(store, auth, max_body_bytes=65_536, captures=captures)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
