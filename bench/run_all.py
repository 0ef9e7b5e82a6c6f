"""Run every bench/bench_*.py and collect their markdown into bench/results/latest.md.

Each benchmark prints markdown on stdout (progress on stderr). The page starts with the machine
(CPU model, cores, RAM, Python and numpy versions, load average) and the date, because numbers
from a shared 2-core machine mean little without them.

Usage: .venv/bin/python bench/run_all.py [NAME ...]
(NAME picks benchmarks, e.g. `statistics` for bench_statistics.py; default: all of them)
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from summary import ENV, table

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results" / "latest.md"
#: Every area's latest headline rows; a partial run (`run_all.py streaming`) replaces only its own.
SUMMARY = BENCH / "results" / "summary.jsonl"
README = BENCH.parent / "README.md"
#: The README's benchmark table sits between these markers; run_all rewrites it.
README_BLOCK = re.compile(r"(<!-- bench:start -->\n).*?(<!-- bench:end -->)", re.S)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def ram_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024**2:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def machine() -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M UTC}\n"
        f"- CPU: {cpu_model()}, {os.cpu_count()} cores; RAM {ram_gib()}\n"
        f"- Python {platform.python_version()}, numpy {np.__version__}, {platform.platform()}\n"
        f"- load average at start (1/5/15 min): {load} (the machine is shared)\n"
    )


def scripts(names: list[str]) -> list[Path]:
    found = sorted(BENCH.glob("bench_*.py"))
    if names:
        found = [p for p in found if p.stem.removeprefix("bench_") in names]
    return found


def merge_summary(rows: list[dict[str, object]], ran: list[str]) -> list[dict[str, object]]:
    """This run's rows, plus the stored rows of the areas it did not run; stores the result."""
    stamp = f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M}"
    for row in rows:
        row["measured"] = stamp
    kept: list[dict[str, object]] = []
    if SUMMARY.exists():
        old = [json.loads(x) for x in SUMMARY.read_text().splitlines() if x.strip()]
        kept = [r for r in old if r["area"] not in ran]
    merged = sorted(kept + rows, key=lambda r: str(r["area"]))  # stable: keeps row order
    SUMMARY.parent.mkdir(parents=True, exist_ok=True)
    SUMMARY.write_text("".join(json.dumps(r) + "\n" for r in merged))
    return merged


def main() -> int:
    sections, failed = [], 0
    header = machine()
    with tempfile.NamedTemporaryFile("r", suffix=".jsonl", encoding="utf-8") as summary:
        env = {**os.environ, ENV: summary.name}
        for script in scripts(sys.argv[1:]):
            print(f"== {script.name}", file=sys.stderr, flush=True)
            proc = subprocess.run(
                [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env
            )
            if proc.returncode != 0:
                failed += 1
                sections.append(f"## {script.name}\n\nfailed with exit code {proc.returncode}\n")
            sections.append(proc.stdout.strip() + "\n")
        rows = [json.loads(line) for line in summary.read().splitlines() if line.strip()]
    rows = merge_summary(rows, [p.stem.removeprefix("bench_") for p in scripts(sys.argv[1:])])
    summary_md = "## Summary\n\n" + header + "\n" + table(rows)
    # a partial run keeps the full run's page: its details go to latest-<names>.md
    results = RESULTS.with_name(f"latest-{'-'.join(sys.argv[1:])}.md") if sys.argv[1:] else RESULTS
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text("# Benchmark results\n\n" + summary_md + "\n" + "\n".join(sections))
    print(f"wrote {results.relative_to(BENCH.parent)}", file=sys.stderr)
    if README.exists():
        text = README.read_text(encoding="utf-8")
        if README_BLOCK.search(text):
            block = header + "\n" + table(rows) + "\nDetails: bench/results/latest*.md.\n"
            README.write_text(README_BLOCK.sub(lambda m: m[1] + block + m[2], text))
            print("updated the benchmark table in README.md", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
