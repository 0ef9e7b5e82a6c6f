"""Clarify's bias metrics as functions of the counts in a ``BiasState``.

Definitions follow SageMaker Clarify's open-source implementation, which wins over textbook
ones: aws/amazon-sagemaker-clarify @ 024329d1, ``src/smclarify/bias/metrics/``
(``pretraining.py``, ``posttraining.py``, ``common.py``: ``divide``, ``DPL``, ``DCO``,
``DLR``, ``DLA``, ``CDD``, ``GE``) and ``src/smclarify/util/__init__.py``
(``pdfs_aligned_nonzero``). In particular:

- a = the rest (Clarify's "advantaged", ~facet), d = the sensitive facet value(s);
- ``divide(a, b)``: 0/0 = 0, x/0 = +inf (x > 0) or -inf (x < 0);
- DCA/DCR/DAR/DRR/RD/SD/TE are 0 when both sides are +inf; AD likewise;
- an empty facet or rest group is an error (value null + error text in analysis.json);
- KL, JS, LP, TVD and KS compare the two groups' binary label distributions on the label
  values present (non-zero) in both, without renormalising (``pdfs_aligned_nonzero``);
- CDDL/CDDPL weight each group's DD by the group's row count and need a group variable and
  both outcomes present; GE (alpha 2, benefit = prediction - label + 1) is over all rows.
FT (the flip test) needs the raw feature vectors (k-NN counterfactuals) and is not built.

Every function takes ``Tables`` whose arrays may carry leading batch axes (bootstrap
replicates) and returns a float array over them (NaN where Clarify raises an error).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]

A, D = 0, 1  # side axis: rest ("advantaged") and sensitive ("disadvantaged")


@dataclass(frozen=True)
class Tables:
    """Counts for one (facet, facet value) split.

    joined: (..., 2 sides, G groups, 4) counts TN, FP, FN, TP of joined pairs.
    predicted: (..., 2 sides, G groups, 2) predicted negative/positive counts that DPPL, DI
    and CDDPL use (from the joined pairs, or from every captured prediction).
    """

    joined: Array
    predicted: Array
    has_groups: bool


def divide(a: Array | float, b: Array | float) -> Array:
    """Clarify's ``common.divide``, elementwise."""
    a_ = np.asarray(a, dtype=np.float64)
    b_ = np.asarray(b, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = a_ / b_
    on_zero = np.where(a_ == 0, 0.0, np.where(a_ < 0, -np.inf, np.inf))
    return np.asarray(np.where(b_ == 0, on_zero, ratio), dtype=np.float64)


def _both_inf_zero(x: Array, y: Array, diff: Array) -> Array:
    return np.where((x == y) & (x == np.inf), 0.0, diff)


def _sides(t: Tables) -> tuple[Array, Array, Array, Array]:
    """TN, FP, FN, TP per side: each (..., 2)."""
    s = t.joined.sum(axis=-2)
    return s[..., 0], s[..., 1], s[..., 2], s[..., 3]


def _need_both(n: Array) -> npt.NDArray[np.bool_]:
    return np.asarray((n[..., A] > 0) & (n[..., D] > 0))


def _masked(ok: npt.NDArray[np.bool_], value: Array) -> Array:
    return np.asarray(np.where(ok, value, np.nan), dtype=np.float64)


# --- post-training ----------------------------------------------------------------------


def _pred_rates(t: Tables) -> tuple[Array, Array]:
    p = t.predicted.sum(axis=-2)  # (..., 2, 2)
    n = p.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = p[..., 1] / n
    return q, n


def dppl(t: Tables) -> Array:
    q, n = _pred_rates(t)
    return _masked(_need_both(n), q[..., A] - q[..., D])


def di(t: Tables) -> Array:
    q, n = _pred_rates(t)
    return _masked(_need_both(n), divide(q[..., D], q[..., A]))


def _label_diff(
    t: Tables, num: Callable[..., Array], den: Callable[..., Array], sign: int
) -> Array:
    tn, fp, fn, tp = _sides(t)
    r = divide(num(tn, fp, fn, tp), den(tn, fp, fn, tp))
    with np.errstate(invalid="ignore"):  # inf - inf: replaced by 0 below, as Clarify does
        diff = (r[..., A] - r[..., D]) * sign
    return _masked(_need_both(tn + fp + fn + tp), _both_inf_zero(r[..., A], r[..., D], diff))


def dca(t: Tables) -> Array:
    return _label_diff(t, lambda tn, fp, fn, tp: fn + tp, lambda tn, fp, fn, tp: fp + tp, 1)


def dcr(t: Tables) -> Array:
    return _label_diff(t, lambda tn, fp, fn, tp: tn + fp, lambda tn, fp, fn, tp: tn + fn, -1)


def dar(t: Tables) -> Array:
    return _label_diff(t, lambda tn, fp, fn, tp: tp, lambda tn, fp, fn, tp: tp + fp, 1)


def drr(t: Tables) -> Array:
    return _label_diff(t, lambda tn, fp, fn, tp: tn, lambda tn, fp, fn, tp: tn + fn, -1)


def rd(t: Tables) -> Array:
    return _label_diff(t, lambda tn, fp, fn, tp: tp, lambda tn, fp, fn, tp: tp + fn, 1)


def sd(t: Tables) -> Array:
    return _label_diff(t, lambda tn, fp, fn, tp: tn, lambda tn, fp, fn, tp: tn + fp, -1)


def ad(t: Tables) -> Array:
    return _label_diff(
        t, lambda tn, fp, fn, tp: tp + tn, lambda tn, fp, fn, tp: tn + fp + fn + tp, 1
    )


def te(t: Tables) -> Array:
    return _label_diff(t, lambda tn, fp, fn, tp: fn, lambda tn, fp, fn, tp: fp, -1)


def _cdd(pos: Array, neg: Array, has_groups: bool) -> Array:
    """Clarify's ``common.CDD`` from per-(side, group) positive/negative counts (..., 2, G)."""
    n_i = (pos + neg).sum(axis=-2)
    pos_i, neg_i = pos.sum(axis=-2), neg.sum(axis=-2)
    with np.errstate(divide="ignore", invalid="ignore"):
        acc = np.where(pos_i > 0, pos[..., D, :] / pos_i, 0.0)
        rej = np.where(neg_i > 0, neg[..., D, :] / neg_i, 0.0)
    value = divide((n_i * (rej - acc)).sum(axis=-1), n_i.sum(axis=-1))
    ok = (pos_i.sum(axis=-1) > 0) & (neg_i.sum(axis=-1) > 0) & has_groups
    return _masked(np.asarray(ok), value)


def cddpl(t: Tables) -> Array:
    return _cdd(t.predicted[..., 1], t.predicted[..., 0], t.has_groups)


def ge(t: Tables) -> Array:
    """Generalized entropy index, alpha = 2, benefit TN 1, FP 2, FN 0, TP 1 (all rows)."""
    c = t.joined.sum(axis=(-3, -2))
    tn, fp, fn, tp = c[..., 0], c[..., 1], c[..., 2], c[..., 3]
    n = tn + fp + fn + tp
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = (tn + 2 * fp + tp) / n
        value = ((tn + 4 * fp + tp) / mean**2 - n) / (2 * n)
    return _masked(np.asarray((n > 0) & (mean > 0)), value)


# --- pre-training (on the observed labels of the joined pairs) ---------------------------


def _labels(t: Tables) -> tuple[Array, Array]:
    """(positive, negative) observed-label counts per side: each (..., 2)."""
    tn, fp, fn, tp = _sides(t)
    return fn + tp, tn + fp


def ci(t: Tables) -> Array:
    pos, neg = _labels(t)
    n = pos + neg
    with np.errstate(divide="ignore", invalid="ignore"):
        value = (n[..., A] - n[..., D]) / (n[..., A] + n[..., D])
    return _masked(_need_both(n), value)


def dpl(t: Tables) -> Array:
    pos, neg = _labels(t)
    n = pos + neg
    with np.errstate(divide="ignore", invalid="ignore"):
        q = pos / n
    return _masked(_need_both(n), q[..., A] - q[..., D])


def _aligned(t: Tables) -> tuple[Array, Array, npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Label distributions Pa, Pd (..., 2), the mask of values non-zero in both, and ok."""
    pos, neg = _labels(t)
    n = pos + neg
    with np.errstate(divide="ignore", invalid="ignore"):
        pa = np.stack([neg[..., A], pos[..., A]], axis=-1) / n[..., A, None]
        pd = np.stack([neg[..., D], pos[..., D]], axis=-1) / n[..., D, None]
    keep = np.nan_to_num(pa) * np.nan_to_num(pd) > 0
    return np.nan_to_num(pa), np.nan_to_num(pd), keep, np.asarray(keep.any(axis=-1))


def _xlogy(x: Array, y: Array, keep: npt.NDArray[np.bool_]) -> Array:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.where(keep, x * np.log(np.where(keep, x / y, 1.0)), 0.0))


def kl(t: Tables) -> Array:
    pa, pd, keep, ok = _aligned(t)
    return _masked(ok, _xlogy(pa, pd, keep).sum(axis=-1))


def js(t: Tables) -> Array:
    pa, pd, keep, ok = _aligned(t)
    m = (pa + pd) / 2
    value = 0.5 * (_xlogy(pa, m, keep).sum(axis=-1) + _xlogy(pd, m, keep).sum(axis=-1))
    return _masked(ok, value)


def lp(t: Tables) -> Array:
    pa, pd, keep, ok = _aligned(t)
    return _masked(ok, np.sqrt((np.where(keep, pa - pd, 0.0) ** 2).sum(axis=-1)))


def tvd(t: Tables) -> Array:
    pa, pd, keep, ok = _aligned(t)
    return _masked(ok, 0.5 * np.abs(np.where(keep, pa - pd, 0.0)).sum(axis=-1))


def ks(t: Tables) -> Array:
    pa, pd, keep, ok = _aligned(t)
    return _masked(ok, np.abs(np.where(keep, pa - pd, 0.0)).max(axis=-1))


def cddl(t: Tables) -> Array:
    j = t.joined
    return _cdd(j[..., 2] + j[..., 3], j[..., 0] + j[..., 1], t.has_groups)


# --- the registry -----------------------------------------------------------------------

PRE: Final = "pre_training"
POST: Final = "post_training"


@dataclass(frozen=True)
class MetricSpec:
    """One metric: Clarify's name and description, stage, ideal value and function."""

    name: str
    description: str
    stage: str
    ideal: float
    compute: Callable[[Tables], Array]


def _spec(
    name: str, text: str, stage: str, fn: Callable[[Tables], Array], ideal: float = 0.0
) -> MetricSpec:
    return MetricSpec(name, f"{text} ({name})", stage, ideal, fn)


METRICS: Final[dict[str, MetricSpec]] = {
    s.name: s
    for s in (
        _spec("CDDL", "Conditional Demographic Disparity in Labels", PRE, cddl),
        _spec("CI", "Class Imbalance", PRE, ci),
        _spec("DPL", "Difference in Positive Proportions in Labels", PRE, dpl),
        _spec("JS", "Jensen-Shannon Divergence", PRE, js),
        _spec("KL", "Kullback-Liebler Divergence", PRE, kl),
        _spec("KS", "Kolmogorov-Smirnov Distance", PRE, ks),
        _spec("LP", "L-p Norm", PRE, lp),
        _spec("TVD", "Total Variation Distance", PRE, tvd),
        _spec("AD", "Accuracy Difference", POST, ad),
        _spec("CDDPL", "Conditional Demographic Disparity in Predicted Labels", POST, cddpl),
        _spec("DAR", "Difference in Acceptance Rates", POST, dar),
        _spec("DCA", "Difference in Conditional Acceptance", POST, dca),
        _spec("DCR", "Difference in Conditional Rejection", POST, dcr),
        _spec("DI", "Disparate Impact", POST, di, ideal=1.0),
        _spec("DPPL", "Difference in Positive Proportions in Predicted Labels", POST, dppl),
        _spec("DRR", "Difference in Rejection Rates", POST, drr),
        _spec("GE", "Generalized Entropy", POST, ge),
        _spec("RD", "Recall Difference", POST, rd),
        _spec("SD", "Specificity Difference", POST, sd),
        _spec("TE", "Treatment Equality", POST, te),
    )
}
#: Clarify's description of the flip test, for reading Clarify-made files that carry FT.
FT_DESCRIPTION: Final = "Flip Test (FT)"


def error_text(name: str, t: Tables) -> str:
    """Clarify's error message for a metric that has no value on these counts."""
    tn, fp, fn, tp = (x.sum(axis=-1) for x in _sides(t))
    if name in ("CDDL", "CDDPL"):
        if not t.has_groups:
            return "Group variable is empty or not provided"
        pos = (fn + tp) if name == "CDDL" else t.predicted[..., 1].sum()
        return "No positive labels in set" if pos == 0 else "No negative labels in set"
    if name == "GE":
        if tn + fp + fn + tp == 0:
            return "dataset must be non-empty"
        return (
            "All predicted labels are false negatives. There should be at least one "
            "prediction that is not false negative."
        )
    n = t.predicted.sum(axis=(-2, -1)) if name in ("DPPL", "DI") else t.joined.sum(axis=(-2, -1))
    if n[D] == 0:
        return "Facet set is empty"
    if n[A] == 0:
        return "Negated facet set is empty"
    return "No instance of common facet found, dataset may be too small"
