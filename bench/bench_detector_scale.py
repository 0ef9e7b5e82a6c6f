"""The detector at 1,000 models (issue 23): CPU and RSS per completed window, the cost of a pass
with nothing new, and Redis / S3 bytes per model-week of results.

Each run is a child process (so RSS is its own): 1,000 models with 25 features (21 numeric, 4
categorical) each get a 1.x MB baseline (20k rows) and ``--windows`` windows of partials
(50 rows each, one partition per model as keyed traffic puts them) written to the local Redis
in the aggregator's key layout; a real detector (Redis reader, results and registry; a producer
that acknowledges without a broker, so Kafka round trips are not counted) evaluates them all.
Reported: CPU-seconds per evaluated window, RSS with the baseline LRU at ``--cache-mib``, the
CPU of one idle pass over 1,000 models (what replaced the minute scan), and Redis memory per
model-week: MEMORY USAGE of a model's result sorted set, its 25 feature series and its done
markers after a day of 1-minute windows (1,440), times 7; the Parquet bytes of one result.

Needs the local Redis (`.venv/bin/modelmon stack up`). Markdown on stdout, progress on stderr.
Usage: .venv/bin/python bench/bench_detector_scale.py [--models 1000] [--windows 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry

from bench_streaming import CATEGORICAL, NUMERIC, config, rss_mib
from modelmon.adapters.fakes import FakeConsumer, FakeKafka
from modelmon.adapters.redis import make_redis
from modelmon.checks import Baseline
from modelmon.keys import Keys, WindowRef
from modelmon.profile import ProfileTracker
from modelmon.registry import Registry
from modelmon.sagemaker.build import build_statistics, suggest_constraints
from modelmon.service import Health, StopFlag
from modelmon.settings import Settings
from modelmon.streaming.reader import StateReader
from modelmon.streaming.results import ResultStore
from modelmon.streaming.tiers import encode
from modelmon_services.detector.ports import DetectorPorts
from modelmon_services.detector.service import Detector, DetectorOptions
from summary import headline

T0 = 1_767_225_600_000
SIZE_MS = 60_000
PARTITIONS = 3
TOPIC = "bench-detector"


def log(msg: str) -> None:
    print(f"[bench_detector_scale] {msg}", file=sys.stderr, flush=True)


class AckProducer:
    """Acknowledges every message at once (no broker): Kafka is not what is measured."""

    def produce(self, *args: Any, **kwargs: Any) -> None:
        if (done := kwargs.get("on_delivery")) is not None:
            done(None, None)

    def poll(self, timeout: float = -1) -> int:
        return 0

    def flush(self, timeout: float = -1) -> int:
        return 0


def _profile(rows: int, seed: int) -> Any:
    rng = np.random.default_rng(seed)
    tracker = ProfileTracker(
        {**dict.fromkeys(NUMERIC, "numeric"), **dict.fromkeys(CATEGORICAL, "categorical")}
    )
    cols: dict[str, list[Any]] = {n: rng.normal(50, 10, rows).round(3).tolist() for n in NUMERIC}
    cats = np.array(["alpha", "beta", "gamma", "delta", "epsilon", "zeta"])
    cols |= {c: cats[rng.integers(0, 6, rows)].tolist() for c in CATEGORICAL}
    tracker.update(cols)
    return tracker.snapshot()


def baseline_files(tmp: Path) -> dict[str, bytes]:
    profile = _profile(20_000, 9)
    stats = build_statistics(profile, [*NUMERIC, *CATEGORICAL])
    Baseline(stats, suggest_constraints(stats), profile).save(tmp)
    return {p.name: p.read_bytes() for p in tmp.iterdir()}


def seed(client: Any, keys: Keys, models: list[str], windows: int, tmp: Path) -> None:
    """Registry, baselines and partials in the aggregator's layout (one partition each)."""
    registry = Registry(client, keys)
    files = baseline_files(tmp)
    log(f"baseline: {sum(len(b) for b in files.values()) / 2**20:.2f} MiB stored per model")
    blobs = [_profile(50, s).serialize() for s in range(8)]
    for m in models:
        registry.register(config(60, 0, 3600).model_copy(update={"model_id": m}))
        registry.push_baseline(m, files, "bench")
    pipe = client.pipeline(transaction=False)
    last = T0 + windows * SIZE_MS
    for k, m in enumerate(models):
        p = k % PARTITIONS
        for w in range(windows):
            ref = WindowRef(m, SIZE_MS, T0 + w * SIZE_MS)
            pipe.set(keys.partial(TOPIC, p, ref), blobs[(k + w) % len(blobs)], ex=86400)
            pipe.zadd(keys.partition_windows(TOPIC, p), {ref.member(): ref.end_ms})
        pipe.hset(keys.partition_state(TOPIC, p), f"wm:{m}", last + 1)
    now = int(time.time() * 1000)
    for p in range(PARTITIONS):
        state = {"offset": 0, "watermark": last + 1, "updated": now}
        pipe.hset(keys.partition_state(TOPIC, p), mapping=state)
    pipe.execute()


