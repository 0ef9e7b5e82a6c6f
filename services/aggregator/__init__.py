"""``modelmon run aggregator``: capture topic -> windowed partition profiles in Redis, exactly once.

Run any number of processes with the same group (``MODELMON_AGGREGATOR__GROUP``); Kafka spreads
the capture partitions over them. See docs/streaming.md and docs/configuration.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelmon.runtime import Runtime, service_command

if TYPE_CHECKING:
    from modelmon.settings import Settings

    from .service import Aggregator

#: librdkafka's pre-fetch queue (default 64 MiB): 16 MiB holds ~6 batches of 5,000 capture
#: events and keeps the aggregator's RSS ~50 MiB lower and steadier (bench/bench_memory.py).
PREFETCH_KBYTES = 16384


def _prefetch_limit(settings: Settings) -> dict[str, Any]:
    """Our pre-fetch limit, unless the deployment set its own (MODELMON_KAFKA__EXTRA)."""
    if "queued.max.messages.kbytes" in settings.kafka.librdkafka_config():
        return {}
    return {"queued.max.messages.kbytes": PREFETCH_KBYTES}


def build(rt: Runtime) -> Aggregator:
    from modelmon.adapters.kafka import make_consumer, make_producer
    from modelmon.adapters.lag import watch_lag
    from modelmon.adapters.redis import make_redis
    from modelmon.keys import Keys
    from modelmon.limits import EventTimeBounds
    from modelmon.redaction import RedactionPolicy, redact_bytes
    from modelmon.registry import ModelCatalog, Registry
    from modelmon.streaming.attribution_store import (
        AttributionAwareStore,
        AttributionIntake,
        AttributionStore,
    )
    from modelmon.streaming.native_decode import select
    from modelmon.streaming.partition import FlushCadence
    from modelmon.streaming.store import PartitionStore

    from .service import Aggregator, AggregatorOptions, AggregatorPorts, Readiness

    s, opts = rt.settings, rt.settings.aggregator
    select(s.native)  # MODELMON_NATIVE=0: the pure-Python decoder (logs which path is active)
    options = AggregatorOptions(
        topic=opts.topic or s.topics.capture, group=opts.group, batch_size=opts.batch_size,
        flush_events=opts.flush_events, flush_seconds=opts.flush_seconds,
        cadence=FlushCadence(opts.flush_bytes_per_event, opts.flush_max_seconds),
        max_features=s.limits.max_features, bounds=EventTimeBounds.of(s.limits),
    )  # fmt: skip
    readiness = Readiness(rt.health)
    redis, keys = make_redis(s.redis), Keys(s.redis.key_prefix)
    registry, redaction = Registry(redis, keys), RedactionPolicy.from_settings(s.capture)
    store = AttributionAwareStore(  # attribution partials beside the profiles (docs/attribution.md)
        PartitionStore(redis, keys, options.topic, options.retention_seconds),
        AttributionStore(redis, keys, options.topic, options.retention_seconds),
    )
    catalog = ModelCatalog(registry)
    ports = AggregatorPorts(
        consumer=make_consumer(
            s.kafka,
            options.group,
            **{"enable.partition.eof": False},
            error_cb=readiness.on_kafka_error,
            **_prefetch_limit(s),
        ),
        producer=make_producer(s.kafka),
        store=store,
        catalog=catalog,
        deadletter_topic=s.topics.deadletter,
        close=redis.close,
        generation=registry.generation,
        redact=lambda raw: redact_bytes(raw, redaction),
        attributions=AttributionIntake(store, catalog),
    )
    watch_lag(rt.registry, s.kafka, (options.group, [options.topic]))
    return Aggregator(options, ports, rt.stop, rt.registry, readiness)


command = service_command(
    "aggregator",
    build,
    help="Profile the capture stream per model, window and partition into Redis, exactly once.",
)
