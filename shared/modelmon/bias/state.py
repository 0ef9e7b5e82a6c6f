"""Mergeable bias counts per (window, facet, facet value, group): every bias metric's input.

For each facet the state keeps, per (facet value, group value), six counts:

    0 TN  joined pairs: label negative, prediction negative
    1 FP  joined pairs: label negative, prediction positive
    2 FN  joined pairs: label positive, prediction negative
    3 TP  joined pairs: label positive, prediction positive
    4     captured predictions (joined or not yet): prediction negative
    5     captured predictions: prediction positive

Clarify's metrics (pre- and post-training, CDDL/CDDPL per group variable, GE over all rows)
are functions of these counts alone (``modelmon.bias.metrics``), so a state merges by adding
counts: associative and commutative, across partitions and windows. A threshold facet keys
its rows ``">"`` (sensitive: value > threshold) and ``"<="``, and keeps the largest value seen
(the upper end of Clarify's interval label ``(t, max]``). A row whose facet is missing is kept
under the key None: never a facet value of its own, always in the rest (advantaged) group.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from modelmon.bias.config import BiasConfig, FacetConfig, value_key
from modelmon.errors import CorruptBlobError
from modelmon.profile import codec
from modelmon.profile.numbers import Numbers

CELLS: Final = 6
TN, FP, FN, TP, PRED_NEG, PRED_POS = range(CELLS)
ABOVE: Final = ">"
AT_OR_BELOW: Final = "<="
#: The profile-blob tag of a bias state (the header format is ``modelmon.profile.codec``'s).
TAG_BIAS: Final = 16
STATE_VERSION: Final = 1

Key = tuple[str | None, str | None]
Counts = npt.NDArray[np.int64]


@dataclass(frozen=True)
class FacetCounts:
    """One facet's counts per (facet value, group value); never mutated after construction."""

    name: str
    threshold: float | None
    cells: Mapping[Key, Counts]
    max_value: float | None = None

    def merge(self, other: FacetCounts) -> FacetCounts:
        if other.name != self.name or other.threshold != self.threshold:
            raise ValueError(
                f"cannot merge bias counts of facet {other.name!r} (threshold "
                f"{other.threshold}) into {self.name!r} (threshold {self.threshold})"
            )
        cells = dict(self.cells)
        for key, counts in other.cells.items():
            cells[key] = cells[key] + counts if key in cells else counts
        return FacetCounts(self.name, self.threshold, cells, _max(self.max_value, other.max_value))

    def values(self) -> list[str]:
        """Facet values seen (sorted; the missing key excluded)."""
        return sorted({k[0] for k in self.cells if k[0] is not None})

    def groups(self) -> list[str | None]:
        return sorted({k[1] for k in self.cells}, key=lambda g: (g is not None, g or ""))

    def total(self) -> Counts:
        """The six counts over every row."""
        out = np.zeros(CELLS, dtype=np.int64)
        for counts in self.cells.values():
            out += counts
        return out


@dataclass(frozen=True)
class BiasState:
    """Bias counts of one window (or a merge of windows/partitions), per facet."""

    facets: Mapping[str, FacetCounts] = field(default_factory=dict)
    #: rows left out (a missing label or prediction); counted, never silently lost
    skipped: int = 0
    has_groups: bool = False

    def merge(self, other: BiasState) -> BiasState:
        """A new state holding both (associative, commutative; neither operand changes)."""
        if self.facets and other.facets and self.has_groups != other.has_groups:
            raise ValueError("cannot merge bias states with and without a group variable")
        facets = dict(self.facets)
        for name, counts in other.facets.items():
            facets[name] = facets[name].merge(counts) if name in facets else counts
        has_groups = self.has_groups or other.has_groups
        return BiasState(facets, self.skipped + other.skipped, has_groups)

    def serialize(self) -> bytes:
        facets = [
            {
                "name": f.name,
                "threshold": f.threshold,
                "max": f.max_value,
                "keys": [list(k) for k in sorted(f.cells, key=_sort_key)],
                "counts": [f.cells[k].tolist() for k in sorted(f.cells, key=_sort_key)],
            }
            for f in (self.facets[n] for n in sorted(self.facets))
        ]
        body = {
            "v": STATE_VERSION,
            "skipped": self.skipped,
            "groups": self.has_groups,
            "facets": facets,
        }
        return codec.pack(TAG_BIAS, body)

    @classmethod
    def deserialize(cls, blob: bytes) -> BiasState:
        """Read a blob from ``serialize``; CorruptBlobError on any defect."""
        _, body = codec.unpack(blob, TAG_BIAS)
        if codec.field(body, "v", int) != STATE_VERSION:
            raise CorruptBlobError("bias state version is not supported by this build")
        skipped = codec.field(body, "skipped", int)
        has_groups = codec.field(body, "groups", bool)
        facets = {}
        for raw in codec.field(body, "facets", list):
            counts = _facet_from_body(raw)
            facets[counts.name] = counts
        return cls(facets, skipped, has_groups)


