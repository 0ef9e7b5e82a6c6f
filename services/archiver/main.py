"""``modelmon run archiver``: wiring from Settings to the loop."""

from __future__ import annotations

import logging

import click

from modelmon import logs
from modelmon.adapters.kafka import make_consumer, make_producer
from modelmon.adapters.redis import make_redis
from modelmon.archive.codec import load_key
from modelmon.archive.store import open_store
from modelmon.keys import Keys
from modelmon.redaction import RedactionPolicy
from modelmon.registry import ModelCatalog, Registry
from modelmon.service import AdminServer, Health, StopFlag
from modelmon.settings import Settings

from .service import Archiver

log = logging.getLogger(__name__)


def build(settings: Settings, health: Health) -> Archiver:
    arch = settings.archive
    store, prefix = open_store(settings, arch.destination)
    key = load_key(arch.encryption_key.get_secret_value()) if arch.encryption_key else None
    return Archiver(
        make_consumer(settings.kafka, arch.group_id),
        make_producer(settings.kafka),
        store,
        topic=settings.topics.capture,
        deadletter_topic=settings.topics.deadletter,
        prefix=prefix,
        redaction=RedactionPolicy.from_settings(settings.capture),
        gzip=arch.gzip,
        encryption_key=key,
        roll_bytes=arch.roll_bytes,
        roll_seconds=arch.roll_seconds,
        max_event_bytes=settings.capture.max_payload_bytes,
        health=health,
        endpoint_of=ModelCatalog(
            Registry(make_redis(settings.redis), Keys(settings.redis.key_prefix))
        ).endpoint_name,
    )


@click.command("archiver")
@click.option("--destination", help="s3://bucket/prefix or a directory (archive.destination)")
@click.option("--admin-host", help="address of /healthz /readyz /metrics (archive.admin_host)")
@click.option("--admin-port", type=int, help="port of /healthz /readyz /metrics")
def command(destination: str | None, admin_host: str | None, admin_port: int | None) -> None:
    """Archive the capture topic as SageMaker capture files (JSON Lines) on S3 or disk."""
    settings = Settings()
    logs.configure(settings.log_level, settings.log_json)
    if destination:
        settings.archive = settings.archive.model_copy(update={"destination": destination})
    health = Health()
    archiver = build(settings, health)
    host = admin_host or settings.archive.admin_host
    port = settings.archive.admin_port if admin_port is None else admin_port
    admin = AdminServer(health, archiver.registry, host, port).start()
    log.info(
        "archiving %s to %s (group %s)",
        settings.topics.capture, settings.archive.destination, settings.archive.group_id,
    )  # fmt: skip
    try:
        archiver.run(StopFlag().install())
    finally:
        admin.stop()
    log.info("archiver stopped")
