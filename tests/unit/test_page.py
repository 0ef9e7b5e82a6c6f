"""The shared shell of the report pages (modelmon.page): escaping, numbers, tables, the page."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from modelmon.page import BASE_STYLE, escape, number, page, table


@given(st.text())
def test_escaped_text_opens_no_tag_or_attribute(text: str) -> None:
    out = escape(text)
    assert not set("<>\"'") & set(out)
    assert (
        out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", '"')
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
        == text
    )


@given(st.floats(allow_nan=True, allow_infinity=True) | st.integers() | st.none() | st.text())
def test_a_number_is_four_digits_or_a_dash(value: object) -> None:
    out = number(value)
    if isinstance(value, int | float) and math.isfinite(value):
        assert out == f"{value:.4g}"
    else:
        assert out == "–"
    assert number(True) == "–"


@given(st.lists(st.text(), min_size=1, max_size=5), st.lists(st.text(max_size=20), max_size=5))
def test_a_table_has_escaped_headings_then_rows(headers: list[str], rows: list[str]) -> None:
    for sep in ("", "\n"):
        out = table(headers, rows, sep)
        head = "<tr>" + "".join(f"<th>{escape(h)}</th>" for h in headers) + "</tr>"
        assert out == "<table>" + sep.join([head, *rows, "</table>"])


def test_the_page_escapes_title_and_meta_and_adds_the_reports_style() -> None:
    out = page("<b>m</b>", ["<h2>A</h2>", "<p>b</p>"], meta="a & b", style="tr.x{color:red}")
    assert out.startswith("<!doctype html><html><head><meta charset='utf-8'>")
    assert "<title>&lt;b&gt;m&lt;/b&gt;</title>" in out and "<h1>&lt;b&gt;m&lt;/b&gt;</h1>" in out
    assert f"<style>{BASE_STYLE}tr.x{{color:red}}</style>" in out
    assert "<p>a &amp; b</p><h2>A</h2>\n<p>b</p></body></html>\n" in out
    assert "<script" not in out and "http" not in out
