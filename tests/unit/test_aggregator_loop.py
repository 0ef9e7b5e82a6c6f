"""The aggregator's exactly-once loop driven through in-memory fakes (no Kafka, no Redis).

Each test runs the real ``Aggregator`` (intake, ownership, the fenced flush rule) against
``FakeKafka`` and ``MemoryPartitionStore`` and checks one transition: assignment resumes at
the stored offsets, revoke flushes first, a zombie's write is fenced and it resumes from the
store, lost partitions are dropped unwritten, a store outage blocks without committing, and
what cannot be profiled is dead-lettered with its source. Counts must stay exact throughout.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from confluent_kafka import KafkaError
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from modelmon.adapters.fakes import FakeConsumer, FakeKafka, FakeProducer
from modelmon.config import ModelConfig
from modelmon.events import INVALID_EVENT_CODES, DeadLetterRecord
from modelmon.registry import ModelCatalog
from modelmon.service import Health, StopFlag
from modelmon.streaming.memory import MemoryPartitionStore, MemoryRegistry
from modelmon_services.aggregator.service import (
    Aggregator,
    AggregatorOptions,
    AggregatorPorts,
    Readiness,
)

TOPIC, DEAD = "capture", "dead"
T0 = 1_767_225_600_000
SIZE_MS = 60_000


class InstantStop(StopFlag):
    """A stop flag whose waits return at once; ``after_wait`` runs on each (a test's clock)."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []
        self.after_wait = lambda: None

    def wait(self, timeout: float) -> bool:
        self.waits.append(timeout)
        self.after_wait()
        return self.is_set()


def event(model: str, i: int, t_ms: int | None = None) -> bytes:
    when = datetime.fromtimestamp((t_ms or T0 + i * 100) / 1000, UTC)
    return orjson.dumps(
        {"model_id": model, "event_time": when.isoformat().replace("+00:00", "Z"),
         "inputs": {"x": float(i % 17), "color": ["red", "blue"][i % 2]},
         "outputs": {"prediction": 1}}
    )  # fmt: skip


class Rig:
    """One topic, one store, one registry; any number of aggregators on them."""

    def __init__(self, partitions: int = 3) -> None:
        self.kafka = FakeKafka(partitions)
        self.store = MemoryPartitionStore()
        self.registry = MemoryRegistry()
        self.registry.register(
            ModelConfig.model_validate(
                {"model_id": "m1",
                 "window": {"size_seconds": SIZE_MS // 1000, "idle_timeout_seconds": 86400},
                 "features": [{"name": "x", "kind": "numeric"},
                              {"name": "color", "kind": "categorical"}]}
            )
        )  # fmt: skip
        self.produced = 0

    def produce(self, n: int, model: str = "m1") -> None:
        for _ in range(n):
            i = self.produced
            self.kafka.append(TOPIC, i % self.kafka.partitions, event(model, i), model.encode())
            self.produced += 1

    def aggregator(self) -> tuple[Aggregator, FakeConsumer, FakeProducer]:
        consumer, producer = FakeConsumer(self.kafka), FakeProducer()
        ports = AggregatorPorts(
            consumer, producer, self.store, ModelCatalog(self.registry, poll_seconds=0), DEAD
        )
        options = AggregatorOptions(TOPIC, flush_events=10**9, flush_seconds=3600)
        agg = Aggregator(
            options, ports, InstantStop(), CollectorRegistry(), Readiness(Health()),
            clock=lambda: T0 / 1000, rand=lambda: 0.5,
        )  # fmt: skip
        agg.start()
        return agg, consumer, producer

    def stored_rows(self) -> int:
        """Events the store holds, over every partition's partials."""
        total = 0
        for p, state in self.store.partitions.items():
            for ref in state.partials:
                profile = self.store.profile(p, ref)
                assert profile is not None
                total += profile.row_count
        return total


def started(rig: Rig, partitions: list[int]) -> tuple[Aggregator, FakeConsumer, FakeProducer]:
    """An aggregator assigned ``partitions`` that consumed everything there is."""
    agg, consumer, producer = rig.aggregator()
    consumer.rebalance(assign=partitions)
    drain(agg, consumer)
    return agg, consumer, producer


def drain(agg: Aggregator, consumer: FakeConsumer) -> None:
    while agg.step():
        pass


def settle(agg: Aggregator, consumer: FakeConsumer) -> None:
    """Run the loop until everything is flushed (a fenced flush seeks back: go on from there)."""
    for _ in range(10):
        drain(agg, consumer)
        agg.ownership.flush()
        if not any(a.pending for a in agg.owned.values()) and not agg.step():
            return
    raise AssertionError("the aggregator did not settle")


def test_assignment_resumes_each_partition_at_its_stored_offset() -> None:
    rig = Rig()
    rig.produce(30)
    first, consumer, _ = rig.aggregator()
    consumer.rebalance(assign=[0, 1, 2])
    assert consumer.positions == {0: 0, 1: 0, 2: 0}  # nothing stored: from the beginning
    drain(first, consumer)
    first.ownership.flush()
    assert {p: s.offset for p, s in rig.store.partitions.items()} == {0: 10, 1: 10, 2: 10}
    assert consumer.committed == {0: 10, 1: 10, 2: 10}
    rig.produce(6)
    second, consumer2, _ = rig.aggregator()
    consumer2.rebalance(assign=[0, 2])
    assert consumer2.positions == {0: 10, 2: 10}
    drain(second, consumer2)
    second.ownership.flush()
    assert {p: s.offset for p, s in rig.store.partitions.items()} == {0: 12, 1: 10, 2: 12}


def test_revoke_flushes_before_letting_go_and_the_next_owner_counts_on() -> None:
    rig = Rig()
    rig.produce(60)
    a, ca, _ = started(rig, [0, 1, 2])
    ca.rebalance(revoke=[1])  # pending state of partition 1 is written before it goes
    assert rig.store.partitions[1].offset == 20
    assert 1 not in a.owned
    b, cb, _ = rig.aggregator()
    cb.rebalance(assign=[1])
    rig.produce(30)
    drain(a, ca)
    drain(b, cb)
    a.ownership.flush()
    b.ownership.flush()
    assert rig.stored_rows() == 90  # every event once


def test_a_zombie_write_is_fenced_and_the_zombie_resumes_from_the_store() -> None:
    rig = Rig(partitions=1)
    rig.produce(10)
    zombie, cz, _ = started(rig, [0])  # 10 events pending, not flushed
    owner, co, _ = rig.aggregator()  # the group moved the partition; the zombie was not told
    co.rebalance(assign=[0])
    rig.produce(5)
    drain(owner, co)
    owner.ownership.flush()
    assert rig.store.partitions[0].offset == 15
    zombie.ownership.flush()  # refused: the store holds 15, the zombie resumed from nothing
    fenced = zombie.metrics.flushes.labels("fenced")._value.get()
    assert fenced == 1
    assert zombie.owned[0].stored_offset == 15  # reset: state from the store ...
    assert cz.positions[0] == 15  # ... and the consumer seeks there
    assert rig.stored_rows() == 15


def test_lost_partitions_are_dropped_without_writing() -> None:
    rig = Rig()
    rig.produce(30)
    agg, consumer, _ = started(rig, [0, 1, 2])
    consumer.rebalance(lose=[0, 2])
    assert rig.store.flushes == 0
    assert set(agg.owned) == {1}
    agg.ownership.flush()
    assert set(rig.store.partitions) == {1}


def test_a_store_outage_blocks_the_flush_without_committing_then_it_goes_through() -> None:
    rig = Rig(partitions=1)
    rig.produce(10)
    agg, consumer, _ = started(rig, [0])
    rig.store.down = True
    stop = agg.stop
    assert isinstance(stop, InstantStop)
    readiness: list[tuple[bool, str]] = []

    def redis_back_after_three() -> None:
        readiness.append((agg.health.ready, agg.health.detail))
        assert consumer.committed == {}  # nothing moves while the store is down
        rig.store.down = len(stop.waits) < 3

    stop.after_wait = redis_back_after_three
    agg.ownership.flush()
    assert len(stop.waits) == 3
    assert stop.waits[0] < stop.waits[1] < stop.waits[2]  # the one backoff, growing
    assert readiness[0][0] is False and "cannot flush partition 0" in readiness[0][1]
    assert agg.health.ready and consumer.committed == {0: 10}
    assert rig.stored_rows() == 10


def test_undecodable_and_unknown_model_events_are_dead_letters_with_their_source() -> None:
    rig = Rig(partitions=1)
    rig.produce(4)
    rig.kafka.append(TOPIC, 0, b"{not json")
    rig.produce(2, model="nobody")
    agg, consumer, producer = rig.aggregator()
    consumer.rebalance(assign=[0])
    drain(agg, consumer)
    agg.ownership.flush()
    records = [DeadLetterRecord.model_validate_json(v) for v in producer.values(DEAD)]
    assert sorted((r.source_offset, r.error_type) for r in records) == [
        (4, "InvalidEventError"), (5, "UnknownModelError"), (6, "UnknownModelError"),
    ]  # fmt: skip
    assert {r.source_topic for r in records} == {TOPIC}
    assert rig.stored_rows() == 4 and rig.store.partitions[0].offset == 7


def test_undelivered_dead_letters_hold_the_offsets_back() -> None:
    rig = Rig(partitions=1)
    rig.kafka.append(TOPIC, 0, b"garbage")
    agg, consumer, producer = rig.aggregator()
    consumer.rebalance(assign=[0])
    drain(agg, consumer)
    producer.unacked = 1
    stop = agg.stop
    assert isinstance(stop, InstantStop)

    def acked_after_two() -> None:
        assert 0 not in rig.store.partitions  # no offset stored past the unacked dead letter
        producer.unacked = int(len(stop.waits) < 2)

    stop.after_wait = acked_after_two
    agg.ownership.flush()
    assert rig.store.partitions[0].offset == 1


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["produce", "step", "flush", "handover", "zombie"]),
                  st.integers(1, 40)),
        max_size=25,
    )
)  # fmt: skip
def test_any_sequence_of_rebalances_counts_every_event_once(
    script: list[tuple[str, int]],
) -> None:
    """Hand-overs (revoke + assign) and zombies at any point: the store ends exact."""
    rig = Rig(partitions=2)
    current, consumer, _ = rig.aggregator()
    consumer.rebalance(assign=[0, 1])
    zombies = []
    for action, n in script:
        if action == "produce":
            rig.produce(n)
        elif action == "step":
            current.step()
        elif action == "flush":
            current.ownership.flush()
        elif action == "handover":
            consumer.rebalance(revoke=[0, 1])
            current, consumer, _ = rig.aggregator()
            consumer.rebalance(assign=[0, 1])
        else:  # the group moves on without telling the old owner, which later flushes
            zombies.append(current)
            current, consumer, _ = rig.aggregator()
            consumer.rebalance(assign=[0, 1])
    for zombie in zombies:
        zombie.ownership.flush()
    settle(current, consumer)
    assert rig.stored_rows() == rig.produced
    per_window = Counter[int]()
    for p, state in rig.store.partitions.items():
        assert state.offset == len(rig.kafka.log(TOPIC)[p])
        for ref in state.partials:
            profile = rig.store.profile(p, ref)
            assert profile is not None
            per_window[ref.start_ms] += profile.row_count
    assert sum(per_window.values()) == rig.produced


