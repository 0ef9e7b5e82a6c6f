"""Check a current DatasetProfile against a Baseline: SageMaker's data-quality checks.

Pure: no I/O, no clock. The batch ``monitor`` command and the streaming detector both call
:func:`evaluate`, once per dataset or window.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modelmon.checks.baseline import Baseline
from modelmon.checks.policy import (
    DriftRule,
    FeaturePolicy,
    enabled_checks,
    feature_policy,
    min_rows,
)
from modelmon.config import ModelConfig
from modelmon.drift import DriftResult, available_methods, get_method
from modelmon.drift.numeric import prepare
from modelmon.errors import ConfigurationError
from modelmon.events import CheckOutcome, CheckType, FeatureMetrics
from modelmon.profile import CategoricalProfile, DatasetProfile, FeatureProfile, NumericProfile
from modelmon.profile.category_sample import CategorySample
from modelmon.sagemaker import violations as wording
from modelmon.sagemaker.violations import ConstraintViolations, Violation

#: Slack for float round-off when comparing shares with thresholds.
_EPS = 1e-12


@dataclass(frozen=True)
class Evaluation:
    """Every check outcome (passed and violated), per-feature figures and notes on skips."""

    row_count: int
    checks: tuple[CheckOutcome, ...]
    features: Mapping[str, FeatureMetrics]
    notes: tuple[str, ...] = ()
    drift_details: Mapping[str, Mapping[str, object]] = field(default_factory=dict)

    @property
    def violations(self) -> list[CheckOutcome]:
        return [c for c in self.checks if c.violated]

    def constraint_violations(self) -> ConstraintViolations:
        """The violations as SageMaker's constraint_violations.json."""
        return ConstraintViolations(
            violations=[
                Violation(
                    feature_name=c.feature,
                    constraint_check_type=c.check_type,
                    description=c.description,
                )
                for c in self.violations
            ]
        )


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def feature_metrics(profile: FeatureProfile, distances: dict[str, float]) -> FeatureMetrics:
    completeness = profile.completeness
    common = {
        "inferred_type": profile.inferred_type,
        "count": profile.present,
        "missing": profile.missing,
        "completeness": completeness if math.isfinite(completeness) else 0.0,
        "type_mismatches": profile.type_mismatches,
        "distances": distances,
    }
    if isinstance(profile, NumericProfile):
        return FeatureMetrics(
            **common,
            mean=_finite(profile.mean),
            std=_finite(profile.std) if profile.count else None,
            min=_finite(profile.min),
            max=_finite(profile.max),
            sum=_finite(profile.sum) if profile.count else None,
        )
    return FeatureMetrics(**common, distinct_estimate=profile.distinct_estimate)


def _outcome(
    check: CheckType,
    name: str,
    violated: bool,
    value: float | None,
    threshold: float | None,
    description: str,
    method: str | None = None,
    error_bound: float | None = None,
) -> CheckOutcome:
    finite = value is not None and math.isfinite(value)
    bound = error_bound if error_bound is not None and math.isfinite(error_bound) else None
    borderline = (
        finite and bound is not None and threshold is not None
        and abs(value - threshold) <= bound  # type: ignore[operator]
    )  # fmt: skip
    return CheckOutcome(
        check_type=check,
        feature=name,
        violated=violated,
        value=value if finite else None,
        threshold=threshold,
        method=method,
        description=description,
        error_bound=bound,
        borderline=bool(borderline),
    )


def data_type_check(
    name: str,
    expected: str,
    profile: FeatureProfile,
    threshold: float,
    numbers_are_text: bool = False,
) -> CheckOutcome | None:
    """The share of present values of the baseline's type must be at least
    ``datatype_check_threshold``. Integral values also fit Fractional. For String, numbers
    fit only when the baseline itself held numeric text in that column (codes such as "007")."""
    if expected not in ("Integral", "Fractional", "String") or not profile.present:
        return None
    counts = profile.type_counts()
    if expected == "Integral":
        matched = counts["Integral"]
    elif expected == "Fractional":
        matched = counts["Integral"] + counts["Fractional"]
    else:
        numbers = counts["Integral"] + counts["Fractional"]
        matched = counts["String"] + (numbers if numbers_are_text else 0)
    share = matched / profile.present
    violated = share < threshold - _EPS
    text = wording.data_type(expected, threshold, share) if violated else ""
    return _outcome("data_type_check", name, violated, share, threshold, text)


