"""faust-streaming vs modelmon's aggregator on the same broker and messages.

Produces N capture events (25 features) to a fresh 3-partition topic, then runs
(1) a minimal faust agent (decode + windowed-table update per event, in .venvs/faust; see
bench/faust/setup.sh) with at-least-once and exactly-once guarantees, and (2) `modelmon run
aggregator` (decode + full 25-feature profiles + fenced Redis flush). Markdown on stdout.

Usage: .venv/bin/python bench/faust/compare.py [--events 200000]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bench_streaming as bs
from modelmon.keys import Keys
from modelmon.registry import Registry

FAUST_PY = bs.REPO / ".venvs" / "faust" / "bin" / "python"
AGENT = Path(__file__).resolve().parent / "agent.py"


def faust_run(
    stack: bs.Stack, topic: str, n: int, guarantee: str, tables: bool = True
) -> tuple[float, float]:
    app_id = f"bench-faust-{uuid.uuid4().hex[:8]}"
    for name in ("counts", "sums"):  # faust cannot create them against Kafka 4 (agent.py)
        stack.named_topic(f"{app_id}-{name}-changelog", bs.PARTITIONS)
    stack.named_topic(f"{app_id}-__assignor-__leader", 1)
    env = os.environ | {"FAUST_TOPIC": topic, "FAUST_EVENTS": str(n), "FAUST_GUARANTEE": guarantee,
                        "FAUST_APP_ID": app_id, "FAUST_TABLES": "1" if tables else "0"}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="faust-") as tmp:
        done = subprocess.run(
            [str(FAUST_PY), str(AGENT)], env=env, cwd=tmp, capture_output=True, text=True,
            timeout=900, check=False,
        )  # fmt: skip
    found = re.findall(r"\] (\d+) (\d+\.\d+) (\d+\.\d+)", done.stdout + done.stderr)
    if not found:
        raise RuntimeError(f"faust agent failed: {done.stdout[-1000:]} {done.stderr[-2000:]}")
    events, wall, cpu = found[-1]
    return int(events) / float(wall), int(events) / float(cpu)


def modelmon_run(stack: bs.Stack, topic: str, n: int, tmp: Path) -> tuple[float, float]:
    prefix = stack.prefix()
    Registry(stack.redis, Keys(prefix)).register(bs.config(10, 5, 60))
    env = {"MODELMON_REDIS__KEY_PREFIX": prefix, "MODELMON_AGGREGATOR__TOPIC": topic,
           "MODELMON_AGGREGATOR__GROUP": f"bench-{uuid.uuid4().hex[:6]}",
           "MODELMON_ADMIN__PORT": "0", "MODELMON_LOG_LEVEL": "WARNING"}  # fmt: skip
    proc = bs.service("aggregator", env, tmp / "aggregator.log")
    try:
        bs.wait(lambda: stack.flushed(prefix, topic) >= min(50_000, n // 4), 300)
        start, base, cpu = (
            time.perf_counter(),
            stack.flushed(prefix, topic),
            bs.cpu_seconds(proc.pid),
        )
        bs.wait(lambda: stack.flushed(prefix, topic) >= n, 900)
        wall = time.perf_counter() - start
        return (n - base) / wall, (n - base) / (bs.cpu_seconds(proc.pid) - cpu)
    finally:
        proc.terminate()
        proc.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=30_000, help="events faust consumes")
    parser.add_argument(
        "--modelmon-events", type=int, default=300_000, help="events the aggregator consumes"
    )
    args = parser.parse_args()
    if not FAUST_PY.exists():
        sys.exit("run bench/faust/setup.sh first (creates .venvs/faust)")
    stack = bs.Stack()
    try:
        topic = stack.topic(bs.PARTITIONS)
        bs.log(f"producing {max(args.events, args.modelmon_events):,} events to {topic} ...")
        total = max(args.events, args.modelmon_events)
        stack.produce(topic, bs.events(total, 1_767_225_600_000, 100, seed=1))
        rows = []
        bs.log("faust without tables ...")
        name = "faust-streaming agent, no table: decode + a dict update per event"
        rows.append((name, *faust_run(stack, topic, args.events, "at_least_once", tables=False)))
        for guarantee in ("at_least_once", "exactly_once"):
            bs.log(f"faust {guarantee} ...")
            rows.append((f"faust-streaming agent, {guarantee}: decode + 2 windowed-table "
                         "updates per event (memory store + changelog topics)",
                         *faust_run(stack, topic, args.events, guarantee)))  # fmt: skip
        bs.log("modelmon aggregator ...")
        with tempfile.TemporaryDirectory(prefix="bench-faust-") as tmp:
            name = "modelmon aggregator, exactly-once: decode + 25-feature profiles + fenced flush"
            rows.append((name, *modelmon_run(stack, topic, total, Path(tmp))))
    finally:
        stack.cleanup()
    print(
        f"## faust-streaming vs modelmon aggregator (one topic: faust reads its first "
        f"{args.events:,} events, the aggregator all {total:,})\n"
    )
    print("| consumer | events/s (wall) | events per CPU-second |\n|---|---|---|")
    for name, wall, cpu in rows:
        print(f"| {name} | {wall:,.0f} | {cpu:,.0f} |")
    print()


if __name__ == "__main__":
    main()
