"""A consumed batch of Kafka messages, split by partition with as little work per message as
the client allows (docs/decisions/0002-aggregator-throughput.md).

``Consumer.consume`` returns one ``Message`` per record, and each of its accessors is a Python
call. The aggregator's intake reads three per message and no more: ``error()`` (once over the
batch, at C level), ``partition()`` and ``value()``. librdkafka hands a partition's messages in
runs (one fetch response at a time), so a partition's messages are joined from list slices of
its runs rather than picked one by one; the offsets are read only where they are needed (the
last of each partition on the hot path, the few a dead letter or an attribution names).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import overload

import numpy as np
from confluent_kafka import Message

#: Above this many runs per message the partitions are interleaved message by message (no
#: runs to slice): pick them by index instead.
MAX_RUN_SHARE = 1 / 16


def by_partition(msgs: list[Message]) -> list[tuple[int, list[Message]]]:
    """``(partition, its messages in consume order)``, by partition number."""
    if not msgs:
        return []
    parts = np.fromiter(map(Message.partition, msgs), dtype=np.int64, count=len(msgs))
    edges = np.flatnonzero(parts[1:] != parts[:-1]) + 1
    if not len(edges):
        return [(int(parts[0]), msgs)]
    if len(edges) > len(msgs) * MAX_RUN_SHARE:
        return [
            (p, [msgs[i] for i in np.flatnonzero(parts == p).tolist()])
            for p in np.unique(parts).tolist()
        ]
    starts = [0, *edges.tolist()]
    chunks: dict[int, list[Message]] = {}
    for p, a, b in zip(parts[starts].tolist(), starts, [*starts[1:], len(msgs)], strict=True):
        chunks.setdefault(p, []).extend(msgs[a:b])
    return sorted(chunks.items())


class Offsets(Sequence[int]):
    """The offsets of a partition's messages (increasing), each read when it is asked for."""

    __slots__ = ("_msgs",)

    def __init__(self, msgs: Sequence[Message]) -> None:
        self._msgs = msgs

    def __len__(self) -> int:
        return len(self._msgs)

    @overload
    def __getitem__(self, i: int) -> int: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[int]: ...

    def __getitem__(self, i: int | slice) -> int | Sequence[int]:
        if isinstance(i, slice):
            return [_offset(m) for m in self._msgs[i]]
        return _offset(self._msgs[i])

    def __iter__(self) -> Iterator[int]:
        return map(_offset, self._msgs)


def _offset(msg: Message) -> int:
    offset = msg.offset()
    if offset is None:  # only a produced, undelivered message has none
        raise ValueError("a consumed message without an offset")
    return offset


def accepted(msgs: list[Message], first_wanted: int | None) -> list[Message]:
    """The messages at or after ``first_wanted`` (None: all), e.g. after a seek re-delivered
    some the aggregate already holds; offsets increase within a partition."""
    if first_wanted is None or _offset(msgs[0]) >= first_wanted:
        return msgs
    return [m for m in msgs if _offset(m) >= first_wanted]
