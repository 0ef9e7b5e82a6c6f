"""A text column as its distinct values and a code per row (pure: numpy).

Readers built on Arrow (Parquet, CSV) hand a text column over dictionary-encoded: the distinct
texts once, and per row the index of its text (-1: missing). A categorical feature then counts
the codes with ``np.bincount`` instead of building a Python string per row; any other use gets
``objects()``, the very object array (str / None) the readers produced before, so the typing
rules of ``modelmon.profile.columns`` apply unchanged. ``categorical()`` gives exactly what
``columns.categorical_column(self.objects())`` gives, values in the same order (a property test
holds both to it): the frequent-items sketch's bytes depend on that order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from modelmon.profile.columns import (
    CategoricalColumn,
    categorical_from_counts,
    infer_kind,
    texts_of,
)

CodeArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class EncodedText:
    """``dictionary``: distinct texts in order of first appearance; ``codes``: one per row,
    an index into ``dictionary`` or -1 for a missing value (null)."""

    dictionary: list[str]
    codes: CodeArray

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def nulls(self) -> int:
        return int((self.codes < 0).sum())

    def objects(self) -> npt.NDArray[Any]:
        """The rows as an object array of str, None for missing."""
        table = np.empty(len(self.dictionary) + 1, dtype=object)
        table[:-1] = self.dictionary
        return table[self.codes]  # code -1 picks the trailing None

    def infer_kind(self) -> Any:
        """``columns.infer_kind`` of the rows: it depends only on which values are present,
        so the distinct texts decide it."""
        present = np.bincount(self.codes[self.codes >= 0], minlength=len(self.dictionary)) > 0
        values = np.empty(int(present.sum()), dtype=object)
        values[:] = [t for t, seen in zip(self.dictionary, present.tolist(), strict=True) if seen]
        return infer_kind(values)

    def categorical(self) -> CategoricalColumn:
        """``categorical_column(self.objects())`` without a Python object per row."""
        nulls = self.nulls
        counts = np.bincount(self.codes[self.codes >= 0], minlength=len(self.dictionary))
        seen = counts > 0
        texts = texts_of([t for t, s in zip(self.dictionary, seen.tolist(), strict=True) if s])
        counts = counts[seen].astype(np.int64)
        if nulls:  # categorical_column's mixed path: texts sorted (np.unique), then counted
            texts, inverse = np.unique(texts, return_inverse=True)
            counts = np.bincount(inverse, weights=counts, minlength=len(texts)).astype(np.int64)
        col = categorical_from_counts(texts, counts)
        if not nulls:
            return col
        return CategoricalColumn(
            col.values, col.counts, col.missing + nulls, col.type_mismatches,
            col.integral, col.fractional,
        )  # fmt: skip
