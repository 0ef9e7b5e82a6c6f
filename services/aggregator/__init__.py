"""``modelmon run aggregator``: capture topic -> windowed partition profiles in Redis, exactly once.

Run any number of processes with the same ``--group``; Kafka spreads the capture partitions
over them. Options also read ``MODELMON_AGGREGATOR_*`` variables. See docs/streaming.md.
"""

from __future__ import annotations

import click


@click.command(name="aggregator")
@click.option("--topic", envvar="MODELMON_AGGREGATOR_TOPIC", help="Default: the capture topic.")
@click.option(
    "--group", envvar="MODELMON_AGGREGATOR_GROUP", default="modelmon-aggregator",
    show_default=True, help="Kafka consumer group shared by all aggregators.",
)  # fmt: skip
@click.option(
    "--batch-size", envvar="MODELMON_AGGREGATOR_BATCH_SIZE", type=int, default=5000,
    show_default=True, help="Messages per consume() call.",
)  # fmt: skip
@click.option(
    "--flush-events", envvar="MODELMON_AGGREGATOR_FLUSH_EVENTS", type=int, default=100_000,
    show_default=True, help="Flush to Redis after this many messages...",
)  # fmt: skip
@click.option(
    "--flush-seconds", envvar="MODELMON_AGGREGATOR_FLUSH_SECONDS", type=float, default=1.0,
    show_default=True, help="...or after this many seconds, whichever comes first.",
)  # fmt: skip
@click.option(
    "--admin-host", envvar="MODELMON_AGGREGATOR_ADMIN_HOST", default="127.0.0.1",
    show_default=True, help="/healthz /readyz /metrics address (0.0.0.0: every interface).",
)  # fmt: skip
@click.option(
    "--admin-port", envvar="MODELMON_AGGREGATOR_ADMIN_PORT", type=int, default=9110,
    show_default=True, help="/healthz /readyz /metrics port (0: any free port).",
)  # fmt: skip
def command(
    topic: str | None, group: str, batch_size: int, flush_events: int, flush_seconds: float,
    admin_host: str, admin_port: int,
) -> None:  # fmt: skip
    """Profile the capture stream per model, window and partition into Redis, exactly once."""
    from prometheus_client import CollectorRegistry

    from modelmon import logs
    from modelmon.service import AdminServer, StopFlag
    from modelmon.settings import Settings

    from .service import Aggregator, AggregatorOptions

    settings = Settings()
    logs.configure(settings.log_level, settings.log_json)
    options = AggregatorOptions(
        topic=topic or settings.topics.capture,
        group=group,
        batch_size=batch_size,
        flush_events=flush_events,
        flush_seconds=flush_seconds,
    )
    stop = StopFlag().install()
    registry = CollectorRegistry()
    service = Aggregator(settings, options, stop, registry)
    admin = AdminServer(service.health, registry, admin_host, admin_port).start()
    try:
        service.run()
    finally:
        admin.stop()
