"""Arrow text columns go to the profile dictionary-encoded (issue 20 item 4): the profile must be
exactly the one the per-row object path gives, whatever the text."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from modelmon.profile import ProfileTracker
from modelmon.profile.columns import MAX_TEXT_CHARS
from modelmon.profile.encoded import EncodedText
from modelmon.readers import DataReader, read_profile
from modelmon.readers.tabular import arrow_to_column, arrow_to_numpy

_TEXT = st.one_of(
    st.sampled_from(["a", "b", "", " ", "nan", "NaN", "3", "3.0", "-7", "1e3", "inf", "5_1",
                     "x" * (MAX_TEXT_CHARS + 3), "x" * (MAX_TEXT_CHARS + 4), "١٢"]),
    st.text(max_size=8),
)  # fmt: skip
_VALUE = st.one_of(st.none(), _TEXT)
_KINDS = st.sampled_from([None, "categorical", "numeric"])


def _profile(batches: list[list[Any]], kind: Any, encoded: bool) -> bytes:
    tracker = ProfileTracker({"f": kind} if kind else None)
    for rows in batches:
        arr = pa.array(rows, type=pa.string())
        col = arrow_to_column(arr) if encoded else arrow_to_numpy(arr)
        tracker.update({"f": col})
    return tracker.snapshot().serialize()


@settings(max_examples=150, deadline=None)
@given(batches=st.lists(st.lists(_VALUE, max_size=30), min_size=1, max_size=3), kind=_KINDS)
def test_encoded_text_profiles_exactly_as_the_object_path(
    batches: list[list[Any]], kind: Any
) -> None:
    assert _profile(batches, kind, True) == _profile(batches, kind, False)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(_VALUE, max_size=40))
def test_objects_are_the_rows_and_codes_follow_first_appearance(rows: list[Any]) -> None:
    col = arrow_to_column(pa.array(rows, type=pa.string()))
    plain = arrow_to_numpy(pa.array(rows, type=pa.string()))
    if isinstance(col, EncodedText):
        assert col.objects().tolist() == list(plain)
        firsts = [col.codes[col.codes >= 0].tolist().index(i) for i in range(len(col.dictionary))]
        assert firsts == sorted(firsts)
    else:  # numeric or all-missing text: both paths convert it the same way
        assert repr(col) == repr(plain)


def test_a_parquet_file_profiles_the_same_through_the_reader(tmp_path: Any) -> None:
    rng = np.random.default_rng(3)
    cats = np.array(["red", "green", "", "blue", "7"], dtype=object)[rng.integers(0, 5, 5000)]
    cats[rng.random(5000) < 0.1] = None
    table = pa.table({
        "c": pa.array(cats.tolist(), type=pa.string()),
        "d": pa.array(cats.tolist(), type=pa.string()).dictionary_encode(),
        "x": rng.normal(size=5000),
    })  # fmt: skip
    path = tmp_path / "data.parquet"
    pq.write_table(table, path, row_group_size=1000)
    encoded, _ = read_profile(DataReader([str(path)]))
    tracker = ProfileTracker()
    for batch in DataReader([str(path)]).batches():
        tracker.update(batch)
    assert encoded.serialize() == tracker.snapshot().serialize()
    assert encoded.features["c"].kind == "categorical" and encoded.row_count == 5000
