"""``modelmon run aggregator``: capture topic -> windowed partition profiles in Redis, exactly once.

Run any number of processes with the same group (``MODELMON_AGGREGATOR__GROUP``); Kafka spreads
the capture partitions over them. See docs/streaming.md and docs/configuration.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelmon.runtime import Runtime, service_command

if TYPE_CHECKING:
    from .service import Aggregator


def build(rt: Runtime) -> Aggregator:
    from .service import Aggregator, AggregatorOptions

    opts = rt.settings.aggregator
    options = AggregatorOptions(
        topic=opts.topic or rt.settings.topics.capture,
        group=opts.group,
        batch_size=opts.batch_size,
        flush_events=opts.flush_events,
        flush_seconds=opts.flush_seconds,
    )
    return Aggregator(rt.settings, options, rt.stop, rt.registry)


command = service_command(
    "aggregator",
    build,
    help="Profile the capture stream per model, window and partition into Redis, exactly once.",
)
