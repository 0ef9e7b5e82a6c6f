"""``modelmon rebuild``: restore the registry (configs and baselines) into an empty Redis from
its compacted Kafka backup (``modelmon.registry.v1``), after Redis lost its state (issue 19).

Then restart the services: with no stored offsets, the aggregator replays the capture topic
from its start and rebuilds every window still in the topic (docs/streaming.md says how much
capture retention that needs).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

import click

from modelmon.errors import ModelmonError


def backup(settings: Any, records: Iterable[tuple[bytes, bytes]]) -> None:
    """Write registry records to the backup topic; a warning (not a failure) when Kafka does
    not take them: the registry in Redis is already updated."""
    from modelmon.adapters.kafka import make_admin, make_producer
    from modelmon.registry_log import ensure_topic, write

    topic = settings.topics.registry
    try:
        ensure_topic(make_admin(settings.kafka), topic, settings.topics.replication_factor)
        write(make_producer(settings.kafka), topic, records)
    except ModelmonError as exc:
        click.echo(f"warning: not backed up to {topic} (modelmon rebuild needs it): {exc}",
                   err=True)  # fmt: skip


@click.command()
def rebuild() -> None:
    """Restore models and baselines from the registry backup topic into Redis."""
    from modelmon.adapters.kafka import make_consumer
    from modelmon.adapters.redis import make_redis
    from modelmon.keys import Keys
    from modelmon.registry import Registry
    from modelmon.registry_log import read_all, restore
    from modelmon.settings import Settings

    settings = Settings()
    registry = Registry(make_redis(settings.redis), Keys(settings.redis.key_prefix))
    consumer = make_consumer(settings.kafka, "modelmon-rebuild", **{"enable.auto.commit": False})
    try:
        latest = read_all(consumer, settings.topics.registry)
        done = restore(latest, registry, lambda what: click.echo(f"restored {what}", err=True))
    except ModelmonError as exc:
        click.echo(f"modelmon rebuild: {exc}", err=True)
        sys.exit(1)
    finally:
        consumer.close()
    click.echo(
        f"restored {len(done.configs)} models and {len(done.baselines)} baselines from "
        f"{settings.topics.registry}; now restart the services (they replay the capture topic)"
    )
