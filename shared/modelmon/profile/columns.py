"""Vectorised classification of one batch column into what the sketches consume.

A column is a numpy array or a sequence of raw values. Numeric arrays (float, int, bool) take a
fast path with no per-value Python work. Object arrays and lists are classified with C-level
iteration (``map(type, ...)``) and numpy string parsing, never a Python loop per value (except
for the strings of a batch that are not all numeric, which are parsed one by one).

Rules (documented in docs/statistics.md):
- missing: None, float NaN, the empty string (and strings that parse to NaN, e.g. "nan").
- numeric values: int, float, bool (True = 1) and numeric strings such as "3.5" or "1e3" (CSV).
  Integral: ints, bools and integer text ("42", "-7"); Fractional: floats and any other numeric text
  ("3.0", "1e3") — SageMaker infers from the text, so "3.0" is Fractional.
- non-finite: +/-inf (as float or text "inf"). Present and Fractional-typed, but kept out of the
  moments and the sketch: one inf would turn mean and variance into inf/NaN.
- anything else (non-numeric strings, containers, bytes, objects) is not a number.
"""

from __future__ import annotations

import contextlib
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

_NONE, _BOOL, _INT, _FLOAT, _STR, _OTHER = range(6)
_TYPE_CODE: dict[type, int] = {
    type(None): _NONE,
    bool: _BOOL,
    np.bool_: _BOOL,
    int: _INT,
    np.int8: _INT,
    np.int16: _INT,
    np.int32: _INT,
    np.int64: _INT,
    np.uint8: _INT,
    np.uint16: _INT,
    np.uint32: _INT,
    np.uint64: _INT,
    float: _FLOAT,
    np.float16: _FLOAT,
    np.float32: _FLOAT,
    np.float64: _FLOAT,
    str: _STR,
    np.str_: _STR,
}


@dataclass(frozen=True, slots=True)
class NumericColumn:
    """A batch column as a numeric feature sees it."""

    values: FloatArray  # finite numbers only
    missing: int
    non_finite: int
    type_mismatches: int  # present but not a number
    integral: int  # how many of the present numbers are Integral
    fractional: int  # how many are Fractional (non-finite included)
    total: float | None = None  # sum of values, when already computed


@dataclass(frozen=True, slots=True)
class CategoricalColumn:
    """A batch column as a categorical feature sees it: distinct values and their counts."""

    values: npt.NDArray[np.str_]  # distinct canonical strings
    counts: npt.NDArray[np.int64]
    missing: int
    type_mismatches: int  # containers, bytes and other objects: not a category
    integral: int  # present values that were integers or integer text
    fractional: int  # present values that were floats or other numeric text


def as_array(column: npt.NDArray[Any] | Sequence[Any]) -> npt.NDArray[Any]:
    """The column as a 1-D array (lists become object arrays; nothing is parsed yet)."""
    if isinstance(column, np.ndarray):
        arr = column
    else:
        arr = np.empty(len(column), dtype=object)
        arr[:] = list(column) if not isinstance(column, list) else column
    if arr.ndim != 1:
        raise ValueError(f"a feature column must be one-dimensional, got shape {arr.shape}")
    return arr


def is_numeric_dtype(arr: npt.NDArray[Any]) -> bool:
    return arr.dtype.kind in "fiub"


def _type_codes(arr: npt.NDArray[Any]) -> npt.NDArray[np.int8]:
    codes = map(_TYPE_CODE.get, map(type, arr), repeat(_OTHER))
    return np.fromiter(codes, dtype=np.int8, count=len(arr))


_NUMBER_START = np.array([ord(ch) for ch in "0123456789+-.iInN"], dtype=np.uint32)


#: Text beyond this many characters is cut before it becomes a numpy text array (numpy makes
#: every row as wide as the longest: one 1 MB value among 5,000 would need 20 GB).
MAX_TEXT_CHARS = 1024


def _texts(items: list[Any]) -> npt.NDArray[np.str_]:
    """Python strings as a numpy text array, each cut to ``MAX_TEXT_CHARS``."""
    if items and max(map(len, items)) > MAX_TEXT_CHARS:
        items = [text[:MAX_TEXT_CHARS] for text in items]
    return np.array(items, dtype=str)


