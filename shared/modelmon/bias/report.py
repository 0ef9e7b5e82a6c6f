"""Bias metrics of a state per (facet, facet value), with Clarify's null/error/infinity rules.

``facet_reports`` is what both the baseline and each window are made of; ``analysis`` (in
``modelmon.bias.analysis``) writes it in Clarify's ``analysis.json`` shape. Confidence
intervals (``confidence_interval``) use the normal bootstrap interval that SageMaker's bias
drift page names: resample the window's joined pairs with replacement (a multinomial draw over
the count cells, which is exactly a row bootstrap for count-based metrics), recompute the
metric, and report value ± z·sd of the finite replicates. Seeded, so deterministic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from modelmon.bias.config import (
    POST_TRAINING_METRICS,
    PRE_TRAINING_METRICS,
    BiasConfig,
    FacetConfig,
    canonical_metric,
)
from modelmon.bias.metrics import METRICS, Tables, error_text
from modelmon.bias.state import ABOVE, CELLS, BiasState, FacetCounts

PREDICTION_SOURCES = ("joined", "captured")


@dataclass(frozen=True)
class MetricValue:
    """One metric of one facet value: value None means Clarify reports an error instead."""

    name: str
    description: str
    value: float | None
    error: str | None = None


@dataclass(frozen=True)
class FacetValueReport:
    facet: str
    value_or_threshold: str
    metrics: tuple[MetricValue, ...]
    #: joined pairs in the sensitive group, in the rest; captured predictions likewise
    counts: tuple[int, int, int, int] = (0, 0, 0, 0)

    def metric(self, name: str) -> MetricValue | None:
        return next((m for m in self.metrics if m.name == name), None)


def split_tables(
    counts: FacetCounts, sensitive: frozenset[str], has_groups: bool, source: str = "joined"
) -> Tables:
    """The (rest, sensitive) × group tables of one facet for a set of sensitive keys."""
    if source not in PREDICTION_SOURCES:
        raise ValueError(f"prediction source must be one of {PREDICTION_SOURCES}")
    groups = counts.groups()
    index = {g: i for i, g in enumerate(groups)}
    table = np.zeros((2, len(groups), CELLS), dtype=np.float64)
    for (value, group), row in counts.cells.items():
        table[1 if value in sensitive else 0, index[group]] += row
    joined = table[..., :4]
    predicted = predicted_from_joined(joined) if source == "joined" else table[..., 4:6]
    return Tables(joined, predicted, has_groups)


def predicted_from_joined(joined: np.ndarray) -> np.ndarray:
    """Predicted negative/positive counts of joined pairs: (TN + FN, FP + TP)."""
    return np.stack([joined[..., 0] + joined[..., 2], joined[..., 1] + joined[..., 3]], -1)


def facet_splits(
    facet: FacetConfig, counts: FacetCounts | None
) -> list[tuple[str, frozenset[str]]]:
    """(value_or_threshold label, sensitive keys) per reported facet value (Clarify names)."""
    if facet.threshold:
        return [(_interval(facet, counts), frozenset({ABOVE}))]
    keys = facet.sensitive_keys()
    if keys is not None:
        assert facet.value_or_threshold is not None
        return [(",".join(str(v) for v in facet.value_or_threshold), keys)]
    if counts is None:
        return []
    return [(v, frozenset({v})) for v in counts.values()]


def _interval(facet: FacetConfig, counts: FacetCounts | None) -> str:
    """Clarify's pandas interval label ``(t, max]`` (``report._interval_index``)."""
    assert facet.value_or_threshold is not None
    low = facet.value_or_threshold[0]
    high = counts.max_value if counts is not None else None
    if high is None or high <= facet.bound():
        high = facet.bound()
    if isinstance(low, int) and float(high).is_integer():
        return f"({low}, {int(high)}]"
    return f"({float(low)!r}, {float(high)!r}]"


def metric_names(stage: str, methods: Sequence[str] | None = None) -> list[str]:
    """The stage's metrics named in ``methods`` (None or ["all"]: all), in Clarify's order.

    ValueError for a name that is no metric of the stage (FT is not built: left out).
    """
    every = PRE_TRAINING_METRICS if stage == "pre_training" else POST_TRAINING_METRICS
    if methods is None or [m.lower() for m in methods] == ["all"]:
        return list(every)
    wanted = {canonical_metric(m) for m in methods if m.upper() != "FT"}
    wrong = sorted(wanted - set(every))
    if wrong:
        raise ValueError(f"{', '.join(wrong)}: not a {stage} metric; valid: {', '.join(every)}")
    return [m for m in every if m in wanted]


