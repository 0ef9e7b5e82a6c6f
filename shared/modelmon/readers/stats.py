"""What a read found: rows read, and every kind of bad input counted with a first example."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sized
from dataclasses import dataclass, field
from typing import Any

import numpy.typing as npt

from modelmon.profile.encoded import EncodedText
from modelmon.profile.numbers import Numbers

#: One batch of input, column-wise: what ``ProfileTracker.update`` takes (``Numbers`` where
#: integer and decimal text mix in a column: each value keeps its own type).
Columns = dict[str, npt.NDArray[Any] | list[Any] | Numbers]
#: what ``DataReader.batches(encoded=True)`` yields: text columns may be ``EncodedText``
ProfileColumns = Mapping[str, npt.NDArray[Any] | list[Any] | Numbers | EncodedText]


@dataclass
class ReadStats:
    """Counters of one read. Bad input is counted here, never raised."""

    files: int = 0
    files_failed: int = 0
    empty_files: int = 0
    rows: int = 0
    bad_rows: int = 0
    out_of_range: int = 0
    skipped: int = 0
    bytes_read: int = 0
    problems: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    def note(self, reason: str, where: str, count: int = 1) -> None:
        """Count ``count`` occurrences of a problem; keep where it first happened."""
        self.problems[reason] += count
        self.examples.setdefault(reason, where)

    def summary_lines(self) -> list[str]:
        lines = [
            f"read {self.rows} rows from {self.files} file(s)"
            + (f", {self.bad_rows} bad row(s) skipped" if self.bad_rows else "")
            + (
                f", {self.out_of_range} record(s) outside --start/--end"
                if self.out_of_range
                else ""
            )
            + (f", {self.skipped} shadow-traffic record(s) skipped" if self.skipped else "")
        ]
        for reason, count in self.problems.most_common():
            lines.append(f"  {count} x {reason} (first at {self.examples[reason]})")
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "files_failed": self.files_failed,
            "empty_files": self.empty_files,
            "rows": self.rows,
            "bad_rows": self.bad_rows,
            "out_of_range": self.out_of_range,
            "skipped": self.skipped,
            "problems": [
                {"reason": r, "count": c, "first_at": self.examples[r]}
                for r, c in self.problems.most_common()
            ],
        }


def columns_from_rows(rows: list[dict[str, Any]]) -> Columns:
    """Row dicts to column lists (a key missing from a row is a missing value)."""
    if not rows:
        return {}
    keys = tuple(rows[0])
    if all(tuple(row) == keys for row in rows):  # the usual case: the same keys in order
        values = zip(*(r.values() for r in rows), strict=True)
        return {k: list(v) for k, v in zip(keys, values, strict=True)}
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    return {name: [row.get(name) for row in rows] for name in names}


def row_count(columns: Mapping[str, Sized]) -> int:
    return max((len(c) for c in columns.values()), default=0)
