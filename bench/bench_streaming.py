"""Streaming benchmarks: aggregator throughput (Kafka -> Redis, exactly-once), the in-memory
decode + profile rate of the same events, whylogs on the same messages, detection latency with
10-second windows, and aggregator RSS at 1M vs 3M events.

Needs the local stack (`.venv/bin/modelmon stack up`); whylogs runs in .venvs/whylogs if
present (bench/peers/setup_peers.sh whylogs). Markdown on stdout, progress on stderr.

Usage: .venv/bin/python bench/bench_streaming.py [--events 1000000] [--rss-events 3000000]
       [--latency-seconds 90] [--skip-latency] [--skip-rss] [--skip-whylogs]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import orjson
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import NewTopic

from modelmon.adapters.kafka import make_admin, make_consumer
from modelmon.adapters.redis import make_redis
from modelmon.checks import Baseline
from modelmon.config import ModelConfig
from modelmon.keys import Keys
from modelmon.profile import ProfileTracker
from modelmon.registry import Registry
from modelmon.sagemaker.build import build_statistics, suggest_constraints
from modelmon.settings import Settings
from modelmon.streaming.decode import TypedDecoder, decode_batch
from modelmon.streaming.partition import ModelPlan, PartitionAggregate
from modelmon.streaming.reader import StateReader
from modelmon.streaming.runtime import tune_collector
from modelmon.windows import WindowSpec
from rounds import ROUNDS, interleaved  # bench/ is the script's directory
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


# -- throughput and memory ------------------------------------------------------------------
def in_memory_rate(values: list[bytes]) -> tuple[float, float]:
    """Decode + profile (+ serialize at the flush cadence), no Kafka, no Redis."""
    cfg = config(10, 5, 60)
    plan = ModelPlan(
        WindowSpec.from_config(cfg.window),
        kinds={f.name: f.kind for f in cfg.features if f.kind},
        features=tuple(f.name for f in cfg.features),
        decoder=TypedDecoder("bench", {f.name: f.kind for f in cfg.features}),
    )
    agg = PartitionAggregate(None)
    tune_collector()  # as the aggregator service does
    started, cpu = time.perf_counter(), time.process_time()
    since_flush = 0
    for lo in range(0, len(values), 5000):
        chunk = values[lo : lo + 5000]
        typed = plan.decoder.decode(chunk) if plan.decoder else None
        batch = typed if typed is not None else decode_batch(chunk)[0]
        agg.add(batch, lo + len(batch) - 1, {"bench": plan})
        since_flush += len(batch)
        if since_flush >= 100_000:
            agg.flushed(agg.flush_plan())
            since_flush = 0
    agg.flushed(agg.flush_plan())
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    return len(values) / wall, len(values) / cpu


def cost_breakdown(stack: Stack, values: list[bytes]) -> dict[str, float]:
    """CPU microseconds per event of each stage of the aggregator's hot loop, measured alone
    on the same events (best of 3 in memory; Kafka once, its client threads included)."""
    cfg = config(10, 5, 60)
    decoder = TypedDecoder("bench", {f.name: f.kind for f in cfg.features})
    structs = msgspec.json.Decoder(decoder.struct_type).decode

    def per_event(step: Callable[[list[bytes]], Any]) -> float:
        best = math.inf
        for _ in range(3):
            cpu = time.process_time()
            for lo in range(0, len(values), 5000):
                step(values[lo : lo + 5000])
            best = min(best, time.process_time() - cpu)
        return best / len(values) * 1e6

    out = {
        "kafka": kafka_consume_cost(stack, values),
        "json": per_event(lambda chunk: list(map(structs, chunk))),
        "columns": per_event(decoder.decode),
    }
    _, memory_cpu = in_memory_rate(values)
    out["profile"] = 1e6 / memory_cpu
    return out


def kafka_consume_cost(stack: Stack, values: list[bytes]) -> float:
    """CPU microseconds per message of consuming alone (librdkafka threads + Message objects),
    with the aggregator's consumer settings."""
    topic = stack.topic(PARTITIONS)
    stack.produce(topic, iter(values))
    consumer = make_consumer(stack.settings.kafka, f"bench-{uuid.uuid4().hex[:6]}")
    consumer.subscribe([topic])
    got, warm, cpu = 0, 0, 0.0
    deadline = time.monotonic() + 300
    while got < len(values) and time.monotonic() < deadline:
        msgs = consumer.consume(5000, 1.0)
        if msgs and not warm:  # first batch: group join and first fetch, not counted
            warm, cpu = len(msgs), time.process_time()
        got += len(msgs)
    spent = time.process_time() - cpu
    consumer.close()
    return spent / max(1, got - warm) * 1e6


