"""``modelmon run archiver``: wiring from Settings to the loop."""

from __future__ import annotations

import logging

from modelmon.adapters.kafka import make_consumer, make_producer
from modelmon.adapters.lag import watch_lag
from modelmon.adapters.redis import make_redis
from modelmon.archive.codec import load_key
from modelmon.archive.store import open_store
from modelmon.keys import Keys
from modelmon.redaction import RedactionPolicy
from modelmon.registry import ModelCatalog, Registry
from modelmon.runtime import Loop, Runtime, service_command

from .service import Archiver

log = logging.getLogger(__name__)


def build(rt: Runtime) -> Loop:
    settings, arch = rt.settings, rt.settings.archiver
    store, prefix = open_store(settings, arch.destination)
    key = load_key(arch.encryption_key.get_secret_value()) if arch.encryption_key else None
    archiver = Archiver(
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
        registry=rt.registry,
        health=rt.health,
        endpoint_of=ModelCatalog(
            Registry(make_redis(settings.redis), Keys(settings.redis.key_prefix))
        ).endpoint_name,
    )
    watch_lag(rt.registry, settings.kafka, (arch.group_id, [settings.topics.capture]))
    log.info(
        "archiving %s to %s (group %s)", settings.topics.capture, arch.destination, arch.group_id
    )
    return Loop(rt.health, archiver.run, rt.stop)


command = service_command(
    "archiver",
    build,
    help="Archive the capture topic as SageMaker capture files (JSON Lines) on S3 or disk.",
)
