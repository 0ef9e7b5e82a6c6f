"""services/aggregator/messages.py: a consumed batch split by partition, offsets read lazily."""

from __future__ import annotations

from confluent_kafka import Message
from hypothesis import given
from hypothesis import strategies as st

from modelmon_services.aggregator.messages import Offsets, accepted, by_partition

# runs of one partition (as librdkafka hands them), or partitions interleaved message by message
RUNS = st.lists(st.tuples(st.integers(0, 5), st.integers(1, 40)), max_size=30)


def consumed(runs: list[tuple[int, int]]) -> list[Message]:
    """Messages in consume order; each partition's offsets increase from 100."""
    nxt: dict[int, int] = {}
    out = []
    for p, n in runs:
        for _ in range(n):
            o = nxt.setdefault(p, 100)
            nxt[p] = o + 1
            out.append(Message(topic="t", partition=p, offset=o, value=f"{p}:{o}".encode()))
    return out


def reference(msgs: list[Message]) -> list[tuple[int, list[bytes | None]]]:
    parts = sorted({m.partition() for m in msgs})  # type: ignore[type-var]
    return [(p, [m.value() for m in msgs if m.partition() == p]) for p in parts]  # type: ignore[misc]


@given(RUNS)
def test_by_partition_is_each_partitions_messages_in_order(runs: list[tuple[int, int]]) -> None:
    msgs = consumed(runs)
    got = [(p, [m.value() for m in chunk]) for p, chunk in by_partition(msgs)]
    assert got == reference(msgs)


@given(st.lists(st.integers(0, 3), max_size=200))
def test_by_partition_interleaved_message_by_message(parts: list[int]) -> None:
    msgs = consumed([(p, 1) for p in parts])
    got = [(p, [m.value() for m in chunk]) for p, chunk in by_partition(msgs)]
    assert got == reference(msgs)


@given(RUNS, st.integers(0, 80))
def test_offsets_and_accepted(runs: list[tuple[int, int]], skip: int) -> None:
    for _, chunk in by_partition(consumed(runs)):
        offsets = Offsets(chunk)
        expected = [m.offset() for m in chunk]
        assert list(offsets) == expected
        assert [offsets[i] for i in range(len(chunk))] == expected
        assert offsets[-1] == expected[-1] and list(offsets[1:3]) == expected[1:3]
        wanted = 100 + skip
        assert [m.offset() for m in accepted(chunk, wanted)] == [o for o in expected if o >= wanted]
        assert accepted(chunk, None) is chunk
