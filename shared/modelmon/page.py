"""The shell of modelmon's self-contained report pages (bias, model quality, feature
attribution): the head with its inline CSS, escaping, numbers and tables. Pure; a page has no
scripts and no external assets, and every value on it is escaped.

Each report adds its own rules to ``BASE_STYLE`` (``page(style=...)``).
"""

from __future__ import annotations

import html
import math
import numbers
from collections.abc import Iterable, Sequence

#: The rules every report page shares: font, margins, table borders, numbers right-aligned.
BASE_STYLE = (
    "body{font:14px system-ui,sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse;margin:.5em 0 1.5em}"
    "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}"
)
#: Names left-aligned in the first column, rows of ``class="bad"`` (a violation) marked, and
#: ``class="err"`` text (a metric that could not be computed) greyed.
FLAGGED_ROWS_STYLE = (
    "th:first-child,td:first-child{text-align:left}"
    "tr.bad td{background:#fde2e1}.err{color:#777;font-style:italic}"
)


def escape(value: object) -> str:
    """``value`` as text safe in HTML content and attribute values."""
    return html.escape(str(value), quote=True)


def number(value: object) -> str:
    """A real, finite number to four significant digits; anything else as ``–``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return "–"
    if not math.isfinite(float(value)):
        return "–"
    return f"{value:.4g}"


def header_row(names: Iterable[str]) -> str:
    """A table's heading row, each name escaped."""
    return "<tr>" + "".join(f"<th>{escape(n)}</th>" for n in names) + "</tr>"


def table(headers: Iterable[str], rows: Iterable[str], sep: str = "") -> str:
    """A table: the heading row, then the ``rows`` (already HTML), joined by ``sep``."""
    return "<table>" + sep.join([header_row(headers), *rows, "</table>"])


def page(title: str, sections: Sequence[str], meta: str = "", style: str = "") -> str:
    """A whole report.html: the title as heading, a line of ``meta``, then the sections (HTML
    fragments, one per line); ``style`` is CSS added to ``BASE_STYLE``."""
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<style>{BASE_STYLE}{style}</style></head><body><h1>{escape(title)}</h1>"
        f"<p>{escape(meta)}</p>" + "\n".join(sections) + "</body></html>\n"
    )
