"""What a load needs (pure; issue 23): cores, partitions, Redis memory and bandwidth, S3.

A rate x models x features x window x retention is turned into resources with per-unit costs
measured on the local stack (each ``Costs`` field names the benchmark that measured it;
docs/capacity.md holds the figures and the worked example). Every figure is an estimate from
those costs, linear in them: pass your own measurements (``modelmon capacity --help``) when
your hardware or data differ. Sizes are bytes, rates per second.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> int:
    """Seconds of ``90``, ``90s``, ``1m``, ``24h``, ``7d`` or ``2w``."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", text.lower())
    if match is None:
        raise ValueError(f"not a duration: {text!r} (e.g. 60s, 1m, 24h, 7d)")
    seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    if seconds <= 0:
        raise ValueError(f"a duration must be positive: {text!r}")
    return int(seconds)


@dataclass(frozen=True)
class Costs:
    """Measured per-unit costs (defaults: the local stack, 2-core AMD EPYC, 25 features)."""

    #: aggregator CPU per event at 25 features, 1 model, native decoder (bench_exact.py
    #: --aggregator-events 300000: 265,487 events/CPU-s, 3.77 us/event; 7.66 before issue 20)
    event_cpu_us: float = 3.77
    #: aggregator CPU per (model, batch) beyond the per-event cost: at 1,000 models the same
    #: bench gives 12.97 us/event, 9.2 us more, with ~6.7 events of a model per partition batch
    #: (batches of 20,000 over 3 partitions): 0.06 ms (1.5 ms before exact small windows,
    #: docs/decisions/0007)
    model_batch_cpu_ms: float = 0.06
    #: events per consume() batch (``aggregator.batch_size``)
    batch_size: int = 20_000
    #: detector CPU per evaluated window at 25 features, its baseline not cached
    #: (bench_detector_scale.py)
    window_cpu_ms: float = 36.0
    #: Redis bytes per hot window result per feature: result JSON + feature series + done
    #: marker (bench_detector_scale.py: MEMORY USAGE after a day of 1-minute windows)
    result_redis_bytes_per_feature: float = 1740.0
    #: Parquet bytes per result per feature in the durable tier (bench_detector_scale.py)
    result_parquet_bytes_per_feature: float = 160.0
    #: a partial's bytes per feature once its window saturates the sketches (~3k+ events;
    #: bench_profile_codec.py, profile format 3, 25 features of 3-decimal values: 60 KB at 20k
    #: events; full-precision values: 12,800 B; format 2 took 18,000 B whatever the values)
    partial_bytes_per_feature_max: float = 2_400.0
    #: a partial's fixed bytes per feature (names, counters, moments, sketch headers; the
    #: categorical sketches of a few categories: bench_profile_codec.py, 10 events: 86 B)
    partial_bytes_per_feature_base: float = 80.0
    #: a partial's bytes per feature per event below saturation (KLL values packed by
    #: floatpack: 1-2 B for 3-decimal values, 5-7 B full precision; format 2: 8 B + counts)
    partial_bytes_per_feature_event: float = 1.3
    #: how long the partials of an evaluated window stay (``detector.partial_ttl_seconds``)
    partial_ttl_seconds: int = 3600
    #: aggregator flush period (``aggregator.flush_seconds``)
    flush_seconds: float = 1.0
    #: share of a dirty partial written per flush (1: rewritten whole; a delta flush less)
    flush_fraction: float = 1.0
    #: target CPU utilisation when sizing cores and partitions
    utilisation: float = 0.7


@dataclass(frozen=True)
class Load:
    events_per_second: float
    models: int
    features: int
    window_seconds: int
    retention_seconds: int  # durable tier
    hot_retention_seconds: int = 86_400  # Redis
    partitions_per_model: int = 1  # capture keyed by model: each model on one partition
    rolling_windows: int = 1


@dataclass(frozen=True)
class Estimate:
    aggregator_cores: float
    detector_cores: float
    partitions: int
    windows_per_second: float
    redis_partials_bytes: float
    redis_results_bytes: float
    redis_bytes: float
    redis_write_bytes_per_second: float
    s3_puts_per_second: float
    s3_bytes_per_day: float
    s3_bytes_retained: float

    def as_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}


def partial_bytes(events: float, features: int, costs: Costs) -> float:
    """One partition's partial of one window (bounded by the sketches' saturation size)."""
    per_feature = min(costs.partial_bytes_per_feature_max, costs.partial_bytes_per_feature_base
                      + costs.partial_bytes_per_feature_event * events)  # fmt: skip
    return features * per_feature


def aggregator_cpu(load: Load, costs: Costs) -> tuple[float, int]:
    """CPU-seconds per second and partitions (one aggregator core each at the target
    utilisation). A batch is one partition's: keyed by model, it mixes about
    ``models x partitions_per_model / partitions`` models, and each costs
    ``model_batch_cpu_ms``; so partitions and cost are solved together (a fixed point)."""
    per_event = load.events_per_second * costs.event_cpu_us * load.features / 25 / 1e6
    batches = load.events_per_second / costs.batch_size

    def cpu(partitions: int) -> float:
        mixed = min(load.models * load.partitions_per_model / partitions, costs.batch_size)
        return per_event + batches * max(1.0, mixed) * costs.model_batch_cpu_ms / 1000

    low, high = 1, 1
    while math.ceil(cpu(high) / costs.utilisation) > high:  # cpu() falls as partitions grow
        low, high = high, high * 2
    while low < high:  # the fewest partitions whose aggregators keep up
        mid = (low + high) // 2
        if math.ceil(cpu(mid) / costs.utilisation) <= mid:
            high = mid
        else:
            low = mid + 1
    return cpu(high), high


def estimate(load: Load, costs: Costs = Costs()) -> Estimate:
    """Resources for ``load`` from ``costs`` (see the module docstring)."""
    feature_scale = load.features / 25
    agg_cpu, partitions = aggregator_cpu(load, costs)
    windows = load.models / load.window_seconds * (2 if load.rolling_windows > 1 else 1)
    det_cpu = windows * costs.window_cpu_ms * feature_scale / 1000
    events_per_partial = (
        load.events_per_second / load.models * load.window_seconds / load.partitions_per_model
    )
    partial = partial_bytes(events_per_partial, load.features, costs)
    alive = 1 + costs.partial_ttl_seconds / load.window_seconds  # open + evaluated, lingering
    partials = load.models * load.partitions_per_model * alive * partial
    per_result = costs.result_redis_bytes_per_feature * load.features
    hot_windows = load.hot_retention_seconds / load.window_seconds
    results = load.models * hot_windows * per_result * (2 if load.rolling_windows > 1 else 1)
    flushes = load.models * load.partitions_per_model / costs.flush_seconds  # dirty partials
    writes = flushes * partial * costs.flush_fraction + windows * per_result
    parquet = costs.result_parquet_bytes_per_feature * load.features
    return Estimate(
        aggregator_cores=agg_cpu / costs.utilisation,
        detector_cores=det_cpu / costs.utilisation,
        partitions=partitions,
        windows_per_second=windows,
        redis_partials_bytes=partials,
        redis_results_bytes=results,
        redis_bytes=partials + results,
        redis_write_bytes_per_second=writes,
        s3_puts_per_second=windows,
        s3_bytes_per_day=windows * parquet * 86_400,
        s3_bytes_retained=windows * parquet * load.retention_seconds,
    )
