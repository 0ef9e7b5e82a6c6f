"""Streaming benchmarks: aggregator throughput (Kafka -> Redis, exactly-once) on the native and
the pure-Python decode path, the in-memory decode + profile rate of the same events, Kafka
consume alone, each stage's cost, whylogs on the same messages (interleaved rounds), and
detection latency with 10-second windows. The machine's load average is printed beside each
figure (the machine is shared: CPU-seconds of the process are the per-core figures).

Needs the local stack (`.venv/bin/modelmon stack up`); whylogs runs in .venvs/whylogs if
present (bench/peers/setup_peers.sh whylogs). Markdown on stdout, progress on stderr.
bench_memory.py measures the aggregator's RSS from 1M to 10M events.

Usage: .venv/bin/python bench/bench_streaming.py [--events 1000000] [--memory-events 200000]
       [--rounds 3] [--aggregator-rounds 2] [--latency-seconds 90] [--skip-latency]
       [--skip-whylogs]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import NewTopic

from modelmon.adapters.kafka import make_admin
from modelmon.adapters.redis import make_redis
from modelmon.checks import Baseline
from modelmon.config import ModelConfig
from modelmon.keys import Keys
from modelmon.profile import ProfileTracker
from modelmon.registry import Registry
from modelmon.sagemaker.build import build_statistics, suggest_constraints
from modelmon.settings import Settings
from modelmon.streaming.reader import StateReader
from rounds import ROUNDS, Rounds, interleaved  # bench/ is the script's directory
from streaming_stages import (
    BATCH,
    PATHS,
    in_memory_rate,
    kafka_consume_cost,
    load,
    print_stages,
    stage_costs,
)
from summary import headline

REPO = Path(__file__).resolve().parents[1]
MODELMON = str(REPO / ".venv" / "bin" / "modelmon")
WHYLOGS_PY = REPO / ".venvs" / "whylogs" / "bin" / "python"
NUMERIC = [f"n{i:02d}" for i in range(21)]
CATEGORICAL = [f"c{i}" for i in range(4)]
CATEGORIES = np.array(["alpha", "beta", "gamma", "delta", "epsilon", "zeta"])
PARTITIONS = 3


def log(msg: str) -> None:
    print(f"[bench_streaming] {msg}", file=sys.stderr, flush=True)


# -- data -----------------------------------------------------------------------------------
def events(
    n: int, start_ms: int, spacing_us: int, seed: int, shift: float = 0.0
) -> Iterator[bytes]:
    """Capture events with 21 numeric and 4 categorical features, in chunks of 10k."""
    rng = np.random.default_rng(seed)
    for lo in range(0, n, 10_000):
        m = min(10_000, n - lo)
        nums = rng.normal(50.0 + shift, 10.0, (m, len(NUMERIC))).round(3)
        cats = CATEGORIES[rng.integers(0, len(CATEGORIES), (m, len(CATEGORICAL)))]
        for i in range(m):
            t = start_ms + (lo + i) * spacing_us // 1000
            inputs = dict(zip(NUMERIC, nums[i].tolist(), strict=True))
            inputs.update(zip(CATEGORICAL, cats[i].tolist(), strict=True))
            yield encode("bench", t, inputs)


def encode(model_id: str, t_ms: int, inputs: dict[str, Any]) -> bytes:
    when = datetime.fromtimestamp(t_ms / 1000, UTC).isoformat(timespec="milliseconds")
    return orjson.dumps(
        {"schema_version": 1, "event_id": uuid.uuid4().hex, "model_id": model_id,
         "event_time": when.replace("+00:00", "Z"), "inputs": inputs,
         "outputs": {"prediction": 1, "probability": 0.73}, "latency_ms": 3.2}
    )  # fmt: skip


def config(size_seconds: int, lateness: int, idle: int) -> ModelConfig:
    features = [{"name": n, "kind": "numeric"} for n in NUMERIC]
    features += [{"name": c, "kind": "categorical"} for c in CATEGORICAL]
    return ModelConfig.model_validate(
        {"model_id": "bench", "features": features,
         "window": {"size_seconds": size_seconds, "allowed_lateness_seconds": lateness,
                    "idle_timeout_seconds": idle}}
    )  # fmt: skip


# -- stack helpers --------------------------------------------------------------------------
def bench_producer(settings: Settings) -> Producer:
    """A producer batching for throughput (lz4, as modelmon's own producers)."""
    return Producer(settings.kafka.librdkafka_config() | {
        "linger.ms": 50, "batch.size": 1_000_000, "compression.type": "lz4",
        "queue.buffering.max.messages": 1_000_000})  # fmt: skip


def send(producer: Producer, topic: str, value: bytes, partition: int) -> None:
    """Produce one bench event (key "bench"), waiting while the local queue is full."""
    while True:
        try:
            producer.produce(topic, value, b"bench", partition=partition)
            return
        except BufferError:
            producer.poll(0.05)


class Stack:
    def __init__(self) -> None:
        self.settings = Settings()
        self.admin = make_admin(self.settings.kafka)
        self.redis = make_redis(self.settings.redis)
        self.topics: list[str] = []
        self.prefixes: list[str] = []

    def topic(self, partitions: int) -> str:
        return self.named_topic(f"bench-streaming-{uuid.uuid4().hex[:8]}", partitions)

    def named_topic(self, name: str, partitions: int) -> str:
        self.admin.create_topics([NewTopic(name, partitions, 1)])[name].result(30)
        self.topics.append(name)
        time.sleep(1.0)  # leaders elected
        return name

    def prefix(self) -> str:
        p = f"bench-{uuid.uuid4().hex[:8]}"
        self.prefixes.append(p)
        return p

    def produce(self, topic: str, values: Iterator[bytes], partitions: int = PARTITIONS) -> int:
        producer = bench_producer(self.settings)
        n = 0
        for n, value in enumerate(values, 1):
            send(producer, topic, value, n % partitions)
        producer.flush(120)
        return n

    def flushed(self, prefix: str, topic: str) -> int:
        reader = StateReader(self.redis, Keys(prefix), topic)
        return sum(
            p.next_offset or 0 for p in reader.progress({i: (0, 0) for i in range(PARTITIONS)})
        )

    def cleanup(self) -> None:
        if self.topics:
            for f in self.admin.delete_topics(self.topics, operation_timeout=30).values():
                f.result(30)
        for p in self.prefixes:
            keys = list(self.redis.scan_iter(match=f"{p}*", count=1000))
            for i in range(0, len(keys), 500):
                self.redis.delete(*keys[i : i + 500])


def service(name: str, env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    out = log_path.open("ab")
    # the bench replays fixed dates of 2026: no past horizon (MODELMON_LIMITS, docs/streaming.md)
    env = os.environ | {"MODELMON_LIMITS__PAST_SECONDS": str(100 * 365 * 86400)} | env
    return subprocess.Popen([MODELMON, "run", name], env=env, stdout=out, stderr=out)


def aggregator_env(prefix: str, topic: str, **more: str) -> dict[str, str]:
    """A benchmark service's environment: its own key prefix, topic and consumer group, no
    admin port, quiet logs; ``more``: further settings (``MODELMON_NATIVE`` ...)."""
    return {"MODELMON_REDIS__KEY_PREFIX": prefix, "MODELMON_AGGREGATOR__TOPIC": topic,
            "MODELMON_AGGREGATOR__GROUP": f"bench-{uuid.uuid4().hex[:6]}",
            "MODELMON_ADMIN__PORT": "0", "MODELMON_LOG_LEVEL": "WARNING"} | more  # fmt: skip


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wait(predicate: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark step timed out")
        time.sleep(0.05)


# -- throughput ------------------------------------------------------------------------------
def aggregator_run(stack: Stack, topic: str, n: int, path: str, tmp: Path) -> dict[str, float]:
    """The real service on ``path``, reading the ``n`` events of ``topic`` from the start (its
    own group and key prefix): its rate over [100k, n] flushed, and its RSS at the end."""
    prefix = stack.prefix()
    Registry(stack.redis, Keys(prefix)).register(config(10, 5, 60))
    env = aggregator_env(prefix, topic, MODELMON_NATIVE="1" if path == "native" else "0")
    proc = service("aggregator", env, tmp / f"aggregator-{path}.log")
    try:
        wait(lambda: stack.flushed(prefix, topic) >= min(100_000, n // 4), 300)
        start, base = time.perf_counter(), stack.flushed(prefix, topic)
        cpu = cpu_seconds(proc.pid)
        wait(lambda: stack.flushed(prefix, topic) >= n, 600)
        return {
            "rate": (n - base) / (time.perf_counter() - start),
            "cpu_rate": (n - base) / (cpu_seconds(proc.pid) - cpu),
            "rss_1": rss_mib(proc.pid),
            "load": load(),
        }
    finally:
        proc.terminate()
        proc.wait(60)


def aggregator_rounds(
    stack: Stack, n: int, rounds: int, tmp: Path
) -> dict[str, list[dict[str, float]]]:
    """``rounds`` runs per decode path, interleaved (native, python, native, ...), on one topic."""
    topic = stack.topic(PARTITIONS)
    log(f"producing {n:,} events to {topic} ...")
    stack.produce(topic, events(n, 1_767_225_600_000, 100, seed=1))  # 10k events/s event time
    runs: dict[str, list[dict[str, float]]] = {p: [] for p in PATHS}
    for i in range(rounds):
        for path in PATHS:
            log(f"aggregator round {i + 1}/{rounds}, {path} path ...")
            runs[path].append(aggregator_run(stack, topic, n, path, tmp))
    return runs


def median_run(runs: list[dict[str, float]]) -> dict[str, float]:
    """Each figure's median over the runs (the load: the highest seen)."""
    out = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    out["load"] = max(r["load"] for r in runs)
    return out


WHYLOGS_SCRIPT = r"""
import json, sys, time
import pandas as pd
import whylogs as why
lines = open(sys.argv[1], "rb").read().splitlines()
why.log(pd.DataFrame([json.loads(x)["inputs"] for x in lines[:1000]]))  # warm-up, not timed
start, cpu = time.perf_counter(), time.process_time()
profile = None
for lo in range(0, len(lines), 10000):
    rows = [json.loads(x)["inputs"] for x in lines[lo:lo + 10000]]
    view = why.log(pd.DataFrame(rows)).view()
    profile = view if profile is None else profile.merge(view)
print(len(lines) / (time.perf_counter() - start), len(lines) / (time.process_time() - cpu))
"""


def whylogs_rate(values: list[bytes], tmp: Path) -> tuple[float, float] | None:
    """whylogs on the same messages: (events per wall second, per CPU-second of its loop)."""
    if not WHYLOGS_PY.exists():
        return None
    path = tmp / "events.jsonl"
    path.write_bytes(b"\n".join(values))
    done = subprocess.run(
        [str(WHYLOGS_PY), "-c", WHYLOGS_SCRIPT, str(path)],
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        log(f"whylogs failed: {done.stderr[-500:]}")
        return None
    wall, cpu = done.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


# -- detection latency ----------------------------------------------------------------------
def push_baseline(stack: Stack, prefix: str, tmp: Path) -> None:
    rows = [orjson.loads(v)["inputs"] for v in events(20_000, 0, 1000, seed=9)]
    tracker = ProfileTracker(
        {**dict.fromkeys(NUMERIC, "numeric"), **dict.fromkeys(CATEGORICAL, "categorical")}
    )
    tracker.update({k: [r[k] for r in rows] for k in [*NUMERIC, *CATEGORICAL]})
    profile = tracker.snapshot()
    stats = build_statistics(profile, [*NUMERIC, *CATEGORICAL])
    directory = tmp / "baseline"
    Baseline(stats, suggest_constraints(stats), profile).save(directory)
    files = {p.name: p.read_bytes() for p in directory.iterdir()}
    Registry(stack.redis, Keys(prefix)).push_baseline("bench", files, "bench")


def live_producer(
    stack: Stack, topic: str, rate: int, seconds: float, first: dict[int, float]
) -> None:
    """Drifted events stamped with the wall clock; remembers when each window's first went out."""
    pool = [orjson.loads(v)["inputs"] for v in events(5000, 0, 1000, seed=5, shift=10.0)]
    producer = Producer(stack.settings.kafka.librdkafka_config() | {"linger.ms": 5})
    end, i = time.time() + seconds, 0
    while (now := time.time()) < end:
        for _ in range(rate // 100):
            t_ms = int(time.time() * 1000)
            first.setdefault(t_ms - t_ms % 10_000, time.time())
            producer.produce(
                topic, encode("bench", t_ms, pool[i % len(pool)]), partition=i % PARTITIONS
            )
            i += 1
        producer.poll(0)
        time.sleep(max(0.0, 0.01 - (time.time() - now)))
    producer.flush(30)


def alert_times(stack: Stack, topic: str, stop: threading.Event, seen: dict[int, float]) -> None:
    consumer = Consumer(
        stack.settings.kafka.librdkafka_config() | {"group.id": f"bench-{uuid.uuid4().hex[:6]}"}
    )
    consumer.assign([TopicPartition(topic, 0, 0)])
    while not stop.is_set():
        for m in consumer.consume(100, 0.1):
            if m.error() is None:
                doc = orjson.loads(m.value())
                if doc["type"] == "alert" and "rolling" not in doc["description"]:
                    start = int(datetime.fromisoformat(doc["window_start"]).timestamp() * 1000)
                    seen.setdefault(start, time.time())
    consumer.close()


def detection_latency(stack: Stack, seconds: float, tmp: Path) -> list[float]:
    capture, alerts, prefix = stack.topic(PARTITIONS), stack.topic(1), stack.prefix()
    Registry(stack.redis, Keys(prefix)).register(config(10, 1, 5))
    push_baseline(stack, prefix, tmp)
    env = aggregator_env(
        prefix, capture, MODELMON_AGGREGATOR__FLUSH_SECONDS="0.5",
        MODELMON_DETECTOR__INTERVAL="0.2", MODELMON_DETECTOR__TOPIC=capture,
        MODELMON_DETECTOR__ALERTS_TOPIC=alerts,
    )  # fmt: skip
    procs = [service(n, env, tmp / f"{n}.log") for n in ("aggregator", "detector")]
    first: dict[int, float] = {}
    seen: dict[int, float] = {}
    stop = threading.Event()
    watcher = threading.Thread(target=alert_times, args=(stack, alerts, stop, seen), daemon=True)
    watcher.start()
    try:
        time.sleep(5)  # services join their groups
        log(f"live stream for {seconds:.0f}s (3,000 events/s, every window drifted) ...")
        live_producer(stack, capture, 3000, seconds, first)
        stopped_ms = time.time() * 1000
        time.sleep(15)  # the last full windows close and are evaluated
    finally:
        stop.set()
        for p in procs:
            p.terminate()
            p.wait(60)
    watcher.join(10)
    # the first window started mid-way; the last ones closed by idleness once the stream stopped
    windows = [w for w in sorted(set(first) & set(seen))[1:] if w + 10_000 < stopped_ms]
    return [seen[w] - first[w] for w in windows]


# -- report ---------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="aggregator events")
    parser.add_argument("--memory-events", type=int, default=200_000,
                        help="events of the in-memory loops, the stages and whylogs")  # fmt: skip
    parser.add_argument("--latency-seconds", type=float, default=90)
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-whylogs", action="store_true")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="interleaved whylogs rounds")
    parser.add_argument("--aggregator-rounds", type=int, default=2,
                        help="aggregator runs per decode path, interleaved")  # fmt: skip
    args = parser.parse_args()
    stack = Stack()
    with tempfile.TemporaryDirectory(prefix="bench-streaming-") as tmpdir:
        tmp = Path(tmpdir)
        try:
            report(args, stack, tmp)
        finally:
            stack.cleanup()


Memory = dict[str, dict[str, list[float]]]


def memory_rounds(
    values: list[bytes], args: argparse.Namespace, tmp: Path
) -> tuple[Memory, Rounds[tuple[float, float]] | None]:
    """The in-memory loop on every path, then whylogs on the same messages, round after round
    (issue 20 item 5); each round's ratio is the aggregator's path over whylogs, per CPU-s."""
    cfg = config(10, 5, 60)
    mem: Memory = {p: {"wall": [], "cpu": [], "load": []} for p in PATHS}

    def ours() -> float:
        for path in PATHS:
            wall, cpu = in_memory_rate(values, cfg, path)
            mem[path]["wall"].append(wall)
            mem[path]["cpu"].append(cpu)
            mem[path]["load"].append(load())
        return mem[PATHS[0]]["cpu"][-1]

    for path in PATHS:  # steady state, as the aggregator's: first-call costs before the rounds
        in_memory_rate(values[: 2 * BATCH], cfg, path)
    wl = None
    if not args.skip_whylogs:
        wl = interleaved(ours, lambda: whylogs_rate(values, tmp), lambda a, b: a / b[1],
                         rounds=args.rounds, log=log)  # fmt: skip
    if not mem[PATHS[0]]["cpu"]:
        ours()
    return mem, wl


def report(args: argparse.Namespace, stack: Stack, tmp: Path) -> None:
    cfg = config(10, 5, 60)
    values = list(events(args.memory_events, 1_767_225_600_000, 100, seed=1))
    log(f"in-memory decode + profile of {len(values):,} events ({', '.join(PATHS)}), whylogs "
        "interleaved ...")  # fmt: skip
    mem, wl = memory_rounds(values, args, tmp)
    runs = aggregator_rounds(stack, args.events, args.aggregator_rounds, tmp)
    agg = {p: median_run(r) for p, r in runs.items()}
    log("where the time goes: each stage alone ...")
    kafka = (kafka_consume_cost(stack, values), load())
    costs = {p: stage_costs(values, cfg, p) | {"load": load()} for p in PATHS}
    print("## Streaming: aggregator and detector\n")
    print(f"25 features (21 numeric, 4 categorical), ~{len(values[0])}-byte JSON capture events, "
          f"{PARTITIONS} partitions, one aggregator process, 10-second windows, consume batches "
          f"of {BATCH:,}. Decode paths: {', '.join(PATHS)} (the aggregator's is the first). "
          "Rates per wall-clock second and per CPU-second of the process (the machine is "
          "shared by other work, so the CPU figure is the per-core rate); `load` is the "
          "1-minute load average (2 cores) when the figure was taken.\n")  # fmt: skip
    print_throughput(mem, runs, agg, kafka)
    if wl:
        print_whylogs(mem, wl)
    print_stages(kafka, costs, agg)
    print_headlines(mem, agg, kafka, wl)
    if not args.skip_latency:
        latency(stack, args.latency_seconds, tmp)
    print()


def print_throughput(
    mem: Memory, runs: dict[str, list[dict[str, float]]], agg: dict[str, dict[str, float]],
    kafka: tuple[float, float],
) -> None:  # fmt: skip
    print("| what | path | figure | load |\n|---|---|---|---|")
    for path in PATHS:
        each = ", ".join(f"{r['cpu_rate']:,.0f}" for r in runs[path])
        a = agg[path]
        print(f"| aggregator, Kafka -> Redis exactly-once (`modelmon run aggregator`), median of "
              f"{len(runs[path])} runs | {path} | {a['rate']:,.0f} events/s wall; "
              f"{a['cpu_rate']:,.0f} events/CPU-s (runs: {each}); RSS {a['rss_1']:.0f} MiB "
              f"| {loads(r['load'] for r in runs[path])} |")  # fmt: skip
    for path in PATHS:
        m = mem[path]
        cpu = statistics.median(m["cpu"])
        print(f"| in-memory decode + profile + serialize, same events, median of {len(m['cpu'])} "
              f"| {path} | {statistics.median(m['wall']):,.0f} events/s wall; {cpu:,.0f} "
              f"events/CPU-s ({min(m['cpu']):,.0f}–{max(m['cpu']):,.0f}) "
              f"| {loads(m['load'])} |")  # fmt: skip
        ratio = agg[path]["cpu_rate"] / cpu
        print(f"| aggregator / in-memory, per CPU-s | {path} | {ratio:.2f}x | |")
    print(f"| Kafka consume alone (aggregator settings) | | {kafka[0]:.2f} µs/event = "
          f"{1e6 / kafka[0]:,.0f} events/CPU-s | {kafka[1]:.1f} |")  # fmt: skip
    for path in PATHS:
        print(f"| aggregator / Kafka consume alone, per CPU-s | {path} | "
              f"{agg[path]['cpu_rate'] * kafka[0] / 1e6:.2f}x | |")  # fmt: skip


def loads(values: Iterable[float]) -> str:
    return ", ".join(f"{x:.1f}" for x in values)


def print_whylogs(mem: Memory, wl: Rounds[tuple[float, float]]) -> None:
    """Each round's rates and ratios: the aggregator's path is judged, every round."""
    print("\nIn-memory decode + profile vs whylogs 1.6 (json + DataFrame + why.log per 10k batch) "
          "on the same messages, interleaved rounds, per CPU-second:\n")  # fmt: skip
    head = " | ".join(f"{p} events/CPU-s | {p} / whylogs" for p in PATHS)
    print(f"| round | {head} | whylogs events/CPU-s (wall) | load |\n|---|"
          + "---|---|" * len(PATHS) + "---|---|")  # fmt: skip
    for i, (wall, cpu) in enumerate(wl.peer):
        cells = " | ".join(
            f"{mem[p]['cpu'][i]:,.0f} | {mem[p]['cpu'][i] / cpu:.1f}×" for p in PATHS
        )
        print(f"| {i + 1} | {cells} | {cpu:,.0f} ({wall:,.0f}) | {mem[PATHS[0]]['load'][i]:.1f} |")
    every = "met in every round" if min(wl.ratios) >= 10 else "not met in every round"
    print(f"\n{PATHS[0]} / whylogs: {wl.text()}; ≥ 10× {every}.\n")


def print_headlines(
    mem: Memory, agg: dict[str, dict[str, float]], kafka: tuple[float, float],
    wl: Rounds[tuple[float, float]] | None,
) -> None:  # fmt: skip
    p = PATHS[0]
    a, m = agg[p], statistics.median(mem[p]["cpu"])
    at = f"{p} path, load {a['load']:.1f}"
    headline("streaming", "aggregator, Kafka -> Redis exactly-once, one process, 25 features "
             f"({at}; docs/decisions/0002-aggregator-throughput.md)",
             f"{a['cpu_rate']:,.0f} events/CPU-s", target="≥ 200k/core",
             met=a["cpu_rate"] >= 200_000)  # fmt: skip
    headline("streaming", f"aggregator vs the in-memory decode + profile of the same events ({at})",
             f"{a['cpu_rate']:,.0f} events/CPU-s", f"in-memory: {m:,.0f}/CPU-s",
             f"{a['cpu_rate'] / m:.2f}×", "≥ 0.6× in-memory", a["cpu_rate"] >= 0.6 * m)  # fmt: skip
    consume = 1e6 / kafka[0]
    headline("streaming", f"aggregator vs Kafka consume alone ({at})",
             f"{a['cpu_rate']:,.0f} events/CPU-s", f"consume alone: {consume:,.0f}/CPU-s",
             f"{a['cpu_rate'] / consume:.2f}×", "≥ 0.5× consume alone",
             a["cpu_rate"] >= 0.5 * consume)  # fmt: skip
    if wl:
        whylogs = statistics.median(c for _, c in wl.peer)
        headline("streaming", "in-memory decode + profile vs whylogs on the same messages, "
                 f"per CPU-second ({p} path; median of interleaved rounds, spread)",
                 f"{wl.median_ours:,.0f} events/CPU-s", f"whylogs: {whylogs:,.0f} events/CPU-s",
                 wl.text(), "≥ 10× in every round", min(wl.ratios) >= 10)  # fmt: skip


def latency(stack: Stack, seconds: float, tmp: Path) -> None:
    lat = detection_latency(stack, seconds, tmp)
    if not lat:
        return
    p50, p99 = np.percentile(lat, [50, 99])
    headline("streaming", f"detection latency, 10 s windows + 1 s lateness, {len(lat)} "
             "windows (first drifted event -> alert), p50 / p99",
             f"{p50:.1f} / {p99:.1f} s", target="p99 ≤ 13 s", met=p99 <= 13.0)  # fmt: skip
    print("| what | figure |\n|---|---|")
    print(f"| detection latency, first drifted event -> its alert (10 s windows, 1 s lateness), "
          f"{len(lat)} windows | p50 {p50:.2f} s, p99 {p99:.2f} s, max {max(lat):.2f} s "
          f"(load {load():.1f}) |")  # fmt: skip


if __name__ == "__main__":
    main()
