"""The exact path's shortcuts give what the general code gives: the text-column classification
(profile/exact_rows.py) and the flush estimate's distinct categories (streaming/exact_groups.py)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from modelmon.profile.columns import MAX_TEXT_CHARS
from modelmon.profile.exact_rows import categorical_rows, categorical_text_rows
from modelmon.streaming.exact_groups import _distinct_categories

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


@settings(max_examples=300, deadline=None)
@given(st.data(), st.integers(1, 40), st.integers(1, 60), st.integers(1, 4),
       st.sampled_from([1, 6, 100_000]))  # fmt: skip
def test_distinct_categories_per_group_are_counted_either_way(
    data: st.DataObject, n: int, rows: int, nc: int, ids: int
) -> None:
    gids = np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=rows, max_size=rows)))
    flat = data.draw(st.lists(st.integers(-1, ids), min_size=nc * rows, max_size=nc * rows))
    cats = np.array(flat, dtype=np.int32).reshape(nc, rows)
    want = np.zeros(n, dtype=np.int64)
    for f in range(nc):
        for g in range(n):
            want[g] += len({int(c) for c in cats[f][gids == g] if c >= 0})
    assert _distinct_categories(gids.astype(np.int64), cats, n).tolist() == want.tolist()
