"""The streaming benchmark's in-memory loops and stage-by-stage costs, per decode path.

Each loop does what the aggregator does with a batch (docs/decisions/0002-aggregator-throughput.md):
decode it on the path the aggregator takes (``native``: the Rust decoder, when built;
``python``: the model's typed msgspec decoder), fold it into a partition aggregate in the
aggregator's consume batches, and serialize the partials at its flush cadence — no Kafka, no
Redis. Costs are CPU microseconds per event of this process (per core on a shared machine).
"""

from __future__ import annotations

import math
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

import msgspec
import numpy as np

from modelmon.adapters.kafka import make_consumer
from modelmon.config import ModelConfig
from modelmon.settings import AggregatorSettings, Settings
from modelmon.streaming import native_decode
from modelmon.streaming.decode import DecodedBatch, TypedDecoder, decode_batch
from modelmon.streaming.feature_cap import capped_columns
from modelmon.streaming.partition import ModelPlan, PartitionAggregate
from modelmon.streaming.runtime import tune_collector
from modelmon.windows import WindowSpec
from modelmon_services.aggregator import PREFETCH_KBYTES

#: The aggregator's defaults: events per consume() batch, and per flush.
BATCH = AggregatorSettings().batch_size
FLUSH_EVENTS = AggregatorSettings().flush_events
#: The decode paths this build has, the aggregator's own first.
PATHS = ("native", "python") if native_decode.available() else ("python",)


def load() -> float:
    """The 1-minute load average now (2 cores: above ~2 the figures beside it wait for CPU)."""
    return os.getloadavg()[0]


def plan_of(cfg: ModelConfig) -> ModelPlan:
    kinds = {f.name: f.kind for f in cfg.features}
    return ModelPlan(
        WindowSpec.from_config(cfg.window),
        kinds={n: k for n, k in kinds.items() if k},
        features=tuple(kinds),
        decoder=TypedDecoder(cfg.model_id, kinds),
    )


def decoder(path: str, cfg: ModelConfig, plan: ModelPlan) -> Callable[[list[bytes]], Any]:
    """The aggregator intake's decode of a batch on this path (streaming/native_decode.py)."""
    native_decode.select(path == "native")
    if path == "native":
        features = {cfg.model_id: plan.features}
        return lambda chunk: native_decode.decode_mixed(chunk, features)[0]  # type: ignore[index]
    typed = plan.decoder
    assert typed is not None
    return lambda chunk: typed.decode(chunk) or decode_batch(chunk)[0]


def in_memory_rate(
    values: list[bytes], cfg: ModelConfig, path: str, batch: int = BATCH
) -> tuple[float, float]:
    """Decode + columns + profile + serialize (at the flush cadence), ``batch`` events folded
    at a time: events per wall second and per CPU-second."""
    plan = plan_of(cfg)
    plans, decode = {cfg.model_id: plan}, decoder(path, cfg, plan)
    agg = PartitionAggregate(None)
    tune_collector()  # as the aggregator service does
    started, cpu = time.perf_counter(), time.process_time()
    since_flush = 0
    for lo in range(0, len(values), batch):
        decoded = decode(values[lo : lo + batch])
        agg.add(decoded, lo + len(decoded) - 1, plans)
        since_flush += len(decoded)
        if since_flush >= FLUSH_EVENTS:
            agg.flushed(agg.flush_plan())
            since_flush = 0
    agg.flushed(agg.flush_plan())
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    return len(values) / wall, len(values) / cpu


def per_event(values: list[bytes], step: Callable[[list[bytes]], Any], rounds: int = 3) -> float:
    """Best of ``rounds`` CPU µs per event of ``step`` over the values in aggregator batches."""
    best = math.inf
    for _ in range(rounds):
        cpu = time.process_time()
        for lo in range(0, len(values), BATCH):
            step(values[lo : lo + BATCH])
        best = min(best, time.process_time() - cpu)
    return best / len(values) * 1e6