def _not_plain(texts: npt.NDArray[np.str_], width: int) -> npt.NDArray[np.bool_]:
    """True where the text holds an underscore or a non-ASCII character: Python's float()
    reads "5_0" as 50 and "\uff11\uff12" as 12, SageMaker's analyzer (and Java) as text."""
    chars = texts.view(np.uint32).reshape(len(texts), width)
    bad: npt.NDArray[np.bool_] = ((chars == ord("_")) | (chars > 127)).any(axis=1)
    return bad


def _parse_floats(texts: npt.NDArray[np.str_]) -> FloatArray:
    """Stripped strings to floats; NaN where a string is not a number as SageMaker's analyzer
    reads numbers (ASCII digits, sign, point, exponent; no underscores). Vectorised: numpy
    parses the lot when every string starts like a number; otherwise only those that do."""
    out = np.full(len(texts), np.nan)
    width = texts.dtype.itemsize // 4
    if not len(texts) or not width:
        return out
    first = texts.view(np.uint32).reshape(len(texts), width)[:, 0]
    candidates = np.isin(first, _NUMBER_START)
    plain = ~_not_plain(texts, width)
    if candidates.all() and plain.all():
        with contextlib.suppress(ValueError):
            return texts.astype(np.float64)
    for i in np.flatnonzero(candidates & plain).tolist():
        with contextlib.suppress(ValueError):
            out[i] = float(texts[i])
    return out


def _integer_text(texts: npt.NDArray[np.str_]) -> npt.NDArray[np.bool_]:
    """True where the text is an integer literal (optional sign, ASCII digits only)."""
    unsigned = np.strings.lstrip(texts, "+-")
    width = texts.dtype.itemsize // 4
    ascii_only = ~_not_plain(texts, width) if len(texts) and width else True
    return np.strings.isdigit(unsigned) & ascii_only


@dataclass(frozen=True, slots=True)
class _Split:
    """An object column split by value type (indices into the column)."""

    codes: npt.NDArray[np.int8]
    missing: int
    text: npt.NDArray[np.str_]  # stripped, non-empty strings
    text_numbers: FloatArray  # parsed text; NaN where not a number (or "nan")
    text_is_nan_literal: npt.NDArray[np.bool_]


def _split(arr: npt.NDArray[Any]) -> _Split:
    codes = _type_codes(arr)
    strs = _texts(arr[codes == _STR].tolist())
    strs = np.strings.strip(strs) if len(strs) else strs
    empty = strs == ""
    text = strs[~empty]
    numbers = _parse_floats(text) if len(text) else np.empty(0)
    lowered = np.strings.lower(text) if len(text) else text
    nan_literal = np.isin(lowered, ("nan", "+nan", "-nan"))
    floats = arr[codes == _FLOAT].astype(np.float64)
    missing = int((codes == _NONE).sum()) + int(empty.sum()) + int(np.isnan(floats).sum())
    missing += int(nan_literal.sum())
    return _Split(codes, missing, text, numbers, nan_literal)


def numeric_column(column: npt.NDArray[Any] | Sequence[Any]) -> NumericColumn:
    """Classify a batch column for a numeric feature."""
    arr = as_array(column)
    if is_numeric_dtype(arr):
        return _numeric_fast(arr)
    types = Counter(map(type, arr))
    if types.keys() <= _PLAIN_NUMBERS.keys():  # numbers and None only: one bulk conversion
        with contextlib.suppress(OverflowError):  # a huge int: the careful path below
            return _numeric_plain(arr, types)
    parts = _split(arr)
    codes = parts.codes
    ints = _to_floats(arr[(codes == _BOOL) | (codes == _INT)])
    int_finite = np.isfinite(ints)  # an int too big for a float becomes +/-inf
    nums = [ints[int_finite]]
    floats = arr[codes == _FLOAT].astype(np.float64)
    text_ok = ~np.isnan(parts.text_numbers)
    text_numbers = parts.text_numbers[text_ok]
    text_integral = int(_integer_text(parts.text[text_ok]).sum()) if len(text_numbers) else 0
    floats = np.concatenate([floats[~np.isnan(floats)], text_numbers])
    finite = np.isfinite(floats)
    values = np.concatenate([*nums, floats[finite]])
    mismatched = int((codes == _OTHER).sum()) + int((~text_ok & ~parts.text_is_nan_literal).sum())
    integral = len(ints) + text_integral
    return NumericColumn(
        values=values,
        missing=parts.missing,
        non_finite=int((~finite).sum()) + int((~int_finite).sum()),
        type_mismatches=mismatched,
        integral=integral,
        fractional=len(floats) - text_integral,
    )


