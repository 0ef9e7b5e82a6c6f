"""A batch column already known to hold only numbers and missing values (pure: numpy).

Decoders that know a feature is numeric (a typed capture decoder, a numeric array with ints and
floats mixed) hand the profile a ``Numbers`` column instead of Python objects: float64 values with
NaN for missing, and which rows were integers (ints and bools are Integral, floats Fractional:
the rules of ``columns.numeric_column``, per value). Building one costs a float conversion and a
type look-up of the whole-numbered values only: a float that is not a whole number cannot have
been an int, so fractional data pays nothing per value beyond the conversion.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from modelmon.profile.columns import FloatArray, NumericColumn

BoolArray = npt.NDArray[np.bool_]
_EXACT_INT = 2.0**53
IndexArray = npt.NDArray[np.intp] | npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Numbers:
    """One feature's values in a batch: ``values`` (NaN = missing) and ``integral`` (True where
    the value was an int; None when none was)."""

    values: FloatArray
    integral: BoolArray | None = None

    def __len__(self) -> int:
        return len(self.values)

    @staticmethod
    def of(items: Sequence[Any], floats: FloatArray | None = None) -> Numbers | None:
        """From Python ints, floats and None (the caller guarantees no other type but bool);
        ``floats`` is ``items`` already converted, when the caller has it. None when a value
        is a bool: such a column takes the generic object path."""
        values = np.array(items, dtype=np.float64) if floats is None else floats
        return Numbers.typed(values, items.__getitem__)

    @staticmethod
    def typed(values: FloatArray, item_at: Callable[[int], Any]) -> Numbers | None:
        """``values`` converted from Python numbers; ``item_at(i)`` is the original value i
        (asked only for whole numbers, to tell an int from a float)."""
        whole = np.flatnonzero(values == np.trunc(values))  # NaN and fractions drop out
        if not len(whole):
            return Numbers(values)
        types = [type(item_at(i)) for i in whole.tolist()]
        if bool in types or np.bool_ in types:
            return None
        is_int = np.array([t is int or issubclass(t, (int, np.integer)) for t in types], bool)
        if not is_int.any():
            return Numbers(values)
        integral = np.zeros(len(values), dtype=bool)
        integral[whole[is_int]] = True
        return Numbers(values, integral)

    @staticmethod
    def concat(parts: Sequence[Numbers]) -> Numbers:
        if len(parts) == 1:
            return parts[0]
        values = np.concatenate([p.values for p in parts])
        if all(p.integral is None for p in parts):
            return Numbers(values)
        masks = [np.zeros(len(p), bool) if p.integral is None else p.integral for p in parts]
        return Numbers(values, np.concatenate(masks))

    def take(self, idx: IndexArray) -> Numbers:
        integral = None if self.integral is None else self.integral[idx]
        return Numbers(self.values[idx], integral if integral is None or integral.any() else None)

    def exact_ints(self) -> bool:
        """True when every int surely fits a float exactly (|v| < 2**53): ``objects()`` gives them
        back unchanged (a numeric profile does not care; a categorical one would)."""
        if self.integral is None:
            return True
        return bool((np.abs(self.values[self.integral]) < _EXACT_INT).all())

    def classify(self) -> NumericColumn:
        """The column as a numeric feature counts it (``columns.numeric_column``'s rules)."""
        values = self.values
        missing = np.isnan(values)
        n_missing = int(missing.sum())
        finite = np.isfinite(values)
        kept = values if n_missing == 0 and finite.all() else values[finite]
        present = len(values) - n_missing
        integral = 0 if self.integral is None else int(self.integral.sum())
        return NumericColumn(
            values=kept,
            missing=n_missing,
            non_finite=present - len(kept),
            type_mismatches=0,
            integral=integral,
            fractional=present - integral,
        )

    def objects(self) -> npt.NDArray[Any]:
        """Back to Python values (ints where integral, None where missing), for a feature
        profiled as categorical."""
        out = np.empty(len(self.values), dtype=object)
        out[:] = self.values.tolist()
        if self.integral is not None:
            ints = np.flatnonzero(self.integral)
            out[ints] = [int(v) for v in self.values[ints].tolist()]
        out[np.isnan(self.values)] = None
        return out
