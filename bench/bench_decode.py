"""Capture decoding: the native decoder vs the pure-Python one, at 1, 100 and 1,000 models mixed
in each batch (docs/decode.md, docs/decisions/0002-aggregator-throughput.md).

In memory (CPU time of this process, best of 3): decode (+ columns) alone, and decode + profile
+ serialize (the aggregator's loop without Kafka and Redis), per path and number of models. Then
the real aggregator (`modelmon run aggregator`, Kafka -> Redis exactly-once) per path and number
of models, in events per CPU-second of the process, beside Kafka consume alone.

Usage: .venv/bin/python bench/bench_decode.py [--events 200000] [--models 1,100,1000]
       [--aggregator-events 300000] [--skip-aggregator]
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from bench_streaming import (  # bench/ is the script's directory
    CATEGORICAL,
    CATEGORIES,
    NUMERIC,
    PARTITIONS,
    Stack,
    aggregator_env,
    config,
    cpu_seconds,
    encode,
    kafka_consume_cost,
    log,
    service,
    wait,
)
from modelmon.config import ModelConfig
from modelmon.keys import Keys
from modelmon.registry import Registry
from modelmon.streaming import native_decode
from modelmon.streaming.decode import TypedDecoder, decode_batch
from modelmon.streaming.partition import ModelPlan, PartitionAggregate
from modelmon.streaming.runtime import tune_collector
from modelmon.windows import WindowSpec

BATCH = 5000
T0 = 1_767_225_600_000


def model_events(n: int, models: int, seed: int = 1) -> Iterator[bytes]:
    """The streaming bench's events (25 features), model ``m{i % models}`` for event i."""
    rng = np.random.default_rng(seed)
    for lo in range(0, n, 10_000):
        m = min(10_000, n - lo)
        nums = rng.normal(50.0, 10.0, (m, len(NUMERIC))).round(3)
        cats = CATEGORIES[rng.integers(0, len(CATEGORIES), (m, len(CATEGORICAL)))]
        for i in range(m):
            inputs: dict[str, Any] = dict(zip(NUMERIC, nums[i].tolist(), strict=True))
            inputs.update(zip(CATEGORICAL, cats[i].tolist(), strict=True))
            yield encode(_name(lo + i, models), T0 + (lo + i) // 10, inputs)


def _name(i: int, models: int) -> str:
    return "bench" if models == 1 else f"m{i % models}"


def model_config(model_id: str) -> ModelConfig:
    return config(10, 5, 60).model_copy(update={"model_id": model_id})


def plans_for(models: int) -> dict[str, ModelPlan]:
    cfg = config(10, 5, 60)
    kinds = {f.name: f.kind for f in cfg.features}
    return {
        _name(i, models): ModelPlan(
            WindowSpec.from_config(cfg.window),
            kinds={n: k for n, k in kinds.items() if k},
            features=tuple(kinds),
            decoder=TypedDecoder(_name(i, models), kinds),
        )
        for i in range(models)
    }


def decoder_for(path: str, plans: dict[str, ModelPlan]) -> Callable[[list[bytes]], Any]:
    """What the aggregator's intake does on this path for a batch."""
    features = {m: p.features for m, p in plans.items()}
    if path == "native":
        return lambda chunk: native_decode.decode_mixed(chunk, features)
    if len(plans) == 1:
        [plan] = plans.values()
        assert plan.decoder is not None
        return lambda chunk: plan.decoder.decode(chunk) or decode_batch(chunk)  # type: ignore[union-attr]
    return decode_batch


def best_cpu(step: Callable[[], Any], rounds: int = 3) -> float:
    best = math.inf
    for _ in range(rounds):
        cpu = time.process_time()
        step()
        best = min(best, time.process_time() - cpu)
    return best


def in_memory(values: list[bytes], models: int, path: str) -> dict[str, float]:
    """CPU µs per event: decode alone, and decode + profile + serialize (flush every 100k)."""
    native_decode.select(path == "native")
    plans = plans_for(models)
    decode = decoder_for(path, plans)

    def decode_all() -> None:
        for lo in range(0, len(values), BATCH):
            decode(values[lo : lo + BATCH])

    def full() -> None:
        agg, since = PartitionAggregate(None), 0
        for lo in range(0, len(values), BATCH):
            got = decode(values[lo : lo + BATCH])
            batch = got[0] if isinstance(got, tuple) else got
            agg.add(batch, lo + BATCH - 1, plans)
            since += len(batch)
            if since >= 100_000:
                agg.flushed(agg.flush_plan())
                since = 0
        agg.flushed(agg.flush_plan())

    n = len(values)
    out = {"decode": best_cpu(decode_all) / n * 1e6, "full": best_cpu(full, 2) / n * 1e6}
    if path == "python" and models == 1:
        json_only = msgspec.json.Decoder(plans["bench"].decoder.struct_type)  # type: ignore[union-attr]
        out["json"] = best_cpu(lambda: list(map(json_only.decode, values))) / n * 1e6
    return out


def aggregator_rate(stack: Stack, n: int, models: int, path: str, tmp: Path) -> float:
    """Events per CPU-second of `modelmon run aggregator` over [n/4, n] flushed."""
    topic, prefix = stack.topic(PARTITIONS), stack.prefix()
    registry = Registry(stack.redis, Keys(prefix))
    for i in range(models):
        registry.register(model_config(_name(i, models)))
    stack.produce(topic, model_events(n, models))
    env = aggregator_env(prefix, topic, MODELMON_NATIVE="1" if path == "native" else "0")
    proc = service("aggregator", env, tmp / f"aggregator-{path}-{models}.log")
    try:
        wait(lambda: stack.flushed(prefix, topic) >= n // 4, 600)
        base, cpu = stack.flushed(prefix, topic), cpu_seconds(proc.pid)
        wait(lambda: stack.flushed(prefix, topic) >= n, 1200)
        return (n - base) / (cpu_seconds(proc.pid) - cpu)
    finally:
        proc.terminate()
        proc.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--models", default="1,100,1000")
    parser.add_argument("--aggregator-events", type=int, default=300_000)
    parser.add_argument("--skip-aggregator", action="store_true")
    args = parser.parse_args()
    counts = [int(m) for m in args.models.split(",")]
    paths = ["native", "python"] if native_decode.available() else ["python"]
    tune_collector()
    print("## Capture decoding: native vs pure Python, 1 to 1,000 models per batch\n")
    print(f"25 features, ~{len(next(model_events(1, 1)))}-byte events, batches of {BATCH:,}; "
          "CPU µs per event (best of 3 in memory; `load`: the 1-minute load average after the "
          "row, 2 cores). Events spread round-robin over the models, "
          "so each batch holds every model.\n")  # fmt: skip
    print("| models | path | decode + columns | decode + profile + serialize | "
          "profile + serialize (difference) | load |\n|---|---|---|---|---|---|")  # fmt: skip
    json_only = None
    for models in counts:
        values = list(model_events(args.events, models))
        for path in paths:
            log(f"in memory: {models} models, {path} ...")
            r = in_memory(values, models, path)
            json_only = r.get("json", json_only)
            print(f"| {models:,} | {path} | {r['decode']:.2f} | {r['full']:.2f} | "
                  f"{r['full'] - r['decode']:.2f} | {os.getloadavg()[0]:.1f} |")  # fmt: skip
    if json_only is not None:
        print(f"\nJSON decode alone (msgspec typed structs, 1 model): {json_only:.2f} µs/event.")
    if args.skip_aggregator:
        return
    stack = Stack()
    with tempfile.TemporaryDirectory(prefix="bench-decode-") as tmpdir:
        try:
            values = list(model_events(100_000, 1))
            kafka = kafka_consume_cost(stack, values)
            print(
                f"\nKafka consume alone: {kafka:.2f} µs/event ({1e6 / kafka:,.0f} events/CPU-s).\n"
            )
            print("| models | path | aggregator Kafka -> Redis, events/CPU-s | µs/event | load |\n"
                  "|---|---|---|---|---|")  # fmt: skip
            for models in counts:
                for path in paths:
                    log(f"aggregator: {models} models, {path} ...")
                    rate = aggregator_rate(
                        stack, args.aggregator_events, models, path, Path(tmpdir)
                    )
                    print(f"| {models:,} | {path} | {rate:,.0f} | {1e6 / rate:.2f} | "
                          f"{os.getloadavg()[0]:.1f} |")  # fmt: skip
        finally:
            stack.cleanup()
    print()


if __name__ == "__main__":
    os.environ.setdefault("MODELMON_LIMITS__PAST_SECONDS", str(100 * 365 * 86400))
    main()
