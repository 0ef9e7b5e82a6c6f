"""Small windows as exact groups (issue 23, docs/decisions/0007-exact-small-windows.md): Redis
bytes and flush CPU per event at 1, 100 and 1,000 models, exact groups vs trackers only.

The stream of bench_flush.py (25 features, 10-second windows, 5 s lateness, ``--rate`` events
per second of event time, models round-robin, one partition), but as the aggregator sees it
with the native decoder: each second's events are one mixed batch decoded once
(``native_decode.decode_mixed``), so the batch-level fold and exact groups are used; the
reference (``PartitionAggregate(exact=False)``) folds the same batches per model into trackers.
Both flush with the size-aware cadence (decision 0004). CPU is this process's, per event:
fold (add) and flush (plan + serialize) separately.

With ``--aggregator-events N``: the real aggregator (`modelmon run aggregator`, Kafka -> Redis,
native path) at each number of models, in events per CPU-second. Unlike bench_decode.py's
figure, the CPU is counted from an idle, started process until every event is flushed: the
size-aware cadence holds a 1,000-model partition's flush for up to 10 s, so counting from "a
quarter flushed" would credit events consumed before the count began.

With ``--python``: the pure-Python decoder's path (``python_blocks.decode_blocks`` in memory,
``MODELMON_NATIVE=0`` for the aggregator).

Usage: .venv/bin/python bench/bench_exact.py [--events 200000] [--models 1 100 1000]
       [--aggregator-events 0] [--python]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from bench_decode import _name, model_config, model_events, plans_for  # bench/: the directory
from bench_flush import Flusher, log
from bench_streaming import PARTITIONS, Stack, aggregator_env, cpu_seconds, service, wait
from modelmon.keys import Keys
from modelmon.registry import Registry
from modelmon.streaming import native_decode
from modelmon.streaming.partition import FlushCadence, PartitionAggregate
from modelmon.streaming.python_blocks import decode_blocks
from modelmon.streaming.runtime import tune_collector

RATE = 10_000  # events per second of event time (bench_decode.model_events)


def run(n: int, models: int, python: bool = False) -> dict[str, tuple[Flusher, float]]:
    """Per path its flusher and fold CPU seconds (the decode's CPU is logged)."""
    values = list(model_events(n, models))
    plans = plans_for(models)
    features = {m: p.features for m, p in plans.items()}
    runs = {
        "trackers (exact=False)": Flusher(FlushCadence(), PartitionAggregate(None, exact=False)),
        "exact groups": Flusher(FlushCadence(), PartitionAggregate(None)),
    }
    fold = dict.fromkeys(runs, 0.0)
    decoding = 0.0
    for second, lo in enumerate(range(0, n, RATE)):
        batch = values[lo : lo + RATE]
        started = time.process_time()
        decode = decode_blocks if python else native_decode.decode_mixed  # pure Python: intake's
        got = decode(batch, features)
        decoding += time.process_time() - started
        assert got is not None, "the native decoder is not built"
        for name, f in runs.items():
            f.tick(float(second))
            started = time.process_time()
            f.agg.add(got[0], min(lo + RATE, n) - 1, plans)
            fold[name] += time.process_time() - started
    for f in runs.values():
        f.tick(float(n // RATE + 1), final=True)
    log(f"decode CPU µs/event: {decoding / n * 1e6:.2f}")
    return {name: (f, fold[name]) for name, f in runs.items()}


def aggregator_rate(stack: Stack, n: int, models: int, tmp: Path, native: str = "1") -> float:
    """Events per CPU-second of the aggregator, from idle until all ``n`` are flushed."""
    topic, prefix = stack.topic(PARTITIONS), stack.prefix()
    registry = Registry(stack.redis, Keys(prefix))
    for i in range(models):
        registry.register(model_config(_name(i, models)))
    env = aggregator_env(prefix, topic, MODELMON_NATIVE=native)
    proc = service("aggregator", env, tmp / f"aggregator-{models}.log")
    try:
        time.sleep(8)  # started, assigned, idle
        base = cpu_seconds(proc.pid)
        stack.produce(topic, model_events(n, models))
        wait(lambda: stack.flushed(prefix, topic) >= n, 1800)
        return n / (cpu_seconds(proc.pid) - base)
    finally:
        proc.terminate()
        proc.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--models", type=int, nargs="+", default=[1, 100, 1000])
    parser.add_argument("--aggregator-events", type=int, default=0)
    parser.add_argument("--python", action="store_true", help="the pure-Python decoder's path")
    args = parser.parse_args()
    if args.python:
        native_decode.select(False)
    elif not native_decode.available():
        raise SystemExit("the native decoder is not built: exact groups need its shared blocks")
    else:
        native_decode.select(True)
    tune_collector()
    print("## Exact small windows: bytes and CPU per event (issue 23)\n")
    print(f"load average at the start: {_load()}\n")
    print(f"{args.events:,} events, 25 features, 10 s windows, {RATE:,} events per second of "
          "event time, one partition, size-aware flush cadence.\n")  # fmt: skip
    print("| models | path | partial writes | bytes per event | fold CPU µs/event | "
          "flush CPU µs/event |\n|---|---|---|---|---|---|")  # fmt: skip
    for models in args.models:
        log(f"{models} models ...")
        for name, (f, fold) in run(args.events, models, args.python).items():
            n = args.events
            print(f"| {models:,} | {name} | {f.partials:,} | {f.bytes / n:,.0f} B | "
                  f"{fold / n * 1e6:.2f} | {f.cpu / n * 1e6:.2f} |")  # fmt: skip

    if args.aggregator_events:
        aggregators(args.aggregator_events, args.models, "0" if args.python else "1")


def aggregators(n: int, counts: list[int], native: str) -> None:
    path = "pure Python" if native == "0" else "native"
    print(
        f"\n| models | aggregator Kafka -> Redis ({path}), events/CPU-s | µs/event |\n|---|---|---|"
    )
    stack = Stack()
    with tempfile.TemporaryDirectory(prefix="bench-exact-") as tmpdir:
        try:
            for models in counts:
                log(f"aggregator: {models} models ...")
                rate = aggregator_rate(stack, n, models, Path(tmpdir), native)
                print(f"| {models:,} | {rate:,.0f} | {1e6 / rate:.2f} |", flush=True)
        finally:
            stack.cleanup()
    print(f"\nload average at the end: {_load()} (a shared machine inflates CPU per event)")


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
