"""An independent oracle: Clarify's bias metrics computed row by row from the raw records.

A direct transcription of aws/amazon-sagemaker-clarify @ 024329d1
``src/smclarify/bias/metrics/{pretraining,posttraining,common}.py`` onto numpy boolean
arrays (one entry per record), so the count-based implementation is checked against the
formulas themselves. A metric Clarify raises on returns None.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

Bools = npt.NDArray[np.bool_]
INF = float("inf")


def divide(a: float, b: float) -> float:
    if b == 0 and a == 0:
        return 0.0
    if b == 0:
        return -INF if a < 0 else INF
    return a / b


def _n(mask: Bools) -> int:
    return int(np.count_nonzero(mask))


def _require_both(d: Bools) -> None:
    if _n(d) == 0:
        raise ValueError("Facet set is empty")
    if _n(~d) == 0:
        raise ValueError("Negated facet set is empty")


def dpl(d: Bools, pos: Bools) -> float:
    _require_both(d)
    return _n(~d & pos) / _n(~d) - _n(d & pos) / _n(d)


def di(d: Bools, y: Bools, p: Bools) -> float:
    _require_both(d)
    return divide(_n(p & d) / _n(d), _n(p & ~d) / _n(~d))


def _quadrants(d: Bools, y: Bools, p: Bools) -> tuple[int, int, int, int]:
    return _n(y & p & d), _n(~y & p & d), _n(y & ~p & d), _n(~y & ~p & d)


def _diff(x: float, z: float, value: float) -> float:
    return 0.0 if x == z and x == INF else value


def dca(d: Bools, y: Bools, p: Bools) -> float:
    _require_both(d)
    ca = divide(_n(y & ~d), _n(p & ~d))
    cd = divide(_n(y & d), _n(p & d))
    return _diff(ca, cd, ca - cd)


def dcr(d: Bools, y: Bools, p: Bools) -> float:
    _require_both(d)
    ra = divide(_n(~y & ~d), _n(~p & ~d))
    rd_ = divide(_n(~y & d), _n(~p & d))
    return _diff(ra, rd_, rd_ - ra)


def dar(d: Bools, y: Bools, p: Bools) -> float:
    _require_both(d)
    a = divide(_n(y & p & ~d), _n(p & ~d))
    b = divide(_n(y & p & d), _n(p & d))
    return _diff(a, b, a - b)


def drr(d: Bools, y: Bools, p: Bools) -> float:
    _require_both(d)
    a = divide(_n(~y & ~p & ~d), _n(~p & ~d))
    b = divide(_n(~y & ~p & d), _n(~p & d))
    return _diff(a, b, b - a)


def rd(d: Bools, y: Bools, p: Bools) -> float:
    _require_both(d)
    tpa, _, fna, _ = _quadrants(~d, y, p)
    tpd, _, fnd, _ = _quadrants(d, y, p)
    a, b = divide(tpa, tpa + fna), divide(tpd, tpd + fnd)
    return _diff(a, b, a - b)


def sd(d: Bools, y: Bools, p: Bools) -> float:
    _require_both(d)
    _, fpa, _, tna = _quadrants(~d, y, p)
    _, fpd, _, tnd = _quadrants(d, y, p)
    a, b = divide(tna, tna + fpa), divide(tnd, tnd + fpd)
    return _diff(a, b, b - a)


def ad(d: Bools, y: Bools, p: Bools) -> float:
    _require_both(d)
    tpa, fpa, fna, tna = _quadrants(~d, y, p)
    tpd, fpd, fnd, tnd = _quadrants(d, y, p)
    a = divide(tpa + tna, tpa + tna + fpa + fna)
    b = divide(tpd + tnd, tpd + tnd + fpd + fnd)
    return _diff(a, b, a - b)


def te(d: Bools, y: Bools, p: Bools) -> float:
    _require_both(d)
    _, fpa, fna, _ = _quadrants(~d, y, p)
    _, fpd, fnd, _ = _quadrants(d, y, p)
    a, b = divide(fna, fpa), divide(fnd, fpd)
    return _diff(a, b, b - a)


def cdd(d: Bools, pos: Bools, group: npt.NDArray[np.str_] | None) -> float:
    if group is None or len(group) == 0:
        raise ValueError("Group variable is empty or not provided")
    if _n(pos) == 0:
        raise ValueError("No positive labels in set")
    if _n(~pos) == 0:
        raise ValueError("No negative labels in set")
    counts, values = [], []
    for g in np.unique(group):
        in_g = group == g
        counts.append(_n(in_g))
        den_a, den_d = _n(pos & in_g), _n(~pos & in_g)
        a = _n(pos & d & in_g) / den_a if den_a else 0
        r = _n(~pos & d & in_g) / den_d if den_d else 0
        values.append(r - a)
    return divide(float(np.sum(np.array(counts) * np.array(values))), float(np.sum(counts)))


def ge(y: Bools, p: Bools) -> float:
    n = len(y)
    if n == 0:
        raise ValueError("dataset must be non-empty")
    benefit = p.astype(int) - y.astype(int) + 1
    mean = benefit.mean()
    if mean == 0:
        raise ValueError("all false negatives")
    return float(((benefit / mean) ** 2 - 1).sum() / (n * 2 * 1))


def ci(d: Bools) -> float:
    _require_both(d)
    return (_n(~d) - _n(d)) / len(d)


def _aligned(d: Bools, y: Bools) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    def pdf(values: Bools) -> dict[bool, float]:
        keys, counts = np.unique(values, return_counts=True)
        return {bool(k): c / counts.sum() for k, c in zip(keys, counts, strict=True)}

    pa, pd = pdf(y[~d]), pdf(y[d])
    keys = [k for k in (False, True) if pa.get(k, 0) != 0 and pd.get(k, 0) != 0]
    if not keys:
        raise ValueError("No instance of common facet found, dataset may be too small")
    return np.array([pa[k] for k in keys]), np.array([pd[k] for k in keys])


def kl(d: Bools, y: Bools) -> float:
    pa, pd = _aligned(d, y)
    return float(np.sum(pa * np.log(pa / pd)))


def js(d: Bools, y: Bools) -> float:
    pa, pd = _aligned(d, y)
    m = 0.5 * (pa + pd)
    return float(0.5 * (np.sum(pa * np.log(pa / m)) + np.sum(pd * np.log(pd / m))))


def lp(d: Bools, y: Bools) -> float:
    pa, pd = _aligned(d, y)
    return float(np.linalg.norm(pa - pd, 2))


def tvd(d: Bools, y: Bools) -> float:
    pa, pd = _aligned(d, y)
    return 0.5 * float(np.linalg.norm(pa - pd, 1))


def ks(d: Bools, y: Bools) -> float:
    pa, pd = _aligned(d, y)
    return float(np.linalg.norm(pa - pd, np.inf))


def metric(
    name: str, d: Bools, y: Bools, p: Bools, group: npt.NDArray[np.str_] | None
) -> float | None:
    """Clarify's value of ``name``; None where Clarify raises."""
    table: dict[str, Callable[[], float]] = {
        "DPPL": lambda: dpl(d, p),
        "DI": lambda: di(d, y, p),
        "DCA": lambda: dca(d, y, p),
        "DCR": lambda: dcr(d, y, p),
        "DAR": lambda: dar(d, y, p),
        "DRR": lambda: drr(d, y, p),
        "RD": lambda: rd(d, y, p),
        "SD": lambda: sd(d, y, p),
        "AD": lambda: ad(d, y, p),
        "TE": lambda: te(d, y, p),
        "CDDPL": lambda: cdd(d, p, group),
        "GE": lambda: ge(y, p),
        "CI": lambda: ci(d),
        "DPL": lambda: dpl(d, y),
        "KL": lambda: kl(d, y),
        "JS": lambda: js(d, y),
        "LP": lambda: lp(d, y),
        "TVD": lambda: tvd(d, y),
        "KS": lambda: ks(d, y),
        "CDDL": lambda: cdd(d, y, group),
    }
    try:
        return table[name]()
    except ValueError:
        return None