def stage_costs(
    values: list[bytes], cfg: ModelConfig, path: str, partitions: int = 3
) -> dict[str, float]:
    """CPU µs per event, each measured alone on the same events (best of 3): decode alone,
    decode + the columns the profile takes, the whole in-memory loop, and that loop folding
    the chunks the aggregator folds: a consume batch split over ``partitions`` (the bench
    topic's), each partition's share decoded and folded on its own (services/aggregator)."""
    plan = plan_of(cfg)
    decode = decoder(path, cfg, plan)

    def with_columns(chunk: list[bytes]) -> None:
        batch: DecodedBatch = decode(chunk)
        every = np.arange(len(batch), dtype=np.int64)
        capped_columns(batch, every, (), plan.features, plan.max_features, cfg.model_id)

    if path == "native":
        alone = per_event(values, decode)
    else:  # msgspec into the typed structs, no columns
        structs = msgspec.json.Decoder(plan.decoder.struct_type).decode  # type: ignore[union-attr]
        alone = per_event(values, lambda chunk: list(map(structs, chunk)))
    full = min(1e6 / in_memory_rate(values, cfg, path)[1] for _ in range(3))
    chunk = max(1, BATCH // partitions)
    chunked = min(1e6 / in_memory_rate(values, cfg, path, chunk)[1] for _ in range(3))
    return {"decode": alone, "columns": per_event(values, with_columns), "profile": full,
            "chunked": chunked}  # fmt: skip


def kafka_consume_cost(stack: Any, values: list[bytes]) -> float:
    """CPU µs per message of consuming alone (librdkafka's threads + one ``Message`` per
    record), with the aggregator's consumer settings and batch size."""
    topic = stack.topic(3)
    stack.produce(topic, iter(values))
    settings: Settings = stack.settings
    consumer = make_consumer(
        settings.kafka, f"bench-{uuid.uuid4().hex[:6]}",
        **{"enable.partition.eof": False, "queued.max.messages.kbytes": PREFETCH_KBYTES},
    )  # fmt: skip
    consumer.subscribe([topic])
    got, warm, cpu = 0, 0, 0.0
    deadline = time.monotonic() + 300
    while got < len(values) and time.monotonic() < deadline:
        msgs = consumer.consume(BATCH, 1.0)
        if msgs and not warm:  # first batch: group join and first fetch, not counted
            warm, cpu = len(msgs), time.process_time()
        got += len(msgs)
    spent = time.process_time() - cpu
    consumer.close()
    return spent / max(1, got - warm) * 1e6


def print_stages(
    kafka: tuple[float, float], costs: dict[str, dict[str, float]], agg: dict[str, dict[str, float]]
) -> None:
    """The stage table, native and pure-Python side by side, and what the targets need."""
    paths = [p for p in PATHS if p in costs and p in agg]
    totals = {p: 1e6 / agg[p]["cpu_rate"] for p in paths}
    print("\nWhere an event's CPU time goes (µs per event, each stage measured alone on the same "
          "events, best of 3; cumulative rows; the load average beside each; "
          "docs/decisions/0002-aggregator-throughput.md):\n")  # fmt: skip
    head = " | ".join(f"{p} µs/event | share | load" for p in paths)
    print(f"| stage | {head} |\n|---|" + "---|---|---|" * len(paths))
    rows: list[tuple[str, Callable[[str], tuple[float, float]]]] = [
        ("Kafka consume alone (librdkafka threads + a Message per record; aggregator settings)",
         lambda p: kafka),
        ("decode alone (native: bytes -> column blocks; python: msgspec typed structs)",
         lambda p: (costs[p]["decode"], costs[p]["load"])),
        ("decode + columns (what the profile takes: Numbers, categorical arrays)",
         lambda p: (costs[p]["columns"], costs[p]["load"])),
        ("+ profile + serialize (the in-memory loop: decode + profile)",
         lambda p: (costs[p]["profile"], costs[p]["load"])),
        (f"+ folding each partition's share of a batch apart ({BATCH:,} / partitions)",
         lambda p: (costs[p]["chunked"], costs[p]["load"])),
        ("rest: flush to Redis, offsets, metrics, intake (aggregator - consume - the row above)",
         lambda p: (totals[p] - kafka[0] - costs[p]["chunked"], agg[p]["load"])),
        ("aggregator, all of it (Kafka -> Redis exactly-once)",
         lambda p: (totals[p], agg[p]["load"])),
    ]  # fmt: skip
    for what, of in rows:
        cells = []
        for p in paths:
            us, at = of(p)
            cells.append(f"{us:.2f} | {us / totals[p] * 100:.0f}% | {at:.1f}")
        print(f"| {what} | {' | '.join(cells)} |")
    p = paths[0]
    floor = kafka[0] + costs[p]["decode"]
    print(f"\nKafka consume + {p} decode alone cap one core at {1e6 / floor:,.0f} events/s. "
          f"The 0.5x-consume target needs the aggregator at <= {2 * kafka[0]:.2f} µs/event, i.e. "
          f"decode + profile + rest <= {kafka[0]:.2f} (now {totals[p] - kafka[0]:.2f}); "
          f"200k/CPU-s needs <= 5.00 µs/event in all.\n")  # fmt: skip