_PLAIN_NUMBERS = {t: code for t, code in _TYPE_CODE.items() if code in (_NONE, _BOOL, _INT, _FLOAT)}


def _to_floats(objs: npt.NDArray[Any]) -> FloatArray:
    """Python ints/bools as floats; an int beyond the float range becomes +/-inf."""
    try:
        return objs.astype(np.float64)
    except OverflowError:
        return np.array([_int_to_float(v) for v in objs.tolist()], dtype=np.float64)


def _int_to_float(value: int) -> float:
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _numeric_plain(arr: npt.NDArray[Any], types: Counter[type]) -> NumericColumn:
    """An object column of ints, floats, bools and None: numpy converts it in one go."""
    values = arr.astype(np.float64)  # None becomes NaN
    n_none = types.get(type(None), 0)
    integral = sum(n for t, n in types.items() if _PLAIN_NUMBERS[t] in (_BOOL, _INT))
    col = _numeric_fast(values)
    float_nans = col.missing - n_none
    fractional = sum(n for t, n in types.items() if _PLAIN_NUMBERS[t] == _FLOAT) - float_nans
    return NumericColumn(
        col.values, col.missing, col.non_finite, 0, integral, fractional, col.total
    )


def _numeric_fast(arr: npt.NDArray[Any]) -> NumericColumn:
    if arr.dtype.kind == "f":
        values = np.ascontiguousarray(arr, dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            total = float(values.sum())
        if math.isfinite(total):  # no NaN and no inf: one pass decides it
            return NumericColumn(values, 0, 0, 0, 0, len(values), total)
        nan = np.isnan(values)
        finite = np.isfinite(values)
        n_missing = int(nan.sum())
        n_present = len(values) - n_missing
        kept = values if n_present == len(values) and finite.all() else values[finite]
        return NumericColumn(kept, n_missing, n_present - len(kept), 0, 0, n_present)
    values = arr.astype(np.float64)
    return NumericColumn(values, 0, 0, 0, len(values), 0)


def _canonical_numbers(numbers: FloatArray, integral: npt.NDArray[np.bool_]) -> list[str]:
    """Numbers as category text: integers without a fraction ("3"), others as Python repr."""
    out: list[str] = []
    for value, whole in zip(numbers.tolist(), integral.tolist(), strict=True):
        out.append(str(int(value)) if whole and np.isfinite(value) else repr(value))
    return out


def categorical_column(column: npt.NDArray[Any] | Sequence[Any]) -> CategoricalColumn:
    """Classify a batch column for a categorical feature (values become canonical strings)."""
    arr = as_array(column)
    if is_numeric_dtype(arr):
        return _categorical_from_numbers(arr)
    if arr.dtype.kind in "US":
        return _categorical_from_text(arr.astype(str, copy=False))
    try:  # C-level hashing; the work below is per distinct value
        counted = Counter(arr.tolist())
    except TypeError:  # an unhashable value (list, dict): classify value by value
        counted = Counter()
    if counted and set(map(type, counted)) == {str}:
        keys = _texts(list(counted))
        counts = np.fromiter(counted.values(), dtype=np.int64, count=len(counted))
        return _categorical_from_counts(keys, counts)
    codes = _type_codes(arr)
    text = _categorical_from_text(_texts(arr[codes == _STR].tolist()))
    is_number = (codes == _BOOL) | (codes == _INT) | (codes == _FLOAT)
    numbers = _categorical_from_numbers(arr[is_number])
    values = np.concatenate([text.values, numbers.values])
    counts = np.concatenate([text.counts, numbers.counts])
    if len(text.values) and len(numbers.values):
        values, inverse = np.unique(values, return_inverse=True)
        counts = np.bincount(inverse, weights=counts, minlength=len(values)).astype(np.int64)
    return CategoricalColumn(
        values=values,
        counts=counts,
        missing=text.missing + numbers.missing + int((codes == _NONE).sum()),
        type_mismatches=int((codes == _OTHER).sum()),
        integral=text.integral + numbers.integral,
        fractional=text.fractional + numbers.fractional,
    )


def _categorical_from_text(texts: npt.NDArray[np.str_]) -> CategoricalColumn:
    """Text values: counted first, so parsing and checks run once per distinct value."""
    values, counts = np.unique(texts, return_counts=True)
    return _categorical_from_counts(values, counts.astype(np.int64))


def _categorical_from_counts(
    values: npt.NDArray[np.str_], counts: npt.NDArray[np.int64]
) -> CategoricalColumn:
    """Distinct text values with their counts."""
    stripped = np.strings.strip(values)
    numbers = _parse_floats(stripped)
    nan_text = np.isin(np.strings.lower(stripped), ("nan", "+nan", "-nan"))
    absent = (stripped == "") | nan_text
    missing = int(counts[absent].sum())
    values, counts, numbers, stripped = (
        values[~absent],
        counts[~absent],
        numbers[~absent],
        stripped[~absent],
    )
    is_number = ~np.isnan(numbers)
    whole = _integer_text(stripped[is_number])
    integral = int(counts[is_number][whole].sum())
    return CategoricalColumn(
        values=values,
        counts=counts,
        missing=missing,
        type_mismatches=0,
        integral=integral,
        fractional=int(counts[is_number].sum()) - integral,
    )


def _categorical_from_numbers(arr: npt.NDArray[Any]) -> CategoricalColumn:
    """Numbers (a numeric array, or an object array of bool/int/float) as categories."""
    if arr.dtype == object:
        codes = _type_codes(arr)
        bools = arr[codes == _BOOL].astype(bool)
        # exact text of every int (an id beyond 2**53 must not collapse into its neighbours)
        int_texts = np.array(list(map(str, arr[codes == _INT].tolist())), dtype=str)
        floats = arr[codes == _FLOAT].astype(np.float64)
    else:
        kind = arr.dtype.kind
        bools = arr if kind == "b" else np.empty(0, dtype=bool)
        int_texts = arr.astype(str) if kind in "iu" else np.empty(0, dtype=str)
        floats = arr.astype(np.float64) if kind == "f" else np.empty(0)
    nan = np.isnan(floats)
    floats = floats[~nan]
    uniq_f, cnt_f = np.unique(floats, return_counts=True)
    uniq_i, cnt_i = np.unique(int_texts, return_counts=True)
    n_true = int(bools.sum())
    texts = _canonical_numbers(uniq_f, np.isfinite(uniq_f) & (uniq_f == np.trunc(uniq_f)))
    texts += uniq_i.tolist()
    bool_pairs = [(t, c) for t, c in (("true", n_true), ("false", len(bools) - n_true)) if c]
    texts += [t for t, _ in bool_pairs]
    all_counts = np.concatenate(
        [cnt_f, cnt_i, np.array([c for _, c in bool_pairs], dtype=np.int64)]
    )
    values, inverse = np.unique(np.array(texts, dtype=str), return_inverse=True)
    counts = np.bincount(inverse, weights=all_counts, minlength=len(values)).astype(np.int64)
    return CategoricalColumn(
        values=values,
        counts=counts,
        missing=int(nan.sum()),
        type_mismatches=0,
        integral=len(int_texts) + len(bools),
        fractional=len(floats),
    )


def infer_kind(
    column: npt.NDArray[Any] | Sequence[Any],
) -> Literal["numeric", "categorical"] | None:
    """'numeric' when every present value is a number (or numeric text), 'categorical' when any
    is not, None when the batch has no present value (decide later)."""
    arr = as_array(column)
    if is_numeric_dtype(arr):
        return "numeric" if not (arr.dtype.kind == "f" and np.isnan(arr).all()) else None
    col = numeric_column(arr)
    if col.type_mismatches:
        return "categorical"
    present = len(col.values) + col.non_finite
    return "numeric" if present else None


#: for ``modelmon.profile.encoded`` (a dictionary-encoded text column takes the same steps)
texts_of = _texts
categorical_from_counts = _categorical_from_counts
