"""The share of current values in categories the baseline never saw, at any number of categories.

The current data's categories fall in two groups:

* **heavy**: tracked by the current frequent-items sketch (once it has more categories than it
  tracks) with a count of at least ten times its count error and a share of at least twice
  the baseline sketch's per-category error share. The
  baseline knows each of them: exactly while its sketch is exact; otherwise a category in its
  tracked list was seen, one whose hash falls in the baseline's category sample is looked up
  there, and any other one (rare in the baseline: at most its error share, yet heavy now) is
  counted as new with its whole mass added to the bound.
* **light**: everything else, estimated from the coordinated category samples. Both samples hold
  every category whose hash is below a common threshold (share ``p`` of the hash space), so the
  baseline's answer is exact for each sampled light category; their new mass divided by ``p`` is
  an unbiased (Horvitz-Thompson) estimate of the light new mass, with standard deviation
  estimated from the sample itself. While either side has no more than 4,096 categories the
  sample is complete (p = 1) and this part is exact.

``bound`` = current count errors of the heavy new categories + the mass of the undecidable heavy
ones + 3 estimated standard deviations of the light part (99.7% for a normal sum). The expected
share of an *unchanged* distribution (Good-Turing: the baseline's share of values in categories
seen once) is reported beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from modelmon.drift.results import CategoricalDistribution
from modelmon.profile.category_sample import FULL, CategorySample, hash_texts

#: A current category is "heavy" only when its count is at least this many times the current
#: sketch's count error (so each heavy count is within 10%) and at least twice the baseline
#: sketch's error share: then the baseline's tracked list decides whether it was seen.
_HEAVY_ERRORS = 10


@dataclass(frozen=True, slots=True)
class NewShare:
    share: float
    bound: float
    categories: float  # estimated number of new categories
    examples: list[str]
    sample_rate: float
    expected_unseen: float


def _sample(d: CategoricalDistribution) -> CategorySample | None:
    sample = getattr(d, "sample", None)
    return sample if isinstance(sample, CategorySample) else None


def _all_categories(c: CategoricalDistribution) -> CategorySample | None:
    """Every current category with its count: the exact table, else the sample."""
    if c.is_exact:
        table = c.table
        return CategorySample(table.keys, table.hashes, table.counts.astype(np.int64), FULL)
    return _sample(c)


def _good_turing(b: CategoricalDistribution, sb: CategorySample | None) -> float:
    """Share of the baseline's values in categories seen once: the expected share of values an
    unchanged distribution puts in categories the baseline never saw."""
    if b.is_exact:
        return float((b.table.counts == 1).sum()) / b.count
    if sb is None or not len(sb):
        return 0.0
    return float((sb.counts == 1).sum()) / sb.rate / b.count


def _seen(
    b: CategoricalDistribution, sb: CategorySample | None, keys: npt.NDArray[np.str_]
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """(decided, seen) per key: whether the baseline's answer is certain, and the answer."""
    in_table = b.table.lookup(keys) > 0
    if b.is_exact:
        return np.ones(len(keys), dtype=bool), in_table
    assert sb is not None
    if sb.threshold < FULL:
        covered = hash_texts(keys) < np.uint64(sb.threshold)
    else:
        covered = np.ones(len(keys), dtype=bool)
    seen = in_table | (covered & sb.contains(keys))
    return in_table | covered, seen


def estimate_new_share(b: CategoricalDistribution, c: CategoricalDistribution) -> NewShare | None:
    """The estimate and its bound; None when the baseline can answer neither exactly nor from a
    sample (a profile read from a format-1 blob that had more categories than it tracked)."""
    sb = _sample(b)
    current = _all_categories(c)
    if (not b.is_exact and sb is None) or current is None:
        return None
    n = c.count
    tau = min(FULL if b.is_exact else sb.threshold, current.threshold)  # type: ignore[union-attr]
    p = tau / FULL
    # heavy current categories: decided one by one
    tc = c.table
    c_error = float(getattr(c, "maximum_error", 0))
    heavy_at = max(0.0 if b.is_exact else 2 * b.frequency_error * n, _HEAVY_ERRORS * c_error)
    heavy_mask = tc.counts >= heavy_at if not c.is_exact else np.zeros(len(tc.keys), dtype=bool)
    heavy_keys, heavy_counts = tc.keys[heavy_mask], tc.counts[heavy_mask]
    decided, seen = _seen(b, sb, heavy_keys)
    new_heavy = ~seen
    heavy_new_mass = float(heavy_counts[new_heavy].sum())
    undecided_mass = float(heavy_counts[new_heavy & ~decided].sum())
    count_error = float(new_heavy.sum()) * c_error
    # light current categories: sampled, not heavy, not in the baseline's tracked list
    light = current.below(tau) & ~np.isin(current.hashes, tc.hashes[heavy_mask])
    keys, counts = current.keys[light], current.counts[light].astype(np.float64)
    hashes = current.hashes[light]
    in_table = b.table.lookup_hashes(hashes) > 0
    seen_light = in_table if b.is_exact or sb is None else in_table | sb.contains_hashes(hashes)
    new_light = ~seen_light
    light_counts = counts[new_light]
    light_mass = float(light_counts.sum()) / p
    variance = float((light_counts**2).sum()) * (1 - p) / (p * p)
    share = (heavy_new_mass + light_mass) / n
    bound = (count_error + undecided_mass + 3 * math.sqrt(variance)) / n
    examples = _examples(
        heavy_keys[new_heavy], heavy_counts[new_heavy], keys[new_light], light_counts
    )
    return NewShare(
        share=min(share, 1.0),
        bound=bound,
        categories=float(new_heavy.sum()) + float(new_light.sum()) / p,
        examples=examples,
        sample_rate=p,
        expected_unseen=_good_turing(b, sb),
    )


def _examples(*parts: Any) -> list[str]:
    heavy_keys, heavy_counts, light_keys, light_counts = parts
    keys = np.concatenate((heavy_keys, light_keys)).tolist()
    counts = np.concatenate((heavy_counts, light_counts)).tolist()
    ranked = sorted(zip(counts, keys, strict=True), key=lambda kv: (-kv[0], kv[1]))
    return [str(k) for _, k in ranked[:10]]