@pytest.mark.parametrize("n", [0, 1, 250])
def test_a_batch_larger_than_the_consume_size_is_taken_in_steps(n: int) -> None:
    rig = Rig(partitions=1)
    rig.produce(n)
    agg, consumer, _ = rig.aggregator()
    consumer.rebalance(assign=[0])
    drain(agg, consumer)
    agg.ownership.flush()
    assert rig.stored_rows() == n


def test_a_dead_letter_whose_delivery_failed_is_sent_again_before_any_offset_moves() -> None:
    rig = Rig(partitions=1)
    rig.kafka.append(TOPIC, 0, b"x" * 300_000)  # not JSON, and large: the record is capped
    agg, consumer, producer = rig.aggregator()
    producer.delivery_errors = [KafkaError(KafkaError.MSG_SIZE_TOO_LARGE)]  # refused once
    consumer.rebalance(assign=[0])
    drain(agg, consumer)
    stop = agg.stop
    assert isinstance(stop, InstantStop)
    stop.after_wait = lambda: None
    agg.ownership.flush()
    assert len(stop.waits) == 1  # one retry after the refused delivery
    records = [DeadLetterRecord.model_validate_json(v) for v in producer.values(DEAD)]
    assert len(records) == 2  # the refused one and its re-send (same record)
    assert records[0].event_id == records[1].event_id
    record = records[-1]
    assert record.original_truncated and record.original_size == 300_000
    assert record.code in INVALID_EVENT_CODES and record.source_offset == 0
    assert len(producer.values(DEAD)[-1]) < 100_000
    assert rig.store.partitions[0].offset == 1


