"""Per-row classification of a column, for small windows kept as exact rows (pure: numpy).

``ProfileTracker`` classifies a column into counters (``columns.numeric_column``,
``columns.categorical_column``, ``Numbers.classify``) and throws the row order away. A small
(model, window) group (issue 23, ``profile/exact.py``) keeps its rows instead, so the same rules
are applied here **per row**, over a whole batch of many groups at once: each row gets a class
(``MISSING`` ... ``STR``) and, for a numeric feature, its finite value; for a categorical
feature, its category text. Reducing the classes per group gives exactly the tracker's counters
(the tests hold both against each other). Strings are classified once per distinct text.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import numpy.typing as npt

from modelmon.profile.columns import (
    _BOOL,
    _FLOAT,
    _INT,
    _NONE,
    _STR,
    _canonical_numbers,
    _integer_text,
    _parse_floats,
    _to_floats,
    _type_codes,
    as_array,
    texts_of,
)
from modelmon.profile.numbers import Numbers

FloatArray = npt.NDArray[np.float64]
ClassArray = npt.NDArray[np.int8]

#: Row classes. A numeric feature uses MISSING..FRAC_NF, a categorical one MISSING..FRAC, STR.
MISSING, MISMATCH, INT, FRAC, INT_NF, FRAC_NF, STR = range(7)
N_CLASSES: Final = 7
_NAN_TEXT = ("nan", "+nan", "-nan")


def numeric_rows(col: Any) -> tuple[FloatArray, ClassArray]:
    """Each row's finite value (NaN otherwise) and class, by ``numeric_column``'s rules."""
    if isinstance(col, Numbers):
        return _from_floats(col.values, col.integral)
    arr = as_array(col)
    if arr.dtype.kind in "iub":
        return _from_floats(arr.astype(np.float64), np.ones(len(arr), dtype=bool))
    if arr.dtype.kind == "f":
        return _from_floats(arr.astype(np.float64), None)
    codes = _type_codes(arr)
    values = np.full(len(arr), np.nan)
    cls = np.full(len(arr), MISMATCH, dtype=np.int8)
    cls[codes == _NONE] = MISSING
    ints = np.flatnonzero((codes == _BOOL) | (codes == _INT))
    if len(ints):
        _put(values, cls, ints, _to_floats(arr[ints]), np.ones(len(ints), dtype=bool))
    floats = np.flatnonzero(codes == _FLOAT)
    if len(floats):
        _put(values, cls, floats, arr[floats].astype(np.float64), np.zeros(len(floats), bool))
    texts = np.flatnonzero(codes == _STR)
    if len(texts):
        _numeric_texts(values, cls, texts, arr[texts].tolist())
    return values, cls


def _from_floats(values: FloatArray, integral: npt.NDArray[np.bool_] | None) -> tuple[
    FloatArray, ClassArray
]:  # fmt: skip
    cls = np.full(len(values), FRAC, dtype=np.int8)
    if integral is not None:
        cls[integral] = INT
    out = values
    finite = np.isfinite(values)
    if not finite.all():
        nan = np.isnan(values)
        inf = ~finite & ~nan
        cls[inf] += INT_NF - INT
        cls[nan] = MISSING
        out = np.where(finite, values, np.nan)
    return out, cls


def _put(
    values: FloatArray,
    cls: ClassArray,
    rows: npt.NDArray[np.intp],
    numbers: FloatArray,
    integral: npt.NDArray[np.bool_],
) -> None:
    """Rows holding ``numbers`` (NaN = missing, +/-inf = non-finite)."""
    got, kind = _from_floats(numbers, integral)
    values[rows] = got
    cls[rows] = kind


def _numeric_texts(values: FloatArray, cls: ClassArray, rows: Any, items: list[Any]) -> None:
    """Text in a numeric feature: missing when empty or a NaN literal, a number when it
    parses (Integral when integer text), else a type mismatch; once per distinct text."""
    texts = np.strings.strip(texts_of(items))
    uniq, inverse = np.unique(texts, return_inverse=True)
    numbers = _parse_floats(uniq)
    ok = ~np.isnan(numbers)
    nan_text = np.isin(np.strings.lower(uniq), _NAN_TEXT)
    integral = np.zeros(len(uniq), dtype=bool)
    if ok.any():
        integral[ok] = _integer_text(uniq[ok])
    _, kind = _from_floats(numbers, integral)
    kind[~ok] = MISMATCH
    kind[(uniq == "") | (~ok & nan_text)] = MISSING
    finite = np.where(np.isfinite(numbers), numbers, np.nan)
    values[rows] = finite[inverse]
    cls[rows] = kind[inverse]


def categorical_rows(col: Any) -> tuple[ClassArray, npt.NDArray[np.int64], list[str]]:
    """Each row's class and category (an index into the returned distinct category texts;
    -1 where not a category), by ``categorical_column``'s rules (numbers as canonical text,
    text kept as it came). Texts are factorized with one dict pass at C speed."""
    if isinstance(col, Numbers):
        col = col.objects()
    arr = as_array(col)
    if arr.dtype != object:
        arr = arr.astype(object)
    codes = _type_codes(arr)
    keys = np.full(len(arr), None, dtype=object)
    cls = np.full(len(arr), MISMATCH, dtype=np.int8)
    cls[codes == _NONE] = MISSING
    bools = np.flatnonzero(codes == _BOOL)
    if len(bools):
        cls[bools] = INT
        keys[bools] = np.where(arr[bools].astype(bool), "true", "false")
    ints = np.flatnonzero(codes == _INT)
    if len(ints):
        cls[ints] = INT
        keys[ints] = list(map(str, arr[ints].tolist()))
    floats = np.flatnonzero(codes == _FLOAT)
    if len(floats):
        _categorical_floats(keys, cls, floats, arr[floats].astype(np.float64))
    texts = np.flatnonzero(codes == _STR)
    if len(texts):
        _categorical_texts(keys, cls, texts, arr[texts].tolist())
    index, distinct = _factorize(keys)
    return cls, index, distinct


def categorical_text_rows(
    col: npt.NDArray[Any], text: npt.NDArray[np.bool_]
) -> tuple[ClassArray, npt.NDArray[np.int64], list[str]]:
    """``categorical_rows`` of a column holding a ``str`` where ``text`` and None elsewhere
    (a native decoder's text column, known from its tags): one dict pass over the texts and
    the rules once per distinct text, without classifying each row's type first."""
    cls = np.full(len(col), MISSING, dtype=np.int8)
    index = np.full(len(col), -1, dtype=np.int64)
    rows = np.flatnonzero(text)
    if not len(rows):
        return cls, index, []
    items = col[rows].tolist()
    distinct = list(dict.fromkeys(items))  # first-seen order
    number = {t: i for i, t in enumerate(distinct)}
    inverse = np.fromiter(map(number.__getitem__, items), np.int64, len(items))
    uniq = texts_of(distinct)  # cut to MAX_TEXT_CHARS
    kind, absent = _text_kinds(uniq)
    cls[rows] = kind[inverse]
    keys: dict[str, int] = {}
    key_of = np.full(len(distinct), -1, dtype=np.int64)
    for i, (key, gone) in enumerate(zip(uniq.tolist(), absent.tolist(), strict=True)):
        if not gone:  # distinct texts may share a key once cut
            key_of[i] = keys.setdefault(key, len(keys))
    index[rows] = key_of[inverse]
    return cls, index, list(keys)


def _text_kinds(uniq: npt.NDArray[np.str_]) -> tuple[ClassArray, npt.NDArray[np.bool_]]:
    """Per distinct text its class (MISSING, INT, FRAC or STR) and whether it is absent."""
    stripped = np.strings.strip(uniq)
    numbers = _parse_floats(stripped)
    absent = (stripped == "") | np.isin(np.strings.lower(stripped), _NAN_TEXT)
    is_number = ~np.isnan(numbers) & ~absent
    kind = np.full(len(uniq), STR, dtype=np.int8)
    if is_number.any():
        kind[is_number] = np.where(_integer_text(stripped[is_number]), INT, FRAC)
    kind[absent] = MISSING
    return kind, absent


def _factorize(keys: npt.NDArray[Any]) -> tuple[npt.NDArray[np.int64], list[str]]:
    """Per row the number of its key among the distinct keys (-1 for None), first-seen order."""
    rows = np.flatnonzero(keys != None)  # noqa: E711 - elementwise
    index = np.full(len(keys), -1, dtype=np.int64)
    if not len(rows):
        return index, []
    items = keys[rows].tolist()
    seen: dict[str, int] = {}
    first = np.fromiter(map(seen.setdefault, items, range(len(items))), np.int64, len(items))
    firsts, inverse = np.unique(first, return_inverse=True)
    index[rows] = inverse
    return index, [str(items[i]) for i in firsts.tolist()]


def _categorical_floats(keys: npt.NDArray[Any], cls: ClassArray, rows: Any, f: FloatArray) -> None:
    nan = np.isnan(f)
    uniq, inverse = np.unique(f[~nan], return_inverse=True)
    canonical = np.array(_canonical_numbers(uniq, np.isfinite(uniq) & (uniq == np.trunc(uniq))))
    kept = rows[~nan]
    cls[rows[nan]] = MISSING
    cls[kept] = FRAC
    keys[kept] = canonical[inverse] if len(uniq) else []


def _categorical_texts(
    keys: npt.NDArray[Any], cls: ClassArray, rows: Any, items: list[Any]
) -> None:
    """Text categories (``columns._categorical_from_counts``), once per distinct text."""
    seen: dict[str, int] = {}
    first = np.fromiter(map(seen.setdefault, items, range(len(items))), np.int64, len(items))
    firsts, inverse = np.unique(first, return_inverse=True)
    uniq = texts_of([items[i] for i in firsts.tolist()])  # cut to MAX_TEXT_CHARS
    kind, absent = _text_kinds(uniq)
    cls[rows] = kind[inverse]
    text = uniq.astype(object)
    text[absent] = None
    keys[rows] = text[inverse]
