"""A synthetic monitoring history: window results as the detector writes them, for the API's
contract tests and benchmark (a week of one-minute windows costs seconds, not a week).

Deterministic: the same arguments give the same results. Drifted features get distances
above their threshold in the chosen windows and below it elsewhere. Written through the
detector's own ``ResultStore``, so the keys and encodings are exactly the detector's.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from modelmon.events import CheckOutcome, FeatureMetrics, WindowResult

THRESHOLD = 0.1
METHOD = "linf_robust"


@dataclass(frozen=True)
class HistorySpec:
    model_id: str
    features: Sequence[str]
    windows: int
    size_seconds: int = 60
    end_ms: int = 1_767_225_600_000  # 2026-01-01T00:00:00Z
    drifted: frozenset[tuple[str, int]] = frozenset()  # (feature, window index)
    rows: int = 1000
    seed: int = 7


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def window_results(spec: HistorySpec) -> Iterator[WindowResult]:
    """The spec's windows, oldest first."""
    rng = np.random.default_rng(spec.seed)
    size = spec.size_seconds * 1000
    first = spec.end_ms - spec.windows * size
    for w in range(spec.windows):
        start = first + w * size
        calm = rng.uniform(0.01, 0.06, len(spec.features))
        features, checks = {}, []
        for i, name in enumerate(spec.features):
            drifted = (name, w) in spec.drifted
            value = float(0.25 + calm[i]) if drifted else float(calm[i])
            features[name] = FeatureMetrics(
                inferred_type="Fractional", count=spec.rows, missing=0, completeness=1.0,
                mean=float(i), std=1.0, min=float(i) - 3, max=float(i) + 3,
                sum=float(i) * spec.rows, distances={METHOD: value, "psi": value * 2},
            )  # fmt: skip
            text = f"{METHOD} {value:.3f} exceeds {THRESHOLD}" if drifted else ""
            outcome = CheckOutcome(
                check_type="baseline_drift_check", feature=name, violated=drifted,
                value=value, threshold=THRESHOLD, method=METHOD, description=text,
            )  # fmt: skip
            checks.append(outcome)
        yield WindowResult(
            model_id=spec.model_id, window_start=_utc(start), window_end=_utc(start + size),
            evaluated_at=_utc(start + size + 1000), event_count=spec.rows,
            features=features, checks=checks,
        )  # fmt: skip
