"""Checks of what a user named against what the data holds, shared by the CLI and the API.

A misspelt ``--label`` or ``--prediction`` must not silently profile the real column as a
feature: :func:`require_columns` raises a :class:`ColumnNotFoundError` naming the option, the
missing name, a close match and the columns that exist (the CLI exits 2 with it).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence

from modelmon.errors import ConfigurationError

#: Columns listed in a message at most; the rest are counted.
SHOWN_COLUMNS = 20


class ColumnNotFoundError(ConfigurationError):
    """A column named by an option is not in the data."""


def require_columns(found: Sequence[str], wanted: Mapping[str, str | None]) -> None:
    """Raise if a column named in ``wanted`` (option name -> column, None = not given) is not
    among ``found``. All missing ones are named in one message."""
    present = set(found)
    problems = [
        _missing(option, name, found)
        for option, name in wanted.items()
        if name is not None and name not in present
    ]
    if problems:
        raise ColumnNotFoundError("; ".join(problems) + f"; the data has {_listed(found)}")


def _missing(option: str, name: str, found: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, [str(f) for f in found], n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"{option} {name!r} is not a column of the data{hint}"


def _listed(found: Sequence[str]) -> str:
    if not found:
        return "no columns"
    shown = ", ".join(repr(f) for f in found[:SHOWN_COLUMNS])
    more = f" and {len(found) - SHOWN_COLUMNS} more" if len(found) > SHOWN_COLUMNS else ""
    return f"{len(found)} column(s): {shown}{more}"
