"""Type inference (SageMaker's Integral / Fractional / String) and value classification."""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelmon.profile import CategoricalProfile, DatasetProfile, NumericProfile, ProfileTracker


def feature(values: Any, kind: str | None = None) -> NumericProfile | CategoricalProfile:
    t = ProfileTracker({"f": kind} if kind else None)  # type: ignore[dict-item]
    t.update({"f": values})
    return t.snapshot().features["f"]


@pytest.mark.parametrize(
    ("values", "kind", "inferred"),
    [
        (np.array([1, 2, 3]), "numeric", "Integral"),
        (np.array([1.0, 2.0, 3.0]), "numeric", "Fractional"),  # a float column is Fractional
        (np.array([True, False]), "numeric", "Integral"),
        ([1, 2, None, 4], "numeric", "Integral"),
        ([1, 2.5, None], "numeric", "Fractional"),
        (["1", "2", "", "-3"], "numeric", "Integral"),  # CSV text
        (["1.0", "2", "3"], "numeric", "Fractional"),  # SageMaker: "1.0" is Fractional
        (["1e3", "2"], "numeric", "Fractional"),
        (["a", "b", None], "categorical", "String"),
        (["a", 1, 2.5], "categorical", "String"),  # any text makes it String
        (["x", "1"], "categorical", "String"),
    ],
)
def test_inferred_kind_and_type(values: Any, kind: str, inferred: str) -> None:
    f = feature(values)
    assert f.kind == kind
    assert f.inferred_type == inferred


def test_categorical_with_numeric_codes_reports_integral() -> None:
    f = feature([1, 2, 2, "3"], kind="categorical")
    assert isinstance(f, CategoricalProfile)
    assert f.inferred_type == "Integral"
    assert f.counts() == {"1": 1, "2": 2, "3": 1}
    g = feature([1.5, 2.0], kind="categorical")
    assert g.inferred_type == "Fractional"
    assert isinstance(g, CategoricalProfile) and g.counts() == {"1.5": 1, "2": 1}


def test_categorical_canonical_text_merges_3_3point0_and_text() -> None:
    f = feature([3, 3.0, "3", True, "true", None, "", float("nan")], kind="categorical")
    assert isinstance(f, CategoricalProfile)
    assert f.counts() == {"3": 3, "true": 2}
    assert f.missing == 3 and f.count == 5 and f.type_mismatches == 0
    assert f.type_counts() == {"Integral": 3, "Fractional": 1, "String": 1}


def test_categorical_non_scalars_are_type_mismatches() -> None:
    f = feature(["a", [1, 2], {"k": 1}, b"raw"], kind="categorical")
    assert isinstance(f, CategoricalProfile)
    assert (f.count, f.type_mismatches, f.missing) == (1, 3, 0)
    assert f.completeness == 1.0


def test_numeric_mismatches_missing_and_infinities() -> None:
    values = [1, "2", " 3 ", "x", None, "", float("nan"), "nan", math.inf, "-inf", [1], 4.5]
    f = feature(values, kind="numeric")
    assert isinstance(f, NumericProfile)
    assert f.count == 4  # 1, "2", " 3 ", 4.5
    assert f.missing == 4  # None, "", NaN, "nan"
    assert f.non_finite == 2  # inf, "-inf": present but kept out of moments and sketch
    assert f.type_mismatches == 2  # "x", [1]
    assert f.rows == len(values)
    assert f.sum == 10.5 and f.min == 1 and f.max == 4.5
    assert f.completeness == pytest.approx(8 / 12)
    assert f.inferred_type == "Fractional"
    assert f.type_counts() == {"Integral": 3, "Fractional": 3, "String": 2}


def test_numeric_fast_path_nan_and_inf() -> None:
    f = feature(np.array([1.0, np.nan, np.inf, -np.inf, 2.0]))
    assert isinstance(f, NumericProfile)
    assert (f.count, f.missing, f.non_finite) == (2, 1, 2)
    assert f.mean == 1.5 and f.variance == 0.25


