"""The registry of drift methods: an explicit table (no import-time registration)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from modelmon.drift import categorical as cat
from modelmon.drift import numeric as num
from modelmon.drift.results import DriftResult
from modelmon.errors import ConfigurationError

DriftFunction = Callable[..., DriftResult]


@dataclass(frozen=True, slots=True)
class DriftMethod:
    """One registered method: its function, the kinds it accepts and how to read its value."""

    name: str
    function: DriftFunction
    kinds: frozenset[str]
    default_threshold: float
    higher_is_worse: bool  # False: a p-value, drift when the value falls below the threshold
    description: str
    sagemaker: bool = False  # SageMaker's own method: constraints.json's threshold applies

    def __call__(self, baseline: Any, current: Any, **params: Any) -> DriftResult:
        with np.errstate(all="ignore"):  # extreme values give inf/NaN results, not warnings
            return self.run(baseline, current, **params)

    def run(self, baseline: Any, current: Any, **params: Any) -> DriftResult:
        """``__call__`` without its own ``np.errstate`` (the caller holds one)."""
        for side, profile in (("baseline", baseline), ("current", current)):
            if profile.kind not in self.kinds:
                raise ConfigurationError(
                    f"drift method {self.name!r} compares {'/'.join(sorted(self.kinds))} "
                    f"features, but the {side} profile is {profile.kind}; choose one of "
                    f"{', '.join(available_methods(profile.kind))}"
                )
        return self.function(baseline, current, **params)

    def drifted(self, value: float, threshold: float | None = None) -> bool:
        """Whether ``value`` crosses ``threshold`` (the default when None); NaN never does."""
        limit = self.default_threshold if threshold is None else threshold
        if math.isnan(value):
            return False
        return value > limit if self.higher_is_worse else value < limit


_N, _C = frozenset({"numeric"}), frozenset({"categorical"})

METHODS: Mapping[str, DriftMethod] = MappingProxyType(
    {
        m.name: m
        for m in (
            DriftMethod("linf_simple", num.linf_simple, _N, 0.1, True,
                        "L-infinity (KS) distance of the CDFs; SageMaker Simple", True),
            DriftMethod("linf_robust", num.linf_robust, _N, 0.1, True,
                        "L-infinity minus the KS sampling margin; SageMaker Robust", True),
            DriftMethod("psi", num.psi, _N, 0.2, True,
                        "population stability index on baseline deciles"),
            DriftMethod("jensen_shannon", num.jensen_shannon, _N, 0.1, True,
                        "Jensen-Shannon distance (base 2) on baseline deciles"),
            DriftMethod("jensen_shannon_robust", num.jensen_shannon_robust, _N, 0.05, True,
                        "Jensen-Shannon distance less its sampling margin (99.9%)"),
            DriftMethod("wasserstein", num.wasserstein, _N, 0.1, True,
                        "Wasserstein-1 distance in baseline standard deviations"),
            DriftMethod("mean_shift", num.mean_shift, _N, 0.25, True,
                        "|mean shift| in baseline standard deviations"),
            DriftMethod("linf_categorical", cat.linf_categorical, _C, 0.1, True,
                        "L-infinity distance of category shares", True),
            DriftMethod("linf_categorical_robust", cat.linf_categorical_robust, _C, 0.1, True,
                        "L-infinity of shares minus the sampling margin; SageMaker LInfinity",
                        True),
            DriftMethod("chi_square", cat.chi_square, _C, 0.05, False,
                        "chi-square goodness-of-fit p-value; SageMaker ChiSquared", True),
            DriftMethod("new_category_rate", cat.new_category_rate, _C, 0.1, True,
                        "share of current values in categories the baseline never saw"),
            DriftMethod("new_category_excess", cat.new_category_excess, _C, 0.01, True,
                        "new_category_rate less an unchanged tail's (Good-Turing) share"),
        )
    }
)  # fmt: skip


def available_methods(kind: str | None = None) -> list[str]:
    """Names of the methods accepting ``kind`` ("numeric"/"categorical"), or all of them."""
    return [n for n, m in METHODS.items() if kind is None or kind in m.kinds]


def get_method(name: str) -> DriftMethod:
    """The method called ``name``; ConfigurationError listing the names when there is none."""
    method = METHODS.get(name)
    if method is None:
        raise ConfigurationError(
            f"unknown drift method {name!r}; available: {', '.join(available_methods())}"
        )
    return method


_SAGEMAKER = {
    ("numeric", "simple"): "linf_simple",
    ("numeric", "robust"): "linf_robust",
    ("categorical", "simple"): "linf_categorical",
    ("categorical", "robust"): "linf_categorical_robust",
    ("categorical", "linfinity"): "linf_categorical_robust",
    ("categorical", "chisquared"): "chi_square",
}


def sagemaker_method(comparison_method: str, kind: str) -> str:
    """Registry name for a constraints.json ``comparison_method`` / ``categorical_drift_method``
    ("Simple", "Robust", "LInfinity", "ChiSquared"); registry names pass through."""
    if comparison_method in METHODS and kind in METHODS[comparison_method].kinds:
        return comparison_method
    name = _SAGEMAKER.get((kind, comparison_method.strip().lower()))
    if name is None:
        valid = sorted({m for k, m in _SAGEMAKER if k == kind})
        raise ConfigurationError(
            f"comparison method {comparison_method!r} does not apply to {kind} features; "
            f"SageMaker names: {', '.join(valid) or 'none'}, or a registry name: "
            f"{', '.join(available_methods(kind))}"
        )
    return name


def evaluate(
    baseline: Any, current: Any, methods: list[str] | None = None, **params: Any
) -> dict[str, DriftResult]:
    """Every requested (default: every applicable) method on one feature pair."""
    names = methods if methods is not None else available_methods(baseline.kind)
    results: dict[str, DriftResult] = {}
    with np.errstate(all="ignore"):  # once per feature, not once per method
        shared = {**num.prepare(baseline, current), **params}
        for name in names:
            extra = {}
            if name in _BUILT_ON and _BUILT_ON[name][1] in results and not params:
                kwarg, base = _BUILT_ON[name]
                extra[kwarg] = results[base]
            results[name] = get_method(name).run(baseline, current, **shared, **extra)
    return results


#: methods computed from another method's result on the same pair: (keyword, that method)
_BUILT_ON: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "linf_categorical_robust": ("linf", "linf_categorical"),
        "new_category_excess": ("new_rate", "new_category_rate"),
    }
)