def aggregator_run(stack: Stack, n: int, rss_n: int, tmp: Path) -> dict[str, float]:
    """The real service: rate over [100k, n] flushed, RSS at n and at rss_n events."""
    topic, prefix = stack.topic(PARTITIONS), stack.prefix()
    Registry(stack.redis, Keys(prefix)).register(config(10, 5, 60))
    log(f"producing {n:,} events to {topic} ...")
    t0 = 1_767_225_600_000
    stack.produce(topic, events(n, t0, 100, seed=1))  # 10k events/s of event time
    env = {"MODELMON_REDIS__KEY_PREFIX": prefix, "MODELMON_AGGREGATOR__TOPIC": topic,
           "MODELMON_AGGREGATOR__GROUP": f"bench-{uuid.uuid4().hex[:6]}",
           "MODELMON_ADMIN__PORT": "0", "MODELMON_LOG_LEVEL": "WARNING"}  # fmt: skip
    proc = service("aggregator", env, tmp / "aggregator.log")
    out: dict[str, float] = {}
    try:
        wait(lambda: stack.flushed(prefix, topic) >= 100_000, 300)
        start, base = time.perf_counter(), stack.flushed(prefix, topic)
        cpu = cpu_seconds(proc.pid)
        wait(lambda: stack.flushed(prefix, topic) >= n, 600)
        out["rate"] = (n - base) / (time.perf_counter() - start)
        out["cpu_rate"] = (n - base) / (cpu_seconds(proc.pid) - cpu)
        out["rss_1"] = rss_mib(proc.pid)
        if rss_n > n:
            log(f"producing {rss_n - n:,} more events ...")
            stack.produce(topic, events(rss_n - n, t0 + n // 10, 100, seed=2))
            wait(lambda: stack.flushed(prefix, topic) >= rss_n, 900)
            out["rss_2"] = rss_mib(proc.pid)
    finally:
        proc.terminate()
        proc.wait(60)
    return out


WHYLOGS_SCRIPT = r"""
import json, sys, time
import pandas as pd
import whylogs as why
lines = open(sys.argv[1], "rb").read().splitlines()
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
    env = {"MODELMON_REDIS__KEY_PREFIX": prefix, "MODELMON_AGGREGATOR__TOPIC": capture,
           "MODELMON_AGGREGATOR__GROUP": f"bench-{uuid.uuid4().hex[:6]}",
           "MODELMON_AGGREGATOR__FLUSH_SECONDS": "0.5", "MODELMON_DETECTOR__INTERVAL": "0.2",
           "MODELMON_ADMIN__PORT": "0",
           "MODELMON_DETECTOR__TOPIC": capture, "MODELMON_DETECTOR__ALERTS_TOPIC": alerts,
           "MODELMON_LOG_LEVEL": "WARNING"}  # fmt: skip
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
def print_breakdown(costs: dict[str, float], cpu_rate: float) -> None:
    total = 1e6 / cpu_rate
    rest = total - costs["kafka"] - costs["profile"]
    print("\nWhere an event's CPU time goes (microseconds per event, each stage measured "
          "alone on the same events; docs/decisions/0002-aggregator-throughput.md):\n")  # fmt: skip
    print("| stage | µs/event | share |\n|---|---|---|")
    rows = [
        ("Kafka consume alone (librdkafka threads + Message objects)", costs["kafka"]),
        ("JSON decode alone (msgspec, typed structs)", costs["json"]),
        ("JSON decode + columns (TypedDecoder.decode)", costs["columns"]),
        ("decode + columns + profile + serialize (in-memory loop)", costs["profile"]),
        ("rest: flush to Redis, offsets, metrics, GC (aggregator minus the two above)", rest),
        ("aggregator, all of it", total),
    ]
    for what, us in rows:
        print(f"| {what} | {us:.2f} | {us / total * 100:.0f}% |")
    floor = costs["kafka"] + costs["json"]
    print(f"\nKafka + JSON decode alone cap one core at {1e6 / floor:,.0f} events/s.\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rss-events", type=int, default=0,
                        help="also read RSS after this many events (bench_memory.py measures "
                             "1M -> 10M properly)")  # fmt: skip
    parser.add_argument("--memory-events", type=int, default=300_000)
    parser.add_argument("--latency-seconds", type=float, default=90)
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-rss", action="store_true")
    parser.add_argument("--skip-whylogs", action="store_true")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="interleaved peer rounds")
    args = parser.parse_args()
    stack = Stack()
    with tempfile.TemporaryDirectory(prefix="bench-streaming-") as tmpdir:
        tmp = Path(tmpdir)
        try:
            report(args, stack, tmp)
        finally:
            stack.cleanup()


def report(args: argparse.Namespace, stack: Stack, tmp: Path) -> None:
    values = list(events(args.memory_events, 1_767_225_600_000, 100, seed=1))
    log(f"in-memory decode + profile of {len(values):,} events, whylogs interleaved ...")
    walls: list[float] = []
    cpus: list[float] = []

    def ours() -> float:
        wall, cpu = in_memory_rate(values)
        walls.append(wall)
        cpus.append(cpu)
        return cpu

    wl = None  # rounds of (modelmon, whylogs), issue 20 item 5; ratio of CPU rates, which a
    if not args.skip_whylogs:  # busy machine moves far less than wall rates (both printed)
        wl = interleaved(ours, lambda: whylogs_rate(values[:200_000], tmp),
                         lambda a, b: a / b[1], rounds=args.rounds, log=log)  # fmt: skip
    if not walls:
        ours()
    memory, memory_cpu = statistics.median(walls), statistics.median(cpus)
    agg = aggregator_run(stack, args.events, 0 if args.skip_rss else args.rss_events, tmp)
    log("where the time goes: each stage alone ...")
    costs = cost_breakdown(stack, values[:200_000])
    print("## Streaming: aggregator and detector\n")
    print(
        f"25 features (21 numeric, 4 categorical), ~{len(values[0])}-byte JSON capture events, "
        f"{PARTITIONS} partitions, one aggregator process, 10-second windows.\n"
    )
    print(
        "Rates per wall-clock second and per CPU-second of the process (the machine is "
        "shared, so the CPU figure is the per-core rate).\n"
    )
    print("| what | figure |\n|---|---|")
    print(
        "| aggregator, Kafka -> Redis exactly-once (`modelmon run aggregator`) | "
        f"{agg['rate']:,.0f} events/s wall; {agg['cpu_rate']:,.0f} events/CPU-s |"
    )
    print(
        f"| in-memory decode + profile + serialize, same events | {memory:,.0f} events/s "
        f"wall; {memory_cpu:,.0f} events/CPU-s |"
    )
    print(
        f"| aggregator / in-memory | {agg['rate'] / memory:.2f}x wall; "
        f"{agg['cpu_rate'] / memory_cpu:.2f}x per CPU-s |"
    )
    if wl:
        wl_wall = [w for w, _ in wl.peer]
        wall_ratios = [a / b for a, b in zip(walls, wl_wall, strict=False)]
        print(
            f"| whylogs 1.6: json + DataFrame + why.log per 10k batch, same messages | "
            f"{statistics.median(c for _, c in wl.peer):,.0f} events/CPU-s, "
            f"{statistics.median(wl_wall):,.0f} events/s wall; in-memory is {wl.text()} "
            f"faster per CPU-s, {statistics.median(wall_ratios):.1f}× "
            f"({min(wall_ratios):.1f}–{max(wall_ratios):.1f}×) per wall second |"
        )
    headline("streaming", "aggregator, Kafka -> Redis exactly-once, one process, 25 features "
             "(docs/decisions/0002-aggregator-throughput.md)",
             f"{agg['cpu_rate']:,.0f} events/CPU-s", target="≥ 200k/core",
             met=agg["cpu_rate"] >= 200_000)  # fmt: skip
    headline("streaming", "aggregator vs the in-memory decode + profile of the same events",
             f"{agg['cpu_rate']:,.0f} events/CPU-s", f"in-memory: {memory_cpu:,.0f}/CPU-s",
             f"{agg['cpu_rate'] / memory_cpu:.2f}×", "≥ 0.6× in-memory",
             agg["cpu_rate"] >= 0.6 * memory_cpu)  # fmt: skip
    if wl:
        headline("streaming", "in-memory decode + profile vs whylogs on the same messages, "
                 "per CPU-second (median of interleaved rounds, spread)",
                 f"{wl.median_ours:,.0f} events/CPU-s",
                 f"whylogs: {statistics.median(c for _, c in wl.peer):,.0f} events/CPU-s",
                 wl.text(), "≥ 10× in every round", min(wl.ratios) >= 10)  # fmt: skip
    print(f"| aggregator RSS after {args.events:,} events | {agg['rss_1']:.0f} MiB |")
    print_breakdown(costs, agg["cpu_rate"])
    if "rss_2" in agg:
        print(
            f"| aggregator RSS after {args.rss_events:,} events | {agg['rss_2']:.0f} MiB "
            f"({(agg['rss_2'] / agg['rss_1'] - 1) * 100:+.1f}%) |"
        )
        growth = agg["rss_2"] / agg["rss_1"] - 1
        headline("streaming", f"aggregator RSS, {args.events:,} -> {args.rss_events:,} events",
                 f"{agg['rss_1']:.0f} -> {agg['rss_2']:.0f} MiB ({growth * 100:+.1f}%)",
                 target="flat ±10%", met=abs(growth) <= 0.10)  # fmt: skip
    if not args.skip_latency:
        lat = detection_latency(stack, args.latency_seconds, tmp)
        if lat:
            p50, p99 = np.percentile(lat, [50, 99])
            headline("streaming", f"detection latency, 10 s windows + 1 s lateness, {len(lat)} "
                     "windows (first drifted event -> alert), p50 / p99",
                     f"{p50:.1f} / {p99:.1f} s", target="p99 ≤ 13 s", met=p99 <= 13.0)  # fmt: skip
            print(
                f"| detection latency, first drifted event -> its alert (10 s windows, 1 s "
                f"lateness), {len(lat)} windows | p50 {p50:.2f} s, p99 {p99:.2f} s, "
                f"max {max(lat):.2f} s |"
            )
    print()


if __name__ == "__main__":
    main()