def test_all_missing_feature_waits_for_a_value_to_decide_its_kind() -> None:
    t = ProfileTracker()
    t.update({"f": [None, "", float("nan")]})
    p = t.snapshot()
    assert p.features["f"].missing == 3 and p.features["f"].inferred_type == "Unknown"
    t.update({"f": ["a", "b"]})
    f = t.snapshot().features["f"]
    assert f.kind == "categorical" and f.missing == 3 and f.count == 2 and f.rows == 5


def test_feature_absent_from_a_batch_counts_missing_and_late_feature_backfills() -> None:
    t = ProfileTracker()
    t.update({"a": [1.0, 2.0]})
    t.update({"b": ["x", "y", "z"]})
    p = t.snapshot()
    assert p.row_count == 5
    assert (p.features["a"].count, p.features["a"].missing) == (2, 3)
    assert (p.features["b"].count, p.features["b"].missing) == (3, 2)


def test_kind_fixed_by_first_batch_later_strings_are_mismatches() -> None:
    t = ProfileTracker()
    t.update({"f": ["1", "2"]})
    t.update({"f": ["oops", "3"]})
    f = t.snapshot().features["f"]
    assert isinstance(f, NumericProfile)
    assert (f.count, f.type_mismatches) == (3, 1)


def test_columns_of_different_lengths_are_rejected() -> None:
    t = ProfileTracker()
    with pytest.raises(ValueError, match="same length"):
        t.update({"a": [1, 2], "b": [1]})


def test_kind_conflict_in_merge_keeps_the_bigger_side_and_never_fails() -> None:
    n = ProfileTracker()
    n.update({"f": [1.0, 2.0, 3.0]})
    c = ProfileTracker()
    c.update({"f": ["a", None]})
    merged = n.snapshot().merge(c.snapshot())
    f = merged.features["f"]
    assert isinstance(f, NumericProfile)
    assert (f.count, f.type_mismatches, f.missing, f.rows) == (3, 1, 1, 5)
    assert merged.features["f"].rows == c.snapshot().merge(n.snapshot()).features["f"].rows


def test_list_of_plain_numbers_equals_the_array_path() -> None:
    values = [1.5, None, 2, True, float("nan"), -3.25, float("inf")]
    f = feature(values, kind="numeric")
    assert isinstance(f, NumericProfile)
    assert (f.count, f.missing, f.non_finite) == (4, 2, 1)
    assert (f.integral, f.fractional) == (2, 3)
    assert f.sum == 1.5 + 2 + 1 - 3.25


def test_ints_beyond_float_range_and_big_ids() -> None:
    f = feature([1, 10**400, -(10**400)], kind="numeric")
    assert isinstance(f, NumericProfile)
    assert (f.count, f.non_finite, f.integral) == (1, 2, 3)
    ids = [2**60, 2**60 + 1, 2**60 + 1]
    g = feature(ids, kind="categorical")
    assert isinstance(g, CategoricalProfile)
    assert g.counts() == {str(2**60): 1, str(2**60 + 1): 2}  # no collapse through float


junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.binary(max_size=3),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=1),
)


@settings(max_examples=80, deadline=None)
@given(st.lists(junk, max_size=25), st.sampled_from(["numeric", "categorical", None]))
def test_any_values_never_crash_and_every_row_is_counted(
    values: list[Any], kind: str | None
) -> None:
    t = ProfileTracker({"f": kind} if kind else None)  # type: ignore[dict-item]
    t.update({"f": values})
    t.update({"f": list(reversed(values))})
    p = t.snapshot()
    assert p.row_count == 2 * len(values)
    if values:
        f = p.features["f"]
        assert f.rows == p.row_count
        DatasetProfile.deserialize(p.serialize())