def evaluate(names: Sequence[str], tables: Tables) -> tuple[MetricValue, ...]:
    out = []
    for name in names:
        spec = METRICS[name]
        value = float(spec.compute(tables))
        if np.isnan(value):
            out.append(MetricValue(name, spec.description, None, error_text(name, tables)))
        else:
            out.append(MetricValue(name, spec.description, value))
    return tuple(out)


def facet_tables(
    config: BiasConfig, state: BiasState, source: str = "joined"
) -> list[tuple[str, str, Tables, tuple[int, int, int, int]]]:
    """(facet, facet value label, tables, group sizes) per reported facet value, config order.

    Sizes: joined pairs in the sensitive group, in the rest; captured predictions likewise."""
    out = []
    for facet in config.facet:
        counts = state.facets.get(facet.name)
        for label, sensitive in facet_splits(facet, counts):
            if counts is None:
                counts = FacetCounts(facet.name, None, {})
            tables = split_tables(counts, sensitive, config.group_variable is not None, source)
            captured = split_tables(counts, sensitive, False, "captured").predicted
            sizes = (
                int(tables.joined[1].sum()),
                int(tables.joined[0].sum()),
                int(captured[1].sum()),
                int(captured[0].sum()),
            )
            out.append((facet.name, label, tables, sizes))
    return out


def facet_reports(
    config: BiasConfig,
    state: BiasState,
    stage: str,
    methods: Sequence[str] | None = None,
    source: str = "joined",
) -> list[FacetValueReport]:
    """Every (facet, facet value)'s metrics of one stage, in config order."""
    names = metric_names(stage, methods)
    return [
        FacetValueReport(facet, label, evaluate(names, tables), sizes)
        for facet, label, tables, sizes in facet_tables(config, state, source)
    ]


@dataclass(frozen=True)
class MetricInterval:
    """A metric's normal bootstrap confidence interval in one window."""

    stage: str
    facet: str
    facet_value: str
    metric: str
    low: float
    high: float

    def to_json(self) -> dict[str, object]:
        return {
            "stage": self.stage,
            "facet": self.facet,
            "facet_value": self.facet_value,
            "metric": self.metric,
            "low": self.low,
            "high": self.high,
        }


def facet_intervals(
    config: BiasConfig,
    state: BiasState,
    stages: Mapping[str, Sequence[str] | None],
    level: float = 0.95,
    replicates: int = 1000,
    seed: int = 0,
) -> list[MetricInterval]:
    """The confidence interval of every metric of ``stages`` (stage -> methods) per facet
    value that has one (``confidence_interval``: finite value, >= 2 finite replicates)."""
    out = []
    for facet, label, tables, _ in facet_tables(config, state):
        for stage, methods in stages.items():
            for name in metric_names(stage, methods):
                found = confidence_interval(name, tables, level, replicates, seed)
                if found is not None:
                    out.append(MetricInterval(stage, facet, label, name, *found))
    return out


def confidence_interval(
    name: str,
    tables: Tables,
    level: float = 0.95,
    replicates: int = 1000,
    seed: int = 0,
) -> tuple[float, float] | None:
    """Normal bootstrap interval of a metric; None when it has no finite spread."""
    value = float(METRICS[name].compute(tables))
    if not np.isfinite(value):
        return None
    rng = np.random.Generator(np.random.PCG64(seed))
    joined = _resample(tables.joined, replicates, rng)
    if np.array_equal(tables.predicted, predicted_from_joined(tables.joined)):
        predicted = predicted_from_joined(joined)
    else:
        predicted = _resample(tables.predicted, replicates, rng)
    boot = Tables(joined, predicted, tables.has_groups)
    draws = METRICS[name].compute(boot)
    finite = draws[np.isfinite(draws)]
    if len(finite) < 2:
        return None
    z = NormalDist().inv_cdf(0.5 + level / 2)
    spread = z * float(np.std(finite, ddof=1))
    return value - spread, value + spread


def _resample(table: np.ndarray, replicates: int, rng: np.random.Generator) -> np.ndarray:
    total = int(table.sum())
    flat = table.reshape(-1)
    if total == 0:
        return np.zeros((replicates, *table.shape))
    draws = rng.multinomial(total, flat / total, size=replicates)
    return draws.reshape((replicates, *table.shape)).astype(np.float64)
