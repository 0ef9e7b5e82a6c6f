"""``modelmon topics create``: modelmon's Kafka topics on a real cluster, with their partitions.

The local stack creates them itself; on your own Kafka run this once (it is idempotent: a
topic that exists is left as it is and reported). Partitions per topic:

- capture (default 6): the key is the model id; one aggregator and one archiver per partition
  at most in their groups, so this is the scale-out limit of profiling and archiving.
- alerts (3), deadletter (3): low volume; more partitions only add alerting consumers.
- labels (6): ground-truth labels, keyed like the capture topic.
"""

from __future__ import annotations

import click

ROLES = {
    "capture": "inference events, key = model id: at most this many aggregators/archivers",
    "alerts": "alerts and evaluated windows for alerting and your own subscribers",
    "deadletter": "input no consumer could handle, with the reason",
    "labels": "ground-truth labels, key = model id",
}


@click.group()
def topics() -> None:
    """Create modelmon's Kafka topics on your own cluster."""


@topics.command()
@click.option(
    "--capture-partitions",
    type=click.IntRange(min=1),
    default=None,
    help="Default: MODELMON_TOPICS__CAPTURE_PARTITIONS (6).",
)
@click.option(
    "--replication-factor",
    type=click.IntRange(min=1),
    default=None,
    help="Default: MODELMON_TOPICS__REPLICATION_FACTOR (1; use 3 on a real cluster).",
)
def create(capture_partitions: int | None, replication_factor: int | None) -> None:  # fmt: skip
    """Create the capture, alerts, dead-letter and labels topics that are missing."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    from modelmon.adapters.kafka import ensure_topics
    from modelmon.cli.reach import fail, kafka_down, quiet_kafka, require_kafka
    from modelmon.errors import DependencyUnavailableError
    from modelmon.settings import Settings

    settings = Settings()
    require_kafka("topics", settings.kafka)
    update: dict[str, int] = {}
    if capture_partitions is not None:
        update["capture_partitions"] = capture_partitions
    if replication_factor is not None:
        update["replication_factor"] = replication_factor
    wanted = settings.topics.model_copy(update=update)
    admin = AdminClient({**settings.kafka.librdkafka_config(), **quiet_kafka()})
    try:
        before = set(admin.list_topics(timeout=10).topics)
        made = ensure_topics(admin, wanted)
    except KafkaException:
        fail("topics", kafka_down(settings.kafka))
    except DependencyUnavailableError as exc:
        fail("topics", str(exc))
    for kind, role in ROLES.items():
        name = getattr(wanted, kind)
        state = "exists " if name in before else "created"
        want = getattr(wanted, f"{kind}_partitions")
        parts = made.get(name, 0)
        note = (
            f" (asked {want}: partitions are never removed, add with kafka-topics)"
            if parts < want and name in before
            else ""
        )
        click.echo(f"{state} {name:<28} {parts:>3} partitions  {role}{note}")
