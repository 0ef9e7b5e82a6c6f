"""The archiver never commits past a dead letter the broker did not acknowledge (in memory)."""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka import KafkaError, TopicPartition

from modelmon.adapters.fakes import FakeConsumer, FakeKafka, FakeProducer
from modelmon.archive.store import open_store
from modelmon.errors import TransientError
from modelmon.events import INVALID_EVENT_CODES, DeadLetterRecord
from modelmon.settings import Settings
from modelmon_services.archiver.service import Archiver


def test_a_refused_dead_letter_is_sent_again_before_the_offset_is_committed(
    tmp_path: Path,
) -> None:
    kafka = FakeKafka(partitions=1)
    kafka.append("capture", 0, b"{not an event" + b"x" * 200_000)
    consumer, producer = FakeConsumer(kafka), FakeProducer()
    producer.delivery_errors = [KafkaError(KafkaError.MSG_SIZE_TOO_LARGE)]
    store, prefix = open_store(Settings(), str(tmp_path))
    archiver = Archiver(
        consumer, producer, store, topic="capture", deadletter_topic="dead", prefix=prefix
    )
    consumer.subscribe(["capture"])
    consumer.assign([TopicPartition("capture", 0, 0)])
    archiver.handle(consumer.consume(10))
    with pytest.raises(TransientError, match="not acknowledged"):
        archiver.flush([0])
    assert consumer.committed == {}
    archiver.flush([0])
    assert consumer.committed == {0: 1}
    first, again = (DeadLetterRecord.model_validate_json(v) for v in producer.values("dead"))
    assert first.event_id == again.event_id and again.code in INVALID_EVENT_CODES
    assert again.original_truncated and again.original_size == 200_013
