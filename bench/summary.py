"""Headline figures: each benchmark reports its few key numbers here, run_all tables them.

A benchmark calls ``headline(...)`` for each figure that has a target or a peer to compare
with; ``bench/run_all.py`` collects them (through the file named by MODELMON_BENCH_SUMMARY)
into the one summary table at the top of bench/results/latest.md and in the README.
Run alone, a benchmark just prints its own tables and headline() does nothing.
"""

from __future__ import annotations

import json
import os

ENV = "MODELMON_BENCH_SUMMARY"


def headline(
    area: str,
    what: str,
    modelmon: str,
    reference: str = "",
    ratio: str = "",
    target: str = "",
    met: bool | None = None,
) -> None:
    """Record one summary row (strings already formatted for reading)."""
    path = os.environ.get(ENV)
    if not path:
        return
    row = {
        "area": area,
        "what": what,
        "modelmon": modelmon,
        "reference": reference,
        "ratio": ratio,
        "target": target,
        "met": None if met is None else bool(met),  # numpy bools are not JSON
    }
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(row) + "\n")


def table(rows: list[dict[str, object]]) -> str:
    """The summary rows as one markdown table."""
    lines = [
        "| area | what | modelmon | peer / exact | ratio | target | met | measured (UTC) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    marks = {True: "yes", False: "**no**", None: ""}
    for r in rows:
        met = r.get("met")
        lines.append(
            f"| {r['area']} | {r['what']} | {r['modelmon']} | {r['reference']} | {r['ratio']} "
            f"| {r['target']} | {marks[met if isinstance(met, bool) else None]} "
            f"| {r.get('measured', '')} |"
        )
    return "\n".join(lines) + "\n"