def completeness_check(name: str, profile: FeatureProfile, required: float) -> CheckOutcome:
    observed = profile.completeness if profile.rows else 0.0
    violated = observed < required - _EPS
    text = wording.completeness(required, observed) if violated else ""
    return _outcome("completeness_check", name, violated, observed, required, text)


def categorical_values_check(
    name: str, profile: CategoricalProfile, domain: frozenset[str], threshold: float
) -> CheckOutcome | None:
    if not profile.count:
        return None
    counts = profile.counts()
    unknown = {value for value in counts if value not in domain}
    in_domain = sum(c for v, c in counts.items() if v in domain) / profile.count
    sample = profile.sample
    if not profile.is_exact and sample is not None and sample.rate > 0:
        in_domain, outside = _in_domain_share(profile, sample, domain)
        unknown |= outside
    violated = in_domain < threshold - _EPS
    text = wording.categorical_values(in_domain, threshold, unknown) if violated else ""
    return _outcome("categorical_values_check", name, violated, in_domain, threshold, text)


def _in_domain_share(
    profile: CategoricalProfile, sample: CategorySample, domain: frozenset[str]
) -> tuple[float, set[str]]:
    """More categories than the sketch tracks: heavy categories (count >= 10x the sketch's
    count error) from the sketch, the rest from the category sample scaled by its rate (an
    unbiased estimate, as for new_category_rate), instead of counting untracked values out."""
    table = profile.table
    heavy = table.counts >= 10 * profile.maximum_error
    heavy_in = np.isin(table.keys[heavy], np.array(sorted(domain), dtype=str))
    light = ~np.isin(sample.hashes, table.hashes[heavy])
    inside = np.isin(sample.keys, np.array(sorted(domain), dtype=str))
    mass = float(table.counts[heavy][heavy_in].sum())
    mass += float(sample.counts[light & inside].sum()) / sample.rate
    outside = set(table.keys[heavy][~heavy_in][:10].tolist())
    outside |= set(sample.keys[light & ~inside][:10].tolist())
    return min(mass / profile.count, 1.0), outside


def non_negative_check(name: str, profile: NumericProfile) -> CheckOutcome | None:
    if not profile.count:
        return None
    violated = profile.min < 0
    text = wording.non_negative(profile.min) if violated else ""
    return _outcome("non_negative_check", name, violated, profile.min, 0.0, text)


@dataclass
class _Drift:
    distances: dict[str, float]
    outcome: CheckOutcome | None
    details: dict[str, object]
    note: str | None = None


def _distances(base: Any, profile: FeatureProfile, first: list[str]) -> dict[str, DriftResult]:
    """Every applicable method's result (the policy's first); the aligned CDFs of a numeric
    pair are computed once and shared by the methods that need them."""
    shared = prepare(base, profile)
    results = {}
    for method_name in dict.fromkeys([*first, *available_methods(profile.kind)]):
        try:
            results[method_name] = get_method(method_name)(base, profile, **shared)
        except (ConfigurationError, ValueError, ZeroDivisionError):
            continue
    return results


def _drift_outcome(name: str, kind: str, rule: DriftRule, result: DriftResult) -> CheckOutcome:
    method = get_method(rule.method)
    value, threshold = result.value, rule.threshold
    violated = method.drifted(value, threshold)
    text = ""
    if violated:
        numeric = kind == "numeric"
        text = (
            wording.baseline_drift(numeric, value, threshold)
            if method.higher_is_worse
            else wording.baseline_drift_p_value(numeric, value, threshold)
        )
    return _outcome(
        "baseline_drift_check", name, violated, value, threshold, text, method.name,
        result.error_bound,
    )  # fmt: skip


def drift_check(
    name: str, baseline: Baseline, profile: FeatureProfile, policy: FeaturePolicy, min_count: int
) -> _Drift:
    """All applicable distances; the check itself uses the policy's rules (method and threshold
    each): the first violated rule is the outcome, else the first rule's pass."""
    base = baseline.distribution(name)
    if base is None:
        return _Drift({}, None, {}, "drift not checked: the baseline has no distribution")
    if base.kind != profile.kind:
        return _Drift({}, None, {}, f"drift not checked: baseline is {base.kind}, data is not")
    results = _distances(base, profile, [r.method for r in policy.drift_rules])
    distances = {m: r.value for m, r in results.items() if math.isfinite(r.value)}
    details: dict[str, object] = {m: r.details for m, r in results.items()}
    if not policy.compare:
        return _Drift(distances, None, details)
    first = policy.drift_rules[0]
    if profile.count < min_count:
        text = (
            f"skipped: {profile.count} value(s) in the data, fewer than the "
            f"{min_count} needed for a drift check (min_window_count)"
        )
        skipped = _outcome(
            "baseline_drift_check", name, False, None, first.threshold, text, first.method
        )
        note = f"drift not checked: fewer than {min_count} values (min_window_count)"
        return _Drift(distances, skipped, details, note)
    outcomes = [
        _drift_outcome(name, profile.kind, rule, results[rule.method])
        for rule in policy.drift_rules
        if rule.method in results
    ]
    if not outcomes:
        return _Drift(distances, None, details, f"drift not checked: {first.method} failed")
    outcome = next((o for o in outcomes if o.violated), outcomes[0])
    return _Drift(distances, outcome, details)


