"""Redis bytes written per event by the aggregator's flushes at 1, 100 and 1,000 models
(issue 23 item 2; docs/decisions/0004-partial-flush.md).

What a flush writes is the FlushPlan handed to the fenced script (partials, their index and
the partition's state), so this benchmark measures it in memory, without Kafka or Redis: the
same events (25 features: 21 numeric, 4 categorical; 10-second windows, 5 s lateness) spread
round-robin over M models of one partition, arriving at ``--rate`` events per second of event
time (a live stream: event time moves with the clock). Every simulated second the aggregator's
periodic flush runs, once as before issue 23 (every dirty partial rewritten each second) and
once with the size-aware cadence (FlushCadence defaults). Events of one model within a second
are folded in as one batch: a flush sees the same state as with any batching inside it.

Usage: .venv/bin/python bench/bench_flush.py [--events 500000] [--rate 10000]
       [--models 1 100 1000]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass

import numpy as np

from modelmon.profile.codec import FORMAT_VERSION
from modelmon.streaming.decode import DecodedBatch
from modelmon.streaming.partition import FlushCadence, FlushPlan, ModelPlan, PartitionAggregate
from modelmon.windows import WindowSpec
from summary import headline  # bench/ is the script's directory

NUMERIC = [f"n{i:02d}" for i in range(21)]
CATEGORICAL = [f"c{i}" for i in range(4)]
CATEGORIES = np.array(["alpha", "beta", "gamma", "delta", "epsilon", "zeta"], dtype=object)
START_MS = 1_700_000_000_000


def log(msg: str) -> None:
    print(f"[bench_flush] {msg}", file=sys.stderr, flush=True)


def plan_bytes(plan: FlushPlan) -> int:
    """Bytes the fenced script receives (and writes) for this plan, keys aside."""
    partials = sum(len(blob) + len(ref.member()) + 16 for ref, _, blob in plan.partials)
    late = sum(len(ref.member()) + 8 for ref, _ in plan.late)
    marks = sum(len(m) + 16 for m, _ in plan.model_watermarks)
    return partials + late + marks + 64


@dataclass
class Flusher:
    """One aggregate under one cadence (None: every periodic flush writes everything)."""

    cadence: FlushCadence | None
    agg: PartitionAggregate
    written_s: float = 0.0
    bytes: int = 0
    flushes: int = 0
    partials: int = 0
    cpu: float = 0.0

    def tick(self, now_s: float, final: bool = False) -> None:
        started = time.process_time()
        waited = now_s - self.written_s
        due = self.agg.pending and (
            final or self.cadence is None or self.agg.flush_due(waited, self.cadence)
        )
        if due:
            plan = self.agg.flush_plan()
            self.bytes += plan_bytes(plan)
            self.partials += len(plan.partials)
            self.flushes += 1
            self.agg.flushed(plan)
            self.written_s = now_s
        self.cpu += time.process_time() - started


def second_batches(n: int, rate: int, models: int, seed: int):  # type: ignore[no-untyped-def]
    """(second, model id, DecodedBatch) for each second of event time and model."""
    rng = np.random.default_rng(seed)
    offset = 0
    for second, lo in enumerate(range(0, n, rate)):
        m = min(rate, n - lo)
        t = START_MS + second * 1000 + (np.arange(m, dtype=np.int64) * 1000) // m
        owner = (np.arange(lo, lo + m)) % models
        nums = rng.normal(50.0, 10.0, (m, len(NUMERIC))).round(3)
        cats = CATEGORIES[rng.integers(0, len(CATEGORIES), (m, len(CATEGORICAL)))]
        for model in range(models):
            rows = np.flatnonzero(owner == model)
            if not len(rows):
                continue
            cols: dict[str, object] = {f: nums[rows, i] for i, f in enumerate(NUMERIC)}
            cols.update({f: cats[rows, i] for i, f in enumerate(CATEGORICAL)})
            model_id = f"m{model:04d}"
            batch = DecodedBatch(
                index=np.arange(len(rows), dtype=np.int64), event_ms=t[rows],
                model_ids=[model_id] * len(rows), columns=cols, model_id=model_id,  # type: ignore[arg-type]
            )  # fmt: skip
            yield second, model_id, batch, offset + len(rows) - 1
            offset += len(rows)


def run(n: int, rate: int, models: int) -> dict[str, Flusher]:
    spec = WindowSpec(size_ms=10_000, lateness_ms=5_000, idle_timeout_ms=60_000)
    kinds = {f: "numeric" for f in NUMERIC} | {f: "categorical" for f in CATEGORICAL}
    plan = ModelPlan(spec, kinds=kinds, features=tuple(kinds))  # type: ignore[arg-type]
    plans = {f"m{i:04d}": plan for i in range(models)}
    runs = {
        "every second (before)": Flusher(None, PartitionAggregate(None)),
        "size-aware (FlushCadence defaults)": Flusher(FlushCadence(), PartitionAggregate(None)),
    }
    current = 0
    for second, model_id, batch, last in second_batches(n, rate, models, seed=7):
        if second != current:
            for f in runs.values():
                f.tick(float(second))
            current = second
        for f in runs.values():
            f.agg.add(batch, last, {model_id: plans[model_id]})
    for f in runs.values():
        f.tick(float(current + 1), final=True)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--rate", type=int, default=10_000, help="events per second")
    parser.add_argument("--models", type=int, nargs="+", default=[1, 100, 1000])
    args = parser.parse_args()
    print("## Flush: Redis bytes written per event (issue 23 item 2)\n")
    print(
        f"{args.events:,} events, 25 features, 10 s windows, {args.rate:,} events per "
        "second of event time, one partition; bytes = what the fenced flush script gets "
        f"(profile format {FORMAT_VERSION}).\n"
    )
    print("| models | cadence | flushes | partial writes | bytes per event | flush CPU µs/event |")
    print("|---|---|---|---|---|---|")
    per_event: dict[int, float] = {}
    for models in args.models:
        log(f"{models} models ...")
        for name, f in run(args.events, args.rate, models).items():
            b = f.bytes / args.events
            print(f"| {models:,} | {name} | {f.flushes:,} | {f.partials:,} | {b:,.0f} B "
                  f"| {f.cpu / args.events * 1e6:.2f} |")  # fmt: skip
            if f.cadence is not None:
                per_event[models] = b
    if len(per_event) > 1:
        lo, hi = min(per_event), max(per_event)
        ratio = per_event[hi] / per_event[lo]
        headline("flush", f"Redis bytes per event, {hi:,} vs {lo:,} models",
                 f"{per_event[hi]:,.0f} B vs {per_event[lo]:,.0f} B", "", f"{ratio:.1f}×",
                 "≤ 4×", ratio <= 4)  # fmt: skip
        print(f"\n{hi:,} models write {ratio:.1f}× the bytes per event of {lo:,} (target ≤ 4×).")


if __name__ == "__main__":
    main()