def child(args: argparse.Namespace) -> dict[str, float]:
    settings = Settings()
    client = make_redis(settings.redis)
    keys = Keys(f"bench-det-{uuid.uuid4().hex[:8]}")
    models = [f"model-{i:04d}" for i in range(args.models)]
    tmp = Path(args.tmp)
    try:
        log(f"seeding {args.models} models x {args.windows} windows")
        seed(client, keys, models, args.windows, tmp)
        ports = DetectorPorts(
            consumer=FakeConsumer(FakeKafka(PARTITIONS)), producer=AckProducer(),  # type: ignore[arg-type]
            reader=StateReader(client, keys, TOPIC),
            results=ResultStore(client, keys, "bench", TOPIC),
            registry=Registry(client, keys), write_reports=lambda u, f: None,
        )  # fmt: skip
        options = DetectorOptions(TOPIC, "alerts", baseline_cache_bytes=args.cache_mib * 2**20)
        det = Detector(options, ports, StopFlag(), CollectorRegistry(), Health())
        rss0, cpu0 = rss_mib(os.getpid()), time.process_time()
        evaluated = det.step()
        cpu = time.process_time() - cpu0
        idle0 = time.process_time()
        passes = 5
        for _ in range(passes):
            assert det.step() == 0
        idle = (time.process_time() - idle0) / passes
        out = {
            "evaluated": evaluated, "cpu_per_window_ms": cpu / max(evaluated, 1) * 1000,
            "rss_before": rss0, "rss_after": rss_mib(os.getpid()),
            "cache_mib": det._baselines.bytes / 2**20, "idle_pass_ms": idle * 1000,
            "index_reads": det.metrics.index_reads._value.get(),
        }  # fmt: skip
        out |= redis_per_week(client, keys, det)
        out["baseline_parse_ms"] = parse_ms(Registry(client, keys).baseline_files(models[0]))
        return out
    finally:
        for key in client.scan_iter(f"{keys.prefix}:*", count=1000):
            client.delete(key)


def parse_ms(files: dict[str, bytes] | None) -> float:
    """CPU of parsing one stored baseline (what a cache miss costs a window)."""
    assert files is not None
    start = time.process_time()
    for _ in range(10):
        Baseline.from_files(files, "bench")
    return (time.process_time() - start) / 10 * 1000


def redis_per_week(client: Any, keys: Keys, det: Detector) -> dict[str, float]:
    """A day of 1-minute results for one model (copies of a real one), MEMORY USAGE x 7."""
    store = ResultStore(client, keys, "bench", TOPIC)
    [first] = store.results("model-0000")[:1]
    model = "week-model"
    for i in range(1440):
        moved = first.model_copy(
            update={"model_id": model, "window_start": first.window_start + timedelta(minutes=i),
                    "window_end": first.window_end + timedelta(minutes=i)}
        )  # fmt: skip
        store.save_result(moved, False, 7 * 86_400_000)
        store.finish(WindowRef(model, SIZE_MS, T0 + i * SIZE_MS), 0, 86400)
    used = client.memory_usage(keys.results(model), samples=0) or 0
    series = sum(
        client.memory_usage(keys.feature_series(model, f), samples=0) or 0 for f in first.features
    )
    done = client.memory_usage(keys.done(WindowRef(model, SIZE_MS, T0)), samples=0) or 0
    per_day = used + series + done * 1440
    return {
        "results_day": used, "series_day": series, "done_day": done * 1440,
        "per_model_week": per_day * 7, "parquet_bytes": len(encode(first)),
        "result_json": len(first.model_dump_json()),
    }  # fmt: skip


def run_child(models: int, windows: int, cache_mib: int) -> dict[str, float]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, __file__, "--child", "--models", str(models), "--windows",
               str(windows), "--cache-mib", str(cache_mib), "--tmp", tmp]  # fmt: skip
        out = subprocess.run(cmd, check=True, capture_output=True, text=True)
        sys.stderr.write(out.stderr)
        return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--windows", type=int, default=3)
    parser.add_argument("--cache-mib", type=int, default=256)
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--tmp", default="")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return
    runs = {mib: run_child(args.models, args.windows, mib) for mib in (256, 32)}
    big = runs[256]
    print("## Detector at scale (bench_detector_scale.py)\n")
    print(f"{args.models:,} models x {args.windows} windows, 25 features, 50 rows a window, "
          "1-minute windows; real Redis, no Kafka round trips.\n")  # fmt: skip
    print("| baseline LRU | windows | CPU ms / window | RSS before -> after | LRU held | "
          "idle pass CPU | ranged index reads |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for mib, r in runs.items():
        print(f"| {mib} MiB | {r['evaluated']:,.0f} | {r['cpu_per_window_ms']:.1f} | "
              f"{r['rss_before']:.0f} -> {r['rss_after']:.0f} MiB | {r['cache_mib']:.0f} MiB | "
              f"{r['idle_pass_ms']:.1f} ms | {r['index_reads']:,.0f} |")  # fmt: skip
    mib = 2**20
    print("\nRedis per model (1-minute windows, 25 features), MEMORY USAGE after one day:\n")
    print("| results zset | 25 feature series | done markers | per model-day | per model-week |")
    print("|---|---|---|---|---|")
    day = big["per_model_week"] / 7
    print(f"| {big['results_day'] / mib:.2f} MiB | {big['series_day'] / mib:.2f} MiB | "
          f"{big['done_day'] / mib:.2f} MiB | {day / mib:.2f} MiB | "
          f"{big['per_model_week'] / mib:.1f} MiB |")  # fmt: skip
    print(f"\nOne result: {big['result_json']:,.0f} B of JSON; {big['parquet_bytes']:,.0f} B "
          "as its Parquet file in the durable tier. Parsing one baseline (a cache miss): "
          f"{big['baseline_parse_ms']:.1f} ms CPU.")  # fmt: skip
    headline("detector", f"CPU per evaluated window, {args.models:,} models x 25 features",
             f"{big['cpu_per_window_ms']:.1f} ms")  # fmt: skip
    headline("detector", f"RSS after evaluating {args.models:,} models (LRU 256 / 32 MiB)",
             f"{big['rss_after']:.0f} / {runs[32]['rss_after']:.0f} MiB")  # fmt: skip
    headline("detector", "Redis per model-week of results (25 features, 1-minute windows)",
             f"{big['per_model_week'] / mib:.1f} MiB")  # fmt: skip


if __name__ == "__main__":
    main()
