"""The registry's backup: every model config and baseline also goes to a compacted Kafka topic
(``modelmon.registry.v1``, key ``config/<model>`` or ``baseline/<model>``), and
``modelmon rebuild`` restores them into an empty Redis (issue 19).

Redis is the registry's home, and its partition state is derived from the capture topic; the
configs and baselines are not derived from anything, so they get a durable copy. Compaction
keeps the last record per key for ever (``cleanup.policy=compact``), so the topic holds exactly
the current registry however long ago a model was registered.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import orjson
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from modelmon.config import ModelConfig
from modelmon.errors import DependencyUnavailableError
from modelmon.registry import Registry, pack_baseline, unpack_baseline

log = logging.getLogger(__name__)

TOPIC_CONFIG = {"cleanup.policy": "compact", "min.compaction.lag.ms": "0"}


def config_record(config: ModelConfig) -> tuple[bytes, bytes]:
    return f"config/{config.model_id}".encode(), config.model_dump_json().encode()


def baseline_record(model_id: str, files: Mapping[str, bytes], source: str) -> tuple[bytes, bytes]:
    blob = base64.b64encode(pack_baseline(files)).decode()
    return f"baseline/{model_id}".encode(), orjson.dumps({"source": source, "blob": blob})


def ensure_topic(admin: AdminClient, topic: str, replication: int = 1) -> None:
    """Create the compacted topic when it is missing."""
    try:
        if topic in admin.list_topics(timeout=10).topics:
            return
        futures = admin.create_topics([NewTopic(topic, 1, replication, config=TOPIC_CONFIG)])
        futures[topic].result(30)
    except KafkaException as exc:
        if "TOPIC_ALREADY_EXISTS" not in str(exc):
            raise DependencyUnavailableError(f"could not create {topic}: {exc}") from exc


def write(producer: Producer, topic: str, records: Iterable[tuple[bytes, bytes]]) -> None:
    """Produce the records and wait for the broker's acknowledgement."""
    failures: list[str] = []

    def delivered(err: object, _msg: object) -> None:
        if err is not None:
            failures.append(str(err))

    for key, value in records:
        producer.produce(topic, value, key, on_delivery=delivered)
    if producer.flush(30) or failures:
        raise DependencyUnavailableError(f"registry backup not written to {topic}: {failures}")


@dataclass
class Restored:
    configs: list[str] = field(default_factory=list)
    baselines: list[str] = field(default_factory=list)


def read_all(consumer: Consumer, topic: str) -> dict[bytes, bytes | None]:
    """The last value of every key in the topic (None: deleted), read to its end."""
    try:
        meta = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if meta is None or meta.error is not None:
            return {}
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                for p in meta.partitions}  # fmt: skip
        consumer.assign([TopicPartition(topic, p, low) for p, (low, _) in ends.items()])
        latest: dict[bytes, bytes | None] = {}
        left = {p for p, (low, high) in ends.items() if high > low}
        while left:
            for msg in consumer.consume(500, 1.0):
                if msg.error() is not None:
                    continue
                latest[msg.key() or b""] = msg.value()
                if (msg.offset() or 0) + 1 >= ends[msg.partition() or 0][1]:
                    left.discard(msg.partition() or 0)
        return latest
    except KafkaException as exc:
        raise DependencyUnavailableError(f"Kafka did not answer: {exc}") from exc


def restore(
    latest: Mapping[bytes, bytes | None], registry: Registry, progress: Callable[[str], None]
) -> Restored:
    """Register every config, then push every baseline (the model must exist first)."""
    done = Restored()
    for key, value in sorted(latest.items()):
        if value is not None and key.startswith(b"config/"):
            registry.register(ModelConfig.model_validate_json(value))
            done.configs.append(key.decode()[7:])
            progress(f"config {key.decode()[7:]}")
    for key, value in sorted(latest.items()):
        if value is not None and key.startswith(b"baseline/"):
            doc = orjson.loads(value)
            files = unpack_baseline(base64.b64decode(doc["blob"]))
            registry.push_baseline(key.decode()[9:], files, source=doc["source"])
            done.baselines.append(key.decode()[9:])
            progress(f"baseline {key.decode()[9:]}")
    return done