def evaluate(
    baseline: Baseline, current: DatasetProfile, config: ModelConfig | None = None
) -> Evaluation:
    """Run the enabled checks of every baseline feature (and extra columns) on ``current``."""
    enabled = enabled_checks(config)
    min_count = min_rows(config)
    checks: list[CheckOutcome] = []
    metrics: dict[str, FeatureMetrics] = {}
    skips: dict[str, list[str]] = {}
    details: dict[str, Mapping[str, object]] = {}
    unmonitored = {f.name for f in (config.features if config else []) if not f.monitored}
    names = [n for n in baseline.feature_names if n not in unmonitored]
    known = set(baseline.feature_names)
    ignored = unmonitored | set(baseline.excluded)
    extra = [n for n in current.features if n not in known and n not in ignored]
    n_current, n_baseline = len(current.features), len(baseline.feature_names)
    for name in names:
        profile = current.features.get(name)
        if profile is None:
            if "missing_column_check" in enabled:
                text = wording.missing_column(n_current, n_baseline)
                checks.append(_outcome("missing_column_check", name, True, None, None, text))
            continue
        policy = feature_policy(name, baseline.kind(name), baseline.constraints, config)
        if not policy.monitored:
            continue
        found, drift = _feature_checks(name, baseline, profile, policy, enabled, min_count)
        checks.extend(found)
        metrics[name] = feature_metrics(profile, drift.distances)
        details[name] = drift.details
        if drift.note:
            skips.setdefault(drift.note, []).append(name)
    for name in extra:
        metrics[name] = feature_metrics(current.features[name], {})
        if "extra_column_check" in enabled:
            text = wording.extra_column(n_current, n_baseline)
            checks.append(_outcome("extra_column_check", name, True, None, None, text))
    notes = tuple(f"{reason}: {_names(found)}" for reason, found in skips.items())
    return Evaluation(current.row_count, tuple(checks), metrics, notes, details)


def validate(baseline: Baseline, config: ModelConfig | None = None) -> None:
    """Resolve every feature's policy now, so a bad method name or threshold fails at start-up
    (ConfigurationError listing the valid names) rather than at the first window."""
    for name in baseline.feature_names:
        feature_policy(name, baseline.kind(name), baseline.constraints, config)


def _names(names: list[str], shown: int = 8) -> str:
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def _feature_checks(
    name: str,
    baseline: Baseline,
    profile: FeatureProfile,
    policy: FeaturePolicy,
    enabled: frozenset[CheckType],
    min_count: int,
) -> tuple[list[CheckOutcome], _Drift]:
    found: list[CheckOutcome | None] = []
    if policy.evaluate_constraints:
        if "data_type_check" in enabled:
            expected = baseline.inferred_type(name)
            numbers_ok = expected == "String" and baseline.numbers_are_text(name)
            found.append(
                data_type_check(name, expected, profile, policy.datatype_threshold, numbers_ok)
            )
        if "completeness_check" in enabled and policy.completeness is not None:
            found.append(completeness_check(name, profile, policy.completeness))
        if (
            "categorical_values_check" in enabled
            and policy.domain is not None
            and isinstance(profile, CategoricalProfile)
        ):
            found.append(
                categorical_values_check(name, profile, policy.domain, policy.domain_threshold)
            )
        if (
            "non_negative_check" in enabled
            and policy.is_non_negative
            and isinstance(profile, NumericProfile)
        ):
            found.append(non_negative_check(name, profile))
    drift = drift_check(name, baseline, profile, policy, min_count)
    # evaluate_constraints "Disabled" (e.g. the SDK's set_monitoring(False, feature_name=...))
    # turns off every check of the feature, drift included; its distances are still measured.
    checked = policy.evaluate_constraints and "baseline_drift_check" in enabled
    if checked and drift.outcome is not None:
        found.append(drift.outcome)
    return [c for c in found if c is not None], drift