def _facet_from_body(raw: Any) -> FacetCounts:
    if not isinstance(raw, dict):
        raise CorruptBlobError("bias state facet entry is not a map")
    name = codec.field(raw, "name", str)
    threshold = _optional_float(raw.get("threshold"), "threshold")
    max_value = _optional_float(raw.get("max"), "max")
    keys = codec.field(raw, "keys", list)
    rows = codec.field(raw, "counts", list)
    if len(keys) != len(rows):
        raise CorruptBlobError("bias state keys and counts differ in length")
    cells: dict[Key, Counts] = {}
    for key, row in zip(keys, rows, strict=True):
        ok_key = isinstance(key, list) and len(key) == 2
        if not ok_key or not all(k is None or isinstance(k, str) for k in key):
            raise CorruptBlobError("bias state key is not a (facet value, group) pair")
        ok_row = isinstance(row, list) and len(row) == CELLS
        if not ok_row or not all(isinstance(c, int) and c >= 0 for c in row):
            raise CorruptBlobError(f"bias state counts must be {CELLS} non-negative integers")
        cells[(key[0], key[1])] = np.asarray(row, dtype=np.int64)
    return FacetCounts(name, threshold, cells, max_value)


def _optional_float(value: Any, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CorruptBlobError(f"bias state field {what!r} is not a number")
    return float(value)


def _sort_key(key: Key) -> tuple[bool, str, bool, str]:
    return (key[0] is not None, key[0] or "", key[1] is not None, key[1] or "")


def _max(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def merge_all(states: Iterable[BiasState]) -> BiasState:
    out = BiasState()
    for state in states:
        out = out.merge(state)
    return out


# --- building a state from a batch -------------------------------------------------------


def state_from_columns(
    config: BiasConfig,
    columns: Mapping[str, Sequence[Any] | npt.NDArray[Any] | Numbers],
    joined: bool,
) -> BiasState:
    """The counts of one batch of rows given as columns (the label-join service's hook).

    ``joined=True``: joined pairs (facets, group, label and prediction) count in cells 0-3
    (TN, FP, FN, TP); ``joined=False``: captured predictions count in cells 4-5. A stream
    calls it with each batch of captured predictions (``joined=False``) and, later, with each
    batch of joined pairs (``joined=True``): nothing is counted twice. A batch of rows that
    are both (a joined file read in batch) is given twice. Columns needed: every facet, the
    group variable (if configured), the prediction (predicted label or probability) and, when
    joined, the label. Rows with a missing label or prediction are counted in ``skipped``.
    """
    pred_col, is_probability = config.prediction_column()
    predicted = _positive(
        config, _column(columns, pred_col), probability=is_probability, label_rule=True
    )
    valid = ~np.isnan(predicted)
    if joined:
        label = _positive(config, _column(columns, config.label_name), False, label_rule=True)
        valid &= ~np.isnan(label)
        cell = 2 * np.nan_to_num(label) + np.nan_to_num(predicted)
    else:
        cell = PRED_NEG + np.nan_to_num(predicted)
    n = len(predicted)
    cell = cell.astype(np.int64)
    group_keys, group_codes = _group(config, columns, n)
    facets = {}
    for facet in config.facet:
        keys, codes, max_value = _facet_codes(facet, _column(columns, facet.name))
        slots = (codes * len(group_keys) + group_codes) * CELLS
        counts = np.bincount((slots + cell)[valid], minlength=len(keys) * len(group_keys) * CELLS)
        table = counts.reshape(len(keys), len(group_keys), CELLS)
        cells = {
            (keys[f], group_keys[g]): table[f, g].astype(np.int64)
            for f, g in zip(*np.nonzero(table.sum(axis=2)), strict=True)
        }
        facets[facet.name] = FacetCounts(facet.name, _threshold(facet), cells, max_value)
    skipped = int(n - np.count_nonzero(valid))
    return BiasState(facets, skipped, config.group_variable is not None)


def state_from_rows(
    config: BiasConfig, rows: Sequence[Mapping[str, Any]], joined: bool = True
) -> BiasState:
    """``state_from_columns`` for a list of flat records (one dict per row)."""
    names = {f.name for f in config.facet} | {config.prediction_column()[0]}
    if joined:
        names.add(config.label_name)
    if config.group_variable is not None:
        names.add(config.column(config.group_variable))
    columns = {name: [row.get(name) for row in rows] for name in names}
    return state_from_columns(config, columns, joined)


def _column(columns: Mapping[str, Any], name: str) -> Any:
    """One column; a reader's typed ``Numbers`` goes back to its Python values (ints kept)."""
    if name not in columns:
        raise KeyError(f"column {name!r} is missing from the bias batch")
    column = columns[name]
    return column.objects() if isinstance(column, Numbers) else column


def _threshold(facet: FacetConfig) -> float | None:
    return facet.bound() if facet.threshold else None


def _positive(
    config: BiasConfig, values: Any, probability: bool, label_rule: bool
) -> npt.NDArray[np.float64]:
    """1.0 / 0.0 per row for a positive / negative outcome; NaN where the value is missing."""
    if probability:
        numbers = _numbers(values)
        return np.where(np.isnan(numbers), np.nan, (numbers > config.probability_threshold) * 1.0)
    if config.label_threshold:
        numbers = _numbers(values)
        bound = float(config.label_values_or_threshold[0])
        return np.where(np.isnan(numbers), np.nan, (numbers > bound) * 1.0)
    keys, codes = factorize(values)
    positive = {value_key(v) for v in config.label_values_or_threshold}
    lookup = np.array([np.nan if k is None else float(k in positive) for k in keys] + [np.nan])
    return lookup[codes]


def _numbers(values: Any) -> npt.NDArray[np.float64]:
    """Values as floats; missing or non-numeric values become NaN."""
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        return np.array([_number(v) for v in values], dtype=np.float64)


def _number(value: Any) -> float:
    if value is None or isinstance(value, bool):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def factorize(values: Any) -> tuple[list[str | None], npt.NDArray[np.int64]]:
    """(keys, codes): codes index ``keys``; a missing value (None, NaN, "") has key None.

    Distinct raw values are found first (numpy's unique, or a dict for mixed objects) and
    only they are turned into keys, so a batch costs one pass plus one call per category.
    """
    if isinstance(values, np.ndarray) and values.dtype.kind in "iub" and len(values):
        small = _small_int_codes(values)
        if small is not None:
            uniques_, codes_ = small
            return _dedupe([_key(u) for u in uniques_], codes_)
    if isinstance(values, np.ndarray) and values.dtype.kind in "iubfUS":
        uniques, codes = np.unique(values, return_inverse=True)
        return _dedupe([_key(u) for u in uniques.tolist()], codes.astype(np.int64))
    raw = values.tolist() if isinstance(values, np.ndarray) else list(values)
    index: dict[Any, int] = {}
    try:
        codes = np.fromiter(
            (index.setdefault(_BoolKey(v) if v.__class__ is bool else v, len(index)) for v in raw),
            dtype=np.int64,
            count=len(raw),
        )
    except TypeError:  # unhashable values (lists, dicts): keyed by their text
        index.clear()
        text = [None if v is None else str(v) for v in raw]
        codes = np.fromiter((index.setdefault(v, len(index)) for v in text), np.int64, len(raw))
    return _dedupe([_key(k.value if isinstance(k, _BoolKey) else k) for k in index], codes)


def _small_int_codes(values: npt.NDArray[Any]) -> tuple[list[Any], npt.NDArray[np.int64]] | None:
    """Integer codes without sorting when the values span a small range (labels, groups)."""
    ints = values.astype(np.int64, copy=False)
    low, high = int(ints.min()), int(ints.max())
    if high - low >= 1 << 16:
        return None
    shifted = ints - low
    present = np.bincount(shifted, minlength=high - low + 1) > 0
    lookup = np.cumsum(present) - 1
    uniques = (np.nonzero(present)[0] + low).tolist()
    if values.dtype.kind == "b":
        uniques = [bool(u) for u in uniques]
    return uniques, lookup[shifted].astype(np.int64)


def _key(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
        return None
    return value_key(value)


class _BoolKey:
    """Keeps True apart from 1 (and False from 0) as a dict key."""

    __slots__ = ("value",)

    def __init__(self, value: bool) -> None:
        self.value = value

    def __hash__(self) -> int:
        return hash(("bool", self.value))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _BoolKey) and other.value == self.value


def _dedupe(
    keys: list[str | None], codes: npt.NDArray[np.int64]
) -> tuple[list[str | None], npt.NDArray[np.int64]]:
    unique: dict[str | None, int] = {}
    remap = np.array([unique.setdefault(k, len(unique)) for k in keys], dtype=np.int64)
    return list(unique), remap[codes] if len(remap) else codes


def _group(
    config: BiasConfig, columns: Mapping[str, Any], n: int
) -> tuple[list[str | None], npt.NDArray[np.int64]]:
    if config.group_variable is None:
        return [None], np.zeros(n, dtype=np.int64)
    return factorize(_column(columns, config.column(config.group_variable)))


def _facet_codes(
    facet: FacetConfig, values: Any
) -> tuple[list[str | None], npt.NDArray[np.int64], float | None]:
    if not facet.threshold:
        keys, codes = factorize(values)
        return keys, codes, None
    numbers = _numbers(values)
    finite = numbers[np.isfinite(numbers)]
    max_value = float(finite.max()) if len(finite) else None
    codes = np.where(np.isnan(numbers), 2, np.where(numbers > facet.bound(), 0, 1))
    return [ABOVE, AT_OR_BELOW, None], codes.astype(np.int64), max_value
