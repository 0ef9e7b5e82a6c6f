"""``modelmon run detector``: evaluate complete windows against baselines, exactly once.

Several detectors may run; each window is evaluated by one of them. See docs/streaming.md and
docs/configuration.md (``MODELMON_DETECTOR__*``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelmon.runtime import Runtime, service_command

if TYPE_CHECKING:
    from .service import Detector


def build(rt: Runtime) -> Detector:
    import uuid

    from modelmon.adapters.kafka import make_consumer, make_producer
    from modelmon.adapters.redis import make_redis
    from modelmon.adapters.reports import ReportWriter
    from modelmon.adapters.results_tier import durable_results
    from modelmon.keys import Keys
    from modelmon.registry import Registry
    from modelmon.retry import RetryPolicy
    from modelmon.streaming.reader import StateReader
    from modelmon.streaming.results import ResultStore

    from .attribution import attribution_step
    from .finder import ShardOptions
    from .ports import DetectorPorts
    from .service import FAILED_RETRY, Detector, DetectorOptions

    s, opts = rt.settings, rt.settings.detector
    shard = ShardOptions(
        shards=opts.shards, shard_index=opts.shard_index, repair_seconds=opts.repair_seconds,
        repair_lookback_seconds=opts.repair_lookback_seconds,
    )  # fmt: skip
    options = DetectorOptions(
        topic=opts.topic or s.topics.capture,
        alerts_topic=opts.alerts_topic or s.topics.alerts,
        out=opts.out,
        interval_seconds=opts.interval,
        failed_retry=RetryPolicy(
            attempts=FAILED_RETRY.attempts, base_seconds=opts.failed_retry_seconds,
            max_seconds=max(opts.failed_retry_seconds, 3600.0),
        ),
        hot_retention_seconds=s.results.hot_retention_seconds,
        durable_retention_days=s.results.durable_retention_days,
        shard=shard, baseline_cache_bytes=opts.baseline_cache_bytes,
        partial_ttl_seconds=opts.partial_ttl_seconds,
    )  # fmt: skip
    redis, keys = make_redis(s.redis), Keys(s.redis.key_prefix)
    ports = DetectorPorts(
        consumer=make_consumer(s.kafka, "modelmon-detector-offsets"),
        producer=make_producer(s.kafka),
        reader=StateReader(redis, keys, options.topic),
        results=ResultStore(redis, keys, f"detector-{uuid.uuid4().hex[:12]}", options.topic),
        registry=Registry(redis, keys),
        write_reports=ReportWriter(s.aws, options.out).write,
        close=redis.close,
        attributions=attribution_step(
            s, redis, keys, options.topic, options.out, options.partial_ttl_seconds
        ),
        durable=durable_results(s),
    )
    return Detector(options, ports, rt.stop, rt.registry, rt.health)


command = service_command(
    "detector",
    build,
    help="Evaluate complete windows against each model's baseline; publish results and alerts.",
)