def test_a_corrupt_stored_partial_is_dead_lettered_and_the_partition_rebuilt() -> None:
    rig = Rig(partitions=1)
    rig.produce(20)
    first, _, _ = started(rig, [0])
    first.ownership.flush()
    [ref] = rig.store.partitions[0].partials
    close, _ = rig.store.partitions[0].partials[ref]
    rig.store.partitions[0].partials[ref] = (close, b"\x00garbage")  # a corrupt blob
    rig.produce(5)
    second, consumer2, producer2 = rig.aggregator()
    consumer2.rebalance(assign=[0])  # no crash: dead letter, clear, replay from the beginning
    assert consumer2.positions == {0: 0}
    assert second.metrics.rebuilds._value.get() == 1
    [record] = [DeadLetterRecord.model_validate_json(v) for v in producer2.values(DEAD)]
    assert (record.code, record.source_partition, record.source_offset) == ("corrupt_state", 0, 20)
    settle(second, consumer2)
    assert rig.stored_rows() == 25 and rig.store.partitions[0].offset == 25


@given(st.lists(st.booleans(), min_size=1, max_size=30))
@settings(max_examples=20, deadline=None)
def test_input_a_decoder_cannot_handle_is_a_dead_letter_and_the_rest_is_counted(
    poison: list[bool],
) -> None:
    """Whatever error a decoder raises on some input class, those messages (and only they)
    are dead letters; the aggregator goes on and counts every other event."""
    import modelmon_services.aggregator.intake as intake

    real = intake.decode_batch

    def breaks_on_poison(values: Any) -> Any:
        if any(v is not None and b"POISON" in v for v in values):
            raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "a class of input nobody caught")
        return real(values)

    rig = Rig(partitions=1)
    for i, bad in enumerate(poison):
        payload = event("m1", i).replace(b'"outputs"', b'"POISON":1,"outputs"', 1 if bad else 0)
        rig.kafka.append(TOPIC, 0, payload)  # unkeyed: the generic decoder
    original, intake.decode_batch = intake.decode_batch, breaks_on_poison
    try:
        agg, consumer, producer = started(rig, [0])
        settle(agg, consumer)
    finally:
        intake.decode_batch = original
    records = [DeadLetterRecord.model_validate_json(v) for v in producer.values(DEAD)]
    assert sorted(r.source_offset for r in records) == [i for i, b in enumerate(poison) if b]
    assert {r.code for r in records} <= INVALID_EVENT_CODES
    assert rig.stored_rows() == poison.count(False)
    assert rig.store.partitions[0].offset == len(poison)
