"""The per-model bound on features profiled per window (pure; issue 19).

A window profiles every feature its model's config lists, and other feature names as they come
(sorted within a batch, so identical input gives identical profiles) until it holds
``max_features``; values of names past the cap are not profiled but counted, and the aggregator
reports the count (``modelmon_aggregator_values_over_feature_cap_total{model}``). Without the
cap, 100 events with 1,000 new names each took the aggregator to 1.1 GB and failed another
model's window; with it, one model's flood costs at most ``max_features`` sketches per window.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, TypeVar

import numpy as np

from modelmon.profile.numbers import Numbers
from modelmon.streaming.decode import (
    Column,
    DecodedBatch,
    Int64Array,
    columns,
    feature_names,
)

#: Default cap (MODELMON_LIMITS__MAX_FEATURES overrides it).
DEFAULT_MAX_FEATURES = 500

C = TypeVar("C")


def capped_columns(
    batch: DecodedBatch, positions: Int64Array, tracked: Collection[str],
    configured: Collection[str], limit: int, model_id: str | None = None,
) -> tuple[dict[str, Column | Numbers], int]:  # fmt: skip
    """``batch.columns_at(positions, configured, model_id)`` within the cap, and the values
    left out.

    On the generic path the names are capped before any column is built, so a flood of names
    costs a count, not a column each (the native decoder bounds the names it builds columns
    for: past that, a model's events keep their dicts)."""
    typed = batch.typed_columns(positions, configured, model_id)
    if typed is not None:  # columns built at decode time
        return cap_features(typed, tracked, configured, limit)
    rows = batch.rows_at(positions, model_id)
    names = feature_names(rows, configured)
    admitted = admit(names, tracked, configured, limit)
    if len(admitted) == len(names):
        return columns(rows, names), 0
    keep = set(admitted)
    dropped = sum(
        1 for row in rows for name, value in row.items() if value is not None and name not in keep
    )
    return columns(rows, admitted), dropped


def admit(
    names: list[str], tracked: Collection[str], configured: Collection[str], limit: int
) -> list[str]:
    """The names (in order) a window within its cap profiles: those it already has, configured
    ones, then new ones in sorted order while there is room."""
    new = [name for name in names if name not in tracked]
    if len(tracked) + len(new) <= limit:
        return names
    room = max(0, limit - len(tracked))
    admitted = {n for n in new if n in configured}
    for name in sorted(n for n in new if n not in admitted):
        if len(admitted) >= room:
            break
        admitted.add(name)
    return [n for n in names if n in tracked or n in admitted]


def cap_features(
    columns: dict[str, C],
    tracked: Collection[str],
    configured: Collection[str],
    limit: int,
) -> tuple[dict[str, C], int]:
    """The columns to profile and the number of values left out (not missing ones)."""
    names = admit(list(columns), tracked, configured, limit)
    if len(names) == len(columns):
        return columns, 0
    kept = {n: columns[n] for n in names}
    dropped = sum(_present(c) for n, c in columns.items() if n not in kept)
    return kept, dropped


def _present(column: Any) -> int:
    """Values in a column that are not missing."""
    if isinstance(column, Numbers):
        return int(np.count_nonzero(~np.isnan(column.values)))
    arr = np.asarray(column)
    if arr.dtype == object:
        return int(np.count_nonzero(arr != None))  # noqa: E711 - elementwise
    if arr.dtype.kind == "f":
        return int(np.count_nonzero(~np.isnan(arr)))
    return len(arr)