def test_very_long_text_is_profiled_by_its_first_characters_without_a_huge_array() -> None:
    from modelmon.profile.columns import MAX_TEXT_CHARS, categorical_column, numeric_column

    values = ["a", "b" * 1_000_000, *["c"] * 4998]
    col = categorical_column(np.array(values, dtype=object))
    assert sorted(col.values.tolist()) == ["a", "b" * MAX_TEXT_CHARS, "c"]
    assert int(col.counts.sum()) == 5000
    num = numeric_column(np.array([1.0, "x" * 1_000_000, *["2"] * 4998], dtype=object))
    assert (num.type_mismatches, len(num.values)) == (1, 4999)


# ---- per-value types, as SageMaker's analyzer (Deequ's DataType regexes) types text ----------

_SM_INTEGRAL = re.compile(r"(-|\+)? ?\d+", re.ASCII)
_SM_FRACTIONAL = re.compile(r"(-|\+)? ?\d+((\.\d+)|((?:\.\d+)?[Ee][-+]?\d+))", re.ASCII)


def sagemaker_type(value: Any) -> str:
    """The reference: a value's own type, as the analyzer reads its text form."""
    if isinstance(value, bool):
        return "Integral"
    if isinstance(value, int):
        return "Integral"
    if isinstance(value, float):
        return "Fractional"
    text = str(value).strip()
    if _SM_INTEGRAL.fullmatch(text):
        return "Integral"
    if _SM_FRACTIONAL.fullmatch(text):
        return "Fractional"
    return "String"


texts = st.one_of(
    st.integers(-(10**6), 10**6).map(str),
    st.builds(lambda a, b: f"{a}.{b}", st.integers(-999, 999), st.integers(0, 99)),
    st.builds(lambda a, b: f"{a}_{b}", st.integers(0, 99), st.integers(0, 9)),  # labels "5_0"
    st.sampled_from(["\uff11\uff12", "abc", "1e3", "-2.5E-3", "x.5", "N/A"]),
)


@settings(max_examples=60, deadline=None)
@given(values=st.lists(texts, min_size=1, max_size=60))
def test_text_type_shares_are_counted_per_value(values: list[str]) -> None:
    expected = Counter(sagemaker_type(v) for v in values)
    f = feature(values)
    counts = f.type_counts()
    assert {k: v for k, v in counts.items() if v} == dict(expected)
    if expected["String"]:
        assert f.kind == "categorical"  # a column with labels stays categorical


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(texts.filter(lambda t: sagemaker_type(t) != "String"), min_size=1, max_size=60)
)
def test_csv_reader_keeps_each_values_type(values: list[str]) -> None:
    from modelmon.readers.tabular import csv_lines_to_columns

    columns = csv_lines_to_columns(values, ["x"])
    f = feature(columns["x"], "numeric")
    expected = Counter(sagemaker_type(v) for v in values)
    assert f.type_counts()["Integral"] == expected["Integral"]
    assert f.type_counts()["Fractional"] == expected["Fractional"]


json_values = st.one_of(st.integers(-1000, 1000), st.floats(-1e3, 1e3, allow_nan=False), texts)


@settings(max_examples=40, deadline=None)
@given(values=st.lists(json_values, min_size=1, max_size=60))
def test_mixed_json_types_are_counted_per_value(values: list[Any]) -> None:
    expected = Counter(sagemaker_type(v) for v in values)
    f = feature(values)
    if f.kind == "numeric":
        assert f.type_counts()["String"] == expected["String"] == 0
    got = f.type_counts()
    assert (got["Integral"], got["Fractional"]) == (expected["Integral"], expected["Fractional"])


def test_integral_column_with_a_few_decimals_reports_the_integral_share() -> None:
    """The audit's case: 95% integer text, 5% "x.5": SageMaker says 95% Integral, not 0%."""
    from modelmon.checks.evaluate import data_type_check
    from modelmon.readers.tabular import csv_lines_to_columns

    lines = [f"{i}.5" if i % 20 == 0 else str(i) for i in range(2000)]
    f = feature(csv_lines_to_columns(lines, ["x"])["x"], "numeric")
    outcome = data_type_check("x", "Integral", f, 1.0)
    assert outcome is not None and outcome.value == pytest.approx(0.95)
    assert outcome.description.endswith("Observed: Only 95.0% of data is Integral.")
