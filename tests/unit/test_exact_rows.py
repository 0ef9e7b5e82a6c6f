"""profile/exact_rows.py: the text-column fast path classifies as the general one does."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from modelmon.profile.columns import MAX_TEXT_CHARS
from modelmon.profile.exact_rows import categorical_rows, categorical_text_rows

_long = "x" * MAX_TEXT_CHARS
_SAMPLES = ["CA", "NY", " CA", "CA ", "", "  ", "nan", "NaN", "-nan", "3", "+4", "4.50", "1e3",
            "inf", "-Infinity", "1_0", "\uff11", "a\x00", _long + "a", _long + "b"]  # fmt: skip
_text = st.one_of(st.sampled_from(_SAMPLES), st.text(max_size=6))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), _text), max_size=60))
def test_text_columns_classify_as_the_general_path_does(items: list[str | None]) -> None:
    col = np.empty(len(items), dtype=object)
    col[:] = items
    text = np.array([i is not None for i in items], dtype=bool)
    got_cls, got_index, got_distinct = categorical_text_rows(col, text)
    want_cls, want_index, want_distinct = categorical_rows(col)
    assert got_cls.tolist() == want_cls.tolist()
    assert got_index.tolist() == want_index.tolist()
    assert got_distinct == want_distinct
