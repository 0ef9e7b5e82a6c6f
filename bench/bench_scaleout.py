"""Scale-out benchmarks (issue 16): aggregator throughput with 1 vs 2 processes in one consumer
group, and the detector's time to evaluate one window for 100 models.

Both on the local stack (one Redis; `--redis-url redis+cluster://...` for a cluster, e.g. the
one `modelmon stack up --redis-cluster` starts). The machine has 2 cores shared with Kafka and
Redis, so two aggregators compete with them for CPU: the ratio says how much a second
process buys *here*; on a cluster each pod has its own cores (docs/kubernetes.md sizes from the
per-CPU-second rate). Markdown on stdout, progress on stderr.

Usage: .venv/bin/python bench/bench_scaleout.py [--events 300000] [--models 100]
       [--redis-url URL]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson

from bench_streaming import (
    CATEGORICAL,
    NUMERIC,
    Stack,
    config,
    cpu_seconds,
    encode,
    events,
    push_baseline,
    service,
    wait,
)
from modelmon.adapters.redis import make_redis
from modelmon.keys import Keys
from modelmon.registry import Registry
from modelmon.streaming.reader import StateReader
from modelmon.streaming.results import ResultStore
from summary import headline

PARTITIONS = 6
T0 = 1_767_225_600_000


def log(msg: str) -> None:
    print(f"[bench_scaleout] {msg}", file=sys.stderr, flush=True)


def flushed(stack: Stack, prefix: str, topic: str) -> int:
    reader = StateReader(stack.redis, Keys(prefix), topic)
    progress = reader.progress({i: (0, 0) for i in range(PARTITIONS)})
    return sum(p.next_offset or 0 for p in progress)


def env_of(prefix: str, topic: str, group: str, extra: dict[str, str]) -> dict[str, str]:
    return {"MODELMON_REDIS__KEY_PREFIX": prefix, "MODELMON_AGGREGATOR__TOPIC": topic,
            "MODELMON_AGGREGATOR__GROUP": group, "MODELMON_ADMIN__PORT": "0",
            "MODELMON_LOG_LEVEL": "INFO", **extra}  # fmt: skip


def aggregators(
    stack: Stack, topic: str, n: int, count: int, tmp: Path, extra: dict[str, str]
) -> tuple[float, float]:
    """(events/s, events per CPU-second of all of them) of ``count`` aggregators in one group
    over the same produced topic (a fresh prefix and group each time), from 10% flushed to
    all flushed, every one assigned."""
    prefix, group = stack.prefix(), f"bench-{uuid.uuid4().hex[:6]}"
    Registry(stack.redis, Keys(prefix)).register(config(10, 5, 60))
    procs: list[subprocess.Popen[bytes]] = []
    logs = [tmp / f"agg{count}-{i}.log" for i in range(count)]
    try:
        for path in logs:
            procs.append(service("aggregator", env_of(prefix, topic, group, extra), path))
        wait(lambda: all("partitions assigned" in p.read_text(errors="replace") for p in logs
                         if p.exists()) and all(p.exists() for p in logs), 120)  # fmt: skip
        wait(lambda: flushed(stack, prefix, topic) >= n // 10, 300)
        start, base = time.perf_counter(), flushed(stack, prefix, topic)
        cpu = sum(cpu_seconds(p.pid) for p in procs)
        wait(lambda: flushed(stack, prefix, topic) >= n, 900)
        wall = time.perf_counter() - start
        cpu = sum(cpu_seconds(p.pid) for p in procs) - cpu
        return (n - base) / wall, (n - base) / cpu
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(60)


def many_models(n_models: int, per_model: int) -> Iterator[bytes]:
    """Window 0 of every model (``per_model`` events each), then a few events of window 1 per
    model and partition, so that every model's window 0 closes."""
    pool = [orjson.loads(v)["inputs"] for v in events(per_model, 0, 1000, seed=3)]
    for i in range(per_model):
        for m in range(n_models):
            yield encode(f"model-{m:03d}", T0 + (i * 9_000) // per_model, pool[i])
    for j in range(PARTITIONS * 2):
        for m in range(n_models):
            yield encode(f"model-{m:03d}", T0 + 12_000 + j, pool[j])


def detector_window(stack: Stack, n_models: int, per_model: int, tmp: Path,
                    extra: dict[str, str]) -> tuple[float, float, float]:  # fmt: skip
    """(wall seconds from the first model's result to the last's, the detector's CPU seconds
    over the same span, wall seconds from detector start to the last result) for one window
    of each model."""
    topic, alerts, prefix = stack.topic(PARTITIONS), stack.topic(1), stack.prefix()
    registry = Registry(stack.redis, Keys(prefix))
    registry.register(config(10, 1, 60))  # "bench": push_baseline's model
    for m in range(n_models):
        registry.register(config(10, 1, 60).model_copy(update={"model_id": f"model-{m:03d}"}))
    push_baseline(stack, prefix, tmp)  # "bench"'s baseline, then the same files for each model
    files = registry.baseline_files("bench") or {}
    for m in range(n_models):
        registry.push_baseline(f"model-{m:03d}", files, "bench")
    log(f"producing one window of {n_models} models ({per_model} events each) ...")
    n = stack.produce(topic, many_models(n_models, per_model), PARTITIONS)
    env = env_of(prefix, topic, f"bench-{uuid.uuid4().hex[:6]}", extra) | {
        "MODELMON_DETECTOR__TOPIC": topic, "MODELMON_DETECTOR__ALERTS_TOPIC": alerts,
        "MODELMON_DETECTOR__INTERVAL": "0.2", "MODELMON_LOG_LEVEL": "WARNING",
    }  # fmt: skip
    agg = service("aggregator", env, tmp / "agg-models.log")
    try:
        wait(lambda: flushed(stack, prefix, topic) >= n, 600)
    finally:
        agg.terminate()
        agg.wait(60)
    store = ResultStore(stack.redis, Keys(prefix), "bench")
    models = [f"model-{m:03d}" for m in range(n_models)]
    started = time.perf_counter()
    det = service("detector", env, tmp / "det-models.log")
    try:
        wait(lambda: any(store.results(m) for m in models), 600)
        first_cpu = cpu_seconds(det.pid)
        wait(lambda: all(store.results(m) for m in models), 600)
        wall = time.perf_counter() - started
        cpu = cpu_seconds(det.pid) - first_cpu
    finally:
        det.terminate()
        det.wait(60)
    stamps = sorted(store.results(m)[0].evaluated_at.timestamp() for m in models)
    return stamps[-1] - stamps[0], cpu, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--per-model", type=int, default=500)
    parser.add_argument("--redis-url", default=None, help="default: MODELMON_REDIS__URL")
    args = parser.parse_args()
    extra = {"MODELMON_REDIS__URL": args.redis_url} if args.redis_url else {}
    stack = Stack()
    if args.redis_url:
        stack.redis = make_redis(stack.settings.redis.model_copy(update={"url": args.redis_url}))
    with tempfile.TemporaryDirectory(prefix="bench-scaleout-") as tmpdir:
        try:
            report(args, stack, Path(tmpdir), extra)
        finally:
            stack.cleanup()


def report(args: argparse.Namespace, stack: Stack, tmp: Path, extra: dict[str, str]) -> None:
    topic = stack.topic(PARTITIONS)
    log(f"producing {args.events:,} events to {topic} ({PARTITIONS} partitions) ...")
    n = stack.produce(topic, events(args.events, T0, 100, seed=1), PARTITIONS)
    log("one aggregator ...")
    one, one_cpu = aggregators(stack, topic, n, 1, tmp, extra)
    log("two aggregators in one group ...")
    two, two_cpu = aggregators(stack, topic, n, 2, tmp, extra)
    spread, cpu, wall = detector_window(stack, args.models, args.per_model, tmp, extra)
    features = len(NUMERIC) + len(CATEGORICAL)
    print("## Scale-out: aggregators in one group, detector over many models\n")
    where = "a Redis Cluster" if args.redis_url else "one Redis"
    print(f"{n:,} events, {features} features, {PARTITIONS} partitions, {where}; "
          "2 cores shared with Kafka and Redis.\n")  # fmt: skip
    print("| what | figure |\n|---|---|")
    print(f"| 1 aggregator | {one:,.0f} events/s; {one_cpu:,.0f} events/CPU-s |")
    print(f"| 2 aggregators, one group | {two:,.0f} events/s; {two_cpu:,.0f} events per "
          "CPU-s of both |")  # fmt: skip
    print(f"| 2 / 1 | {two / one:.2f}x wall; {two_cpu / one_cpu:.2f}x per CPU-s |")
    print(f"| detector: one window of {args.models} models ({args.per_model} events, "
          f"{features} features each), first to last result | {spread:.2f} s "
          f"({spread / max(1, args.models - 1) * 1000:.0f} ms per model) |")  # fmt: skip
    print(f"| detector: its CPU over that span | {cpu:.2f} CPU-s "
          f"({cpu / max(1, args.models - 1) * 1000:.0f} ms per model) |")  # fmt: skip
    print(f"| detector: start to the last result | {wall:.1f} s |\n")
    headline("scaleout", "aggregator throughput, 2 processes vs 1 in one group (2 shared cores)",
             f"{two:,.0f} events/s", f"1 process: {one:,.0f} events/s", f"{two / one:.2f}×",
             "> 1× (more with more cores)", two > one)  # fmt: skip
    headline("scaleout", "aggregator events per CPU-second, 2 processes vs 1",
             f"{two_cpu:,.0f} events/CPU-s", f"1 process: {one_cpu:,.0f} events/CPU-s",
             f"{two_cpu / one_cpu:.2f}×", "≈ 1× (the work splits; cores add up)",
             two_cpu >= 0.8 * one_cpu)  # fmt: skip
    headline("scaleout", f"detector: one window of {args.models} models evaluated (first to "
             "last result; detector CPU)", f"{spread:.2f} s; {cpu:.2f} CPU-s",
             target="< window size (10 s)", met=spread < 10.0)  # fmt: skip


if __name__ == "__main__":
    main()
